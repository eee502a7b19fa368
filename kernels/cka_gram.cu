// The per-layer step of CKA on the GPU, for every layer of a batch in one launch each: column means, then the
// fused Gram. CPU twins: cka/gram.cpp (column_means, centred_operands, linear_gram) and cka/centering.cpp.
//
// Fused Gram, per work item (layer, upper-triangle tile (ti, tj) of 128 x 128, k-slice):
// - mainloop: 128 x 32 tiles of rows ti and tj of X go through registers into shared memory (two stages, one
//   barrier per k-tile), centred on the way (x - mu: the column centring costs no pass over X) and, for the
//   TF32 variant, rounded to TF32 once per element. Eight warps of 64 x 32 outputs each: mma.sync m16n8k8
//   TF32 tensor-core products, or for the exact variant FP32 FMAs over the same register layout (so the
//   epilogue is shared). Diagonal tiles load one operand tile only.
// - split-K: each slice writes its partial tile to the workspace; the last slice to arrive (a counter per
//   tile) sums all partials in slice order, so the result does not depend on which slice finished last.
// - epilogue: the tile goes through shared memory: its strict upper part (and diagonal) into the packed row,
//   its row and column sums (float64) beside it. The last tile of a layer to finish sums those into the
//   Gram's row sums and computes the layer's centring offsets; cka_center_packed (cka_center.cu) applies
//   them. Row sums of the computed Gram itself, as the CPU path takes them, rather than X(X^T 1) from a
//   separate pass over X: the same centring for one read of X fewer.
#include "engine/cuda/check.h"
#include "kernels/common.cuh"
#include "kernels/kernels.h"
#include "kernels/launch.cuh"
#include "kernels/ptx.cuh"

namespace biascka::kernels {

namespace {

constexpr int kTile = kCkaTile;
constexpr int kTk = kCkaTileK;
constexpr int kLd = kTk + 4;       // smem row stride: conflict-free fragment loads and float4 stores
constexpr int kGramThreads = 256;  // 8 warps: 2 (rows) x 4 (columns) of 64 x 32 outputs
constexpr int kOperandFloats = kTile * kLd;
constexpr int kGramSmemBytes = 2 * 2 * kOperandFloats * static_cast<int>(sizeof(float));  // stages x operands
constexpr int kEpiLd = kTile + 1;  // epilogue tile stride: conflict-free row and column walks
constexpr int kTileFloats = kTile * kTile;
static_assert(kTile * kEpiLd * sizeof(float) <= static_cast<size_t>(kGramSmemBytes), "epilogue tile fits");
static_assert(kTile * kTk / 4 == 4 * kGramThreads, "four float4 per thread per operand tile");

// Index of upper-triangle tile (ti, tj), ti <= tj, counted row by row.
__device__ __forceinline__ int tile_index(int ti, int tj, int t) {
  return ti * t - ti * (ti - 1) / 2 + (tj - ti);
}

// The layer of grouped-launch entry `v`: the last one whose `Key` offset is <= v.
template <class F>
__device__ __forceinline__ int find_layer(const CkaGramBatch& b, int64_t v, F key) {
  int lo = 0, hi = b.count - 1;
  while (lo < hi) {
    const int mid = (lo + hi + 1) >> 1;
    if (key(b.layers[mid]) <= v)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

// ---- column means ----

// One thread per column of the padded column space; consecutive threads read consecutive columns of a row.
__global__ void column_means_kernel(const __grid_constant__ CkaGramBatch b) {
  BIASCKA_GRID_STRIDE(c, b.total_cols) {
    const int li = find_layer(b, c, [](const CkaGramLayer& l) { return l.col_offset; });
    const float* x = b.layers[li].x;
    const int64_t d = b.layers[li].d, k = c - b.layers[li].col_offset;
    if (k >= d) continue;  // padding between layers
    const float* p = x + k;
    double s[4] = {0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 4 <= b.n; i += 4) {
#pragma unroll
      for (int q = 0; q < 4; ++q) s[q] += __ldg(p + (i + q) * d);
    }
    // The remainder in the same interleaving (constant register indices).
    if (i < b.n) s[0] += __ldg(p + i * d);
    if (i + 1 < b.n) s[1] += __ldg(p + (i + 1) * d);
    if (i + 2 < b.n) s[2] += __ldg(p + (i + 2) * d);
    b.mu[c] = static_cast<float>(((s[0] + s[1]) + (s[2] + s[3])) / static_cast<double>(b.n));
  }
}

// ---- fused Gram ----

struct Operand {
  const float* x;
  const float* mu;
  int64_t n, d;
  bool vec;  // d % 4 == 0 and x 16-byte aligned: float4 loads
};

// Rows [row0, row0 + 128) x columns [k0, k0 + 32) of the centred operand into registers (zero outside X).
template <bool kTf32>
__device__ __forceinline__ void load_tile(float4 (&v)[4], const Operand& op, int64_t row0, int64_t k0) {
#pragma unroll
  for (int q = 0; q < 4; ++q) {
    const int idx = threadIdx.x + q * kGramThreads;
    const int64_t row = row0 + (idx >> 3), col = k0 + (idx & 7) * 4;
    float4 o = make_float4(0.f, 0.f, 0.f, 0.f);
    if (row < op.n) {
      const float* p = op.x + row * op.d + col;
      if (op.vec) {
        if (col < op.d) {
          const float4 xv = __ldg(reinterpret_cast<const float4*>(p));
          const float4 m = __ldg(reinterpret_cast<const float4*>(op.mu + col));
          o = make_float4(xv.x - m.x, xv.y - m.y, xv.z - m.z, xv.w - m.w);
        }
      } else {
        float e[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll
        for (int j = 0; j < 4; ++j)
          if (col + j < op.d) e[j] = __ldg(p + j) - __ldg(op.mu + col + j);
        o = make_float4(e[0], e[1], e[2], e[3]);
      }
    }
    if (kTf32)
      o = make_float4(ptx::cvt_rna_tf32(o.x), ptx::cvt_rna_tf32(o.y), ptx::cvt_rna_tf32(o.z),
                      ptx::cvt_rna_tf32(o.w));
    v[q] = o;
  }
}

__device__ __forceinline__ void store_tile(float* s, const float4 (&v)[4]) {
#pragma unroll
  for (int q = 0; q < 4; ++q) {
    const int idx = threadIdx.x + q * kGramThreads;
    *reinterpret_cast<float4*>(s + (idx >> 3) * kLd + (idx & 7) * 4) = v[q];
  }
}

// acc[mi][ni][h * 2 + e] is output (wm*64 + mi*16 + g + 8h, wn*32 + ni*8 + 2t + e): mma.sync's C fragment.
template <bool kTf32>
__device__ __forceinline__ void compute_tile(float (&acc)[4][4][4], const float* as, const float* bs, int wm,
                                             int wn, int g, int t) {
  if constexpr (kTf32) {
#pragma unroll
    for (int ks = 0; ks < kTk; ks += 8) {
      uint32_t a[4][4], bf[4][2];
#pragma unroll
      for (int mi = 0; mi < 4; ++mi) {
        const float* p = as + (wm * 64 + mi * 16 + g) * kLd + ks + t;
        a[mi][0] = __float_as_uint(p[0]);
        a[mi][1] = __float_as_uint(p[8 * kLd]);
        a[mi][2] = __float_as_uint(p[4]);
        a[mi][3] = __float_as_uint(p[8 * kLd + 4]);
      }
#pragma unroll
      for (int ni = 0; ni < 4; ++ni) {
        const float* p = bs + (wn * 32 + ni * 8 + g) * kLd + ks + t;
        bf[ni][0] = __float_as_uint(p[0]);
        bf[ni][1] = __float_as_uint(p[4]);
      }
#pragma unroll
      for (int mi = 0; mi < 4; ++mi)
#pragma unroll
        for (int ni = 0; ni < 4; ++ni) ptx::mma_m16n8k8_tf32(acc[mi][ni], a[mi], bf[ni]);
    }
  } else {
#pragma unroll
    for (int kq = 0; kq < kTk; kq += 4) {
      float4 a[4][2], bv[4][2];
#pragma unroll
      for (int mi = 0; mi < 4; ++mi)
#pragma unroll
        for (int h = 0; h < 2; ++h)
          a[mi][h] = *reinterpret_cast<const float4*>(as + (wm * 64 + mi * 16 + h * 8 + g) * kLd + kq);
#pragma unroll
      for (int ni = 0; ni < 4; ++ni)
#pragma unroll
        for (int e = 0; e < 2; ++e)
          bv[ni][e] = *reinterpret_cast<const float4*>(bs + (wn * 32 + ni * 8 + 2 * t + e) * kLd + kq);
#pragma unroll
      for (int kk = 0; kk < 4; ++kk)
#pragma unroll
        for (int mi = 0; mi < 4; ++mi)
#pragma unroll
          for (int h = 0; h < 2; ++h) {
            const float4& av = a[mi][h];
            const float x = kk == 0 ? av.x : kk == 1 ? av.y : kk == 2 ? av.z : av.w;
#pragma unroll
            for (int ni = 0; ni < 4; ++ni)
#pragma unroll
              for (int e = 0; e < 2; ++e) {
                const float4& bw = bv[ni][e];
                const float y = kk == 0 ? bw.x : kk == 1 ? bw.y : kk == 2 ? bw.z : bw.w;
                acc[mi][ni][h * 2 + e] = fmaf(x, y, acc[mi][ni][h * 2 + e]);
              }
          }
    }
  }
}

template <bool kTf32>
__global__ void __launch_bounds__(kGramThreads, 1) fused_gram_kernel(const __grid_constant__ CkaGramBatch b) {
  float* smem = dynamic_smem<float>();
  __shared__ double red[kGramThreads];
  __shared__ int flag;

  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int wm = warp >> 2, wn = warp & 3, g = lane >> 2, t = lane & 3;
  const int item = blockIdx.x;
  const int li =
      find_layer(b, item, [](const CkaGramLayer& l) { return static_cast<int64_t>(l.item_offset); });
  const CkaGramLayer layer = b.layers[li];
  const int nt = b.tiles_1d, tiles = b.tiles;
  const int local = item - layer.item_offset;
  const int split = local / tiles, tile = local % tiles;
  int ti = 0, rem = tile;
  while (rem >= nt - ti) {
    rem -= nt - ti;
    ++ti;
  }
  const int tj = ti + rem;
  const bool diag = ti == tj;
  const int64_t n = b.n;

  // ---- mainloop over this slice's k-tiles ----
  const Operand op{layer.x, b.mu + layer.col_offset, n, layer.d, layer.d % 4 == 0 && aligned_to(16, layer.x)};
  const int64_t kt_total = (layer.d + kTk - 1) / kTk;
  const int64_t kt0 = static_cast<int64_t>(split) * layer.k_tiles_per_split;
  const int64_t kt1 = min(kt_total, kt0 + layer.k_tiles_per_split);
  const int64_t row_a = static_cast<int64_t>(ti) * kTile, row_b = static_cast<int64_t>(tj) * kTile;

  float acc[4][4][4];
#pragma unroll
  for (int mi = 0; mi < 4; ++mi)
#pragma unroll
    for (int ni = 0; ni < 4; ++ni)
#pragma unroll
      for (int c = 0; c < 4; ++c) acc[mi][ni][c] = 0.f;

  float4 ra[4], rb[4];
  load_tile<kTf32>(ra, op, row_a, kt0 * kTk);
  if (!diag) load_tile<kTf32>(rb, op, row_b, kt0 * kTk);
  store_tile(smem, ra);
  if (!diag) store_tile(smem + kOperandFloats, rb);
  __syncthreads();
  for (int64_t kt = kt0; kt < kt1; ++kt) {
    float* stage = smem + ((kt - kt0) & 1) * 2 * kOperandFloats;
    float* next = smem + (((kt - kt0) & 1) ^ 1) * 2 * kOperandFloats;
    const bool more = kt + 1 < kt1;
    if (more) {  // next tile's loads in flight during this tile's products
      load_tile<kTf32>(ra, op, row_a, (kt + 1) * kTk);
      if (!diag) load_tile<kTf32>(rb, op, row_b, (kt + 1) * kTk);
    }
    compute_tile<kTf32>(acc, stage, diag ? stage : stage + kOperandFloats, wm, wn, g, t);
    if (more) {
      store_tile(next, ra);
      if (!diag) store_tile(next + kOperandFloats, rb);
    }
    __syncthreads();
  }

  int32_t* counters = b.counters + static_cast<int64_t>(li) * (tiles + 1);
  // ---- split-K: partials to the workspace; the last slice sums them all in slice order ----
  if (layer.splits > 1) {
    float4* ws = reinterpret_cast<float4*>(b.workspace) +
                 (static_cast<int64_t>(layer.ws_offset) + local) * (kTileFloats / 4);
#pragma unroll
    for (int mi = 0; mi < 4; ++mi)
#pragma unroll
      for (int ni = 0; ni < 4; ++ni)
        ws[(mi * 4 + ni) * kGramThreads + tid] =
            make_float4(acc[mi][ni][0], acc[mi][ni][1], acc[mi][ni][2], acc[mi][ni][3]);
    __threadfence();
    __syncthreads();
    if (tid == 0) {
      const int prev = atomicAdd(&counters[tile], 1);
      flag = prev == layer.splits - 1;
      if (flag) counters[tile] = 0;  // every slice has arrived: ready for the next launch
    }
    __syncthreads();
    if (!flag) return;
    __threadfence();
#pragma unroll
    for (int mi = 0; mi < 4; ++mi)
#pragma unroll
      for (int ni = 0; ni < 4; ++ni)
#pragma unroll
        for (int c = 0; c < 4; ++c) acc[mi][ni][c] = 0.f;
    for (int s = 0; s < layer.splits; ++s) {
      const float4* p = reinterpret_cast<const float4*>(b.workspace) +
                        (static_cast<int64_t>(layer.ws_offset) + static_cast<int64_t>(s) * tiles + tile) *
                            (kTileFloats / 4);
#pragma unroll
      for (int mi = 0; mi < 4; ++mi)
#pragma unroll
        for (int ni = 0; ni < 4; ++ni) {
          const float4 v = __ldcg(p + (mi * 4 + ni) * kGramThreads + tid);
          acc[mi][ni][0] += v.x;
          acc[mi][ni][1] += v.y;
          acc[mi][ni][2] += v.z;
          acc[mi][ni][3] += v.w;
        }
    }
  }

  // ---- epilogue: the tile through shared memory (the mainloop's last barrier freed it) ----
  float* tt = smem;
#pragma unroll
  for (int mi = 0; mi < 4; ++mi)
#pragma unroll
    for (int ni = 0; ni < 4; ++ni)
#pragma unroll
      for (int c = 0; c < 4; ++c)
        tt[(wm * 64 + mi * 16 + g + 8 * (c >> 1)) * kEpiLd + wn * 32 + ni * 8 + 2 * t + (c & 1)] =
            acc[mi][ni][c];
  __syncthreads();

  float* out = b.g + static_cast<int64_t>(li) * b.ld;
  double* stats = b.stats + static_cast<int64_t>(li) * b.stats_stride;
  double* tile_sums = stats;                                           // [tiles][2][kTile]
  double* diagonal = stats + static_cast<int64_t>(tiles) * 2 * kTile;  // [n]
  double* offsets = diagonal + n;                                      // [n]
  const int64_t tail = n * (n - 1) / 2;
  for (int idx = tid; idx < kTileFloats; idx += kGramThreads) {
    const int r = idx / kTile, c = idx % kTile;
    const int64_t i = row_a + r, j = row_b + c;
    if (i >= n || j >= n || j < i) continue;
    const float v = tt[r * kEpiLd + c];
    if (j > i) {
      out[i * n - i * (i + 1) / 2 + (j - i - 1)] = v;
    } else {
      diagonal[i] = v;
      if (!b.unbiased) out[tail + i] = v;
    }
  }
  // Row sums of rows ti (columns tj) and, off the diagonal, column sums (rows tj of the symmetric Gram). A
  // diagonal tile's sums use its upper triangle only: the symmetric matrix whose upper part was stored.
  // Rows and columns beyond n are zero.
  {
    double s = 0;
    if (tid < kTile) {
      const int r = tid;
      if (diag) {
        for (int c = 0; c < kTile; ++c) s += c >= r ? tt[r * kEpiLd + c] : tt[c * kEpiLd + r];
      } else {
        for (int c = 0; c < kTile; ++c) s += tt[r * kEpiLd + c];
      }
    } else if (!diag) {
      const int c = tid - kTile;
      for (int r = 0; r < kTile; ++r) s += tt[r * kEpiLd + c];
    }
    tile_sums[static_cast<int64_t>(tile) * 2 * kTile + tid] = s;
  }

  // ---- the layer's last tile: row sums of the whole Gram -> centring offsets ----
  __threadfence();
  __syncthreads();
  if (tid == 0) {
    const int prev = atomicAdd(&counters[tiles], 1);
    flag = prev == tiles - 1;
    if (flag) counters[tiles] = 0;
  }
  __syncthreads();
  if (!flag) return;
  __threadfence();
  double part = 0;
  for (int64_t i = tid; i < n; i += kGramThreads) {
    const int ri = static_cast<int>(i / kTile), r = static_cast<int>(i % kTile);
    double s = 0;
    for (int c = ri; c < nt; ++c)
      s += __ldcg(tile_sums + static_cast<int64_t>(tile_index(ri, c, nt)) * 2 * kTile + r);
    for (int c = 0; c < ri; ++c)
      s += __ldcg(tile_sums + static_cast<int64_t>(tile_index(c, ri, nt)) * 2 * kTile + kTile + r);
    if (b.unbiased) s -= __ldcg(diagonal + i);  // U-centring zeroes the diagonal first
    offsets[i] = s;
    part += s;
  }
  red[tid] = part;
  __syncthreads();
  for (int w = kGramThreads / 2; w > 0; w >>= 1) {
    if (tid < w) red[tid] += red[tid + w];
    __syncthreads();
  }
  const double total = red[0], dn = static_cast<double>(n);
  // Unbiased: K~_ij - r_i/(n-2) - r_j/(n-2) + sum(r)/((n-1)(n-2)); biased: K_ij - r_i/n - r_j/n + sum(r)/n^2,
  // each written as K_ij - m_i - m_j (cka/centering.cpp centring_offsets).
  const double den = b.unbiased ? dn - 2 : dn;
  const double shift = b.unbiased ? total / (2.0 * (dn - 1) * (dn - 2)) : total / (2.0 * dn * dn);
  for (int64_t i = tid; i < n; i += kGramThreads) offsets[i] = offsets[i] / den - shift;
}

template <bool kTf32>
void launch_fused_gram(const CkaGramBatch& b, cudaStream_t s) {
  void (*const kernel)(CkaGramBatch) = fused_gram_kernel<kTf32>;
  // More than 48 KB of dynamic shared memory needs the opt-in (per device; cheap to repeat).
  BIASCKA_CUDA_CHECK(cudaFuncSetAttribute(reinterpret_cast<const void*>(kernel),
                                          cudaFuncAttributeMaxDynamicSharedMemorySize, kGramSmemBytes));
  launch(kTf32 ? "cka_fused_gram<tf32>" : "cka_fused_gram<fp32>", kernel, b.items, kGramThreads,
         kGramSmemBytes, s, b);
}

}  // namespace

void cka_column_means(const CkaGramBatch& b, cudaStream_t s) {
  if (b.count == 0 || b.total_cols == 0) return;
  launch("cka_column_means", column_means_kernel, blocks_for(b.total_cols), kThreads, 0, s, b);
}

void cka_fused_gram(const CkaGramBatch& b, cudaStream_t s) {
  if (b.count == 0 || b.items == 0) return;
  if (b.tf32)
    launch_fused_gram<true>(b, s);
  else
    launch_fused_gram<false>(b, s);
}

}  // namespace biascka::kernels
