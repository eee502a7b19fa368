// Batch normalisation over [m, c] channels-last. CPU twins: engine/ops/cpu/batch_norm.cpp; the per-channel
// finalisation is kernels/batch_norm_math.h, shared with them.
//
// The per-channel sums (forward: x and x^2; backward: dy and dy * xhat) are taken in double, as the CPU
// twin does, and without float atomics, so results are reproducible run to run:
//   pass 1  a 2-D grid of blocks, each over a tile of channels and a range of rows, reduces its rows in a
//           fixed order and writes one partial per channel;
//   pass 2  one block per channel adds the partials in a fixed tree and finalises the statistics;
//   pass 3  an elementwise pass normalises (forward) or forms dx (backward).
// Rows are contiguous channel vectors, so a warp reads whole row segments (float4 when the channel count
// and pointers allow): one layout serves both m large / c = 64 (the stem at 224 px) and m small / c = 512.
//
// The partials (16 bytes per channel and block) live in the caller's scratch (batch_norm_scratch_doubles
// says how much). When a single block covers all rows, the scratch is missing or too small, or backward
// cannot take the split path (dx not wanted, or dgamma/dbeta missing where pass 3 needs their sums), one
// block per channel tile does all three passes (exact, but slow for large m).
#include <cmath>

#include "kernels/batch_norm_math.h"
#include "kernels/common.cuh"
#include "kernels/error.h"
#include "kernels/kernels.h"
#include "kernels/launch.cuh"

namespace biascka::kernels {

namespace {

constexpr int kMaxGroups = 32;            // channel groups per tile: a warp spans at most one tile row
constexpr int kMaxTile = kMaxGroups * 4;  // channels per tile (V = 4)
constexpr int64_t kMinRowsPerBlock = 32;  // rows per pass-1 block at least: few partials per channel
constexpr int kReduceBlocksPerSm = 4;     // pass 1: enough blocks to fill the GPU, few partials
constexpr int kApplyBlocksPerSm = 8;
constexpr int kCombineThreads = 256;

// Thread layout of passes 1 and 3: thread t of a block handles channel group t % groups (V channels) of
// the block's tile and rows lane, lane + lanes, ... of its row range.
struct Geometry {
  int v = 1;
  int groups = 1;
  int lanes = 1;
  int64_t tiles = 1;
  int64_t tile_channels() const { return int64_t(groups) * v; }
};

Geometry geometry(int64_t c, int v) {
  Geometry g;
  g.v = v;
  g.groups = static_cast<int>(std::min<int64_t>((c + v - 1) / v, kMaxGroups));
  g.lanes = kThreads / g.groups;
  g.tiles = (c + g.tile_channels() - 1) / g.tile_channels();
  return g;
}

// ---- what pass 1 sums, per channel: (a, b) ----

// Forward: (x, x^2).
template <int V>
struct ForwardTerms {
  const float* x;
  __device__ void init(int64_t) {}
  __device__ void add(int64_t off, double* a, double* b) const {
    const FloatVec<V> xv = load_vec<V>(x + off);
#pragma unroll
    for (int k = 0; k < V; ++k) {
      a[k] += xv.v[k];
      b[k] += double(xv.v[k]) * xv.v[k];
    }
  }
};

// Backward: (dy, dy * xhat) with xhat = (x - mean) * invstd rounded to float, as the CPU twin.
template <int V>
struct BackwardTerms {
  const float *dy, *x, *mean, *invstd;
  float mu[V], is[V];
  __device__ void init(int64_t j) {
#pragma unroll
    for (int k = 0; k < V; ++k) {
      mu[k] = mean[j + k];
      is[k] = invstd[j + k];
    }
  }
  __device__ void add(int64_t off, double* a, double* b) const {
    const FloatVec<V> g = load_vec<V>(dy + off), xv = load_vec<V>(x + off);
#pragma unroll
    for (int k = 0; k < V; ++k) {
      const float xhat = (xv.v[k] - mu[k]) * is[k];
      a[k] += g.v[k];
      b[k] += double(g.v[k]) * xhat;
    }
  }
};

// Sums this block's rows [r0, r1) for the channels of tile blockIdx.x. On return (all threads past a
// barrier) tot[0][t], tot[1][t] hold the sums of channel blockIdx.x * tile + t. Fixed order throughout.
template <int V, class Terms>
__device__ void block_channel_sums(Terms terms, int64_t c, int groups, int lanes, int64_t r0, int64_t r1,
                                   double (*tot)[kMaxTile]) {
  __shared__ double lane_sums[2][kThreads * 4];
  const int tile = groups * V;
  const int g = threadIdx.x % groups, lane = threadIdx.x / groups;
  const int64_t j = int64_t(blockIdx.x) * tile + g * V;
  double a[V], b[V];
#pragma unroll
  for (int k = 0; k < V; ++k) a[k] = b[k] = 0.0;
  if (lane < lanes && j < c) {  // with V = 4, c % 4 == 0, so j < c covers all four channels
    terms.init(j);
#pragma unroll 4
    for (int64_t r = r0 + lane; r < r1; r += lanes) terms.add(r * c + j, a, b);
  }
  if (lane < lanes) {
#pragma unroll
    for (int k = 0; k < V; ++k) {
      lane_sums[0][lane * tile + g * V + k] = a[k];
      lane_sums[1][lane * tile + g * V + k] = b[k];
    }
  }
  __syncthreads();
  if (threadIdx.x < tile) {
    double sa = 0, sb = 0;
    for (int l = 0; l < lanes; ++l) {
      sa += lane_sums[0][l * tile + threadIdx.x];
      sb += lane_sums[1][l * tile + threadIdx.x];
    }
    tot[0][threadIdx.x] = sa;
    tot[1][threadIdx.x] = sb;
  }
  __syncthreads();
}

// ---- finalisation of one channel from its two sums ----

struct ForwardFinalize {
  float *mean, *invstd, *running_mean, *running_var;
  int64_t m;
  float momentum, eps;
  __device__ void operator()(int64_t j, double s1, double s2) const {
    batch_norm_math::finalize_train(s1, s2, m, momentum, eps, &mean[j], &invstd[j], &running_mean[j],
                                    &running_var[j]);
  }
};

struct BackwardFinalize {
  float *dgamma, *dbeta;
  __device__ void operator()(int64_t j, double sdy, double sdx) const {
    if (dgamma) dgamma[j] = static_cast<float>(sdx);
    if (dbeta) dbeta[j] = static_cast<float>(sdy);
  }
};

// ---- pass 3: per-thread channel coefficients, then rows ----

// y = x * scale + shift, scale = gamma * invstd, shift = beta - mean * scale (float, as the CPU twin).
template <int V>
struct ForwardApply {
  const float *x, *gamma, *beta, *mean, *invstd;
  float* y;
  float sc[V], sh[V];
  __device__ void init(int64_t j) {
#pragma unroll
    for (int k = 0; k < V; ++k) {
      sc[k] = gamma[j + k] * invstd[j + k];
      sh[k] = beta[j + k] - mean[j + k] * sc[k];
    }
  }
  __device__ void row(int64_t off) const {
    FloatVec<V> xv = load_vec<V>(x + off);
#pragma unroll
    for (int k = 0; k < V; ++k) xv.v[k] = xv.v[k] * sc[k] + sh[k];
    store_vec<V>(y + off, xv);
  }
};

// dx = k1 dy - k2 xhat - k3 with k1 = gamma * invstd and, in training, k2 = k1 sum(dy xhat) / m,
// k3 = k1 sum(dy) / m (zero in evaluation). The sums come from sdx/sdy (double) when given, else from
// dgamma/dbeta, which hold them rounded to float (the multi-block path).
template <int V>
struct BackwardApply {
  const float *dy, *x, *gamma, *mean, *invstd;
  const double *sdy, *sdx;   // shared-memory sums of the fused path, or null
  const float *fsdy, *fsdx;  // dbeta, dgamma of the multi-block path (training only)
  int64_t m;
  int64_t tile_base;  // first channel of this block's tile (indexes sdy/sdx)
  bool training;
  float* dx;
  float k1[V], k2[V], k3[V], mu[V], is[V];
  __device__ void init(int64_t j) {
#pragma unroll
    for (int k = 0; k < V; ++k) {
      mu[k] = mean[j + k];
      is[k] = invstd[j + k];
      double s_dx = 0, s_dy = 0;
      if (training) {
        s_dx = sdx ? sdx[j + k - tile_base] : double(fsdx[j + k]);
        s_dy = sdy ? sdy[j + k - tile_base] : double(fsdy[j + k]);
      }
      const batch_norm_math::DxCoefficients co =
          batch_norm_math::dx_coefficients(gamma[j + k], is[k], s_dy, s_dx, m, training);
      k1[k] = co.k1;
      k2[k] = co.k2;
      k3[k] = co.k3;
    }
  }
  __device__ void row(int64_t off) const {
    const FloatVec<V> g = load_vec<V>(dy + off), xv = load_vec<V>(x + off);
    FloatVec<V> o;
#pragma unroll
    for (int k = 0; k < V; ++k) o.v[k] = k1[k] * g.v[k] - k2[k] * ((xv.v[k] - mu[k]) * is[k]) - k3[k];
    store_vec<V>(dx + off, o);
  }
};

// Rows lane-strided from `first` by `step` for this thread's channel group of tile blockIdx.x.
template <int V, class Apply>
__device__ void apply_rows(Apply& op, int64_t m, int64_t c, int groups, int lanes, int64_t first_row_block,
                           int64_t row_blocks) {
  const int g = threadIdx.x % groups, lane = threadIdx.x / groups;
  const int64_t j = int64_t(blockIdx.x) * groups * V + g * V;
  if (lane >= lanes || j >= c) return;
  op.init(j);
  const int64_t step = row_blocks * lanes;
#pragma unroll 4
  for (int64_t r = first_row_block * lanes + lane; r < m; r += step) op.row(r * c + j);
}

template <int V, class Apply>
__global__ void apply_kernel(Apply op, int64_t m, int64_t c, int groups, int lanes) {
  apply_rows<V>(op, m, c, groups, lanes, blockIdx.y, gridDim.y);
}

// Pass 1: this block's partial sums into partials[(s * c + j) * row_blocks + blockIdx.y], s = 0, 1.
template <int V, class Terms>
__global__ void partials_kernel(Terms terms, int64_t m, int64_t c, int groups, int lanes,
                                int64_t rows_per_block, double* partials) {
  __shared__ double tot[2][kMaxTile];
  const int64_t r0 = int64_t(blockIdx.y) * rows_per_block, r1 = std::min(m, r0 + rows_per_block);
  block_channel_sums<V>(terms, c, groups, lanes, r0, r1, tot);
  const int64_t j = int64_t(blockIdx.x) * groups * V + threadIdx.x;
  if (threadIdx.x < groups * V && j < c) {
    partials[j * gridDim.y + blockIdx.y] = tot[0][threadIdx.x];
    partials[(c + j) * gridDim.y + blockIdx.y] = tot[1][threadIdx.x];
  }
}

// Pass 2: one block per channel adds its row_blocks partials (thread-strided, then a fixed tree).
template <class Finalize>
__global__ void combine_kernel(const double* partials, int64_t c, int64_t row_blocks, Finalize fin) {
  __shared__ double warp_sums[2][kCombineThreads / 32];
  for (int64_t j = blockIdx.x; j < c; j += gridDim.x) {
    double a = 0, b = 0;
    for (int64_t k = threadIdx.x; k < row_blocks; k += blockDim.x) {
      a += partials[j * row_blocks + k];
      b += partials[(c + j) * row_blocks + k];
    }
    for (int d = 16; d > 0; d /= 2) {
      a += __shfl_down_sync(0xffffffffu, a, d);
      b += __shfl_down_sync(0xffffffffu, b, d);
    }
    const int warp = threadIdx.x / 32;
    if (threadIdx.x % 32 == 0) {
      warp_sums[0][warp] = a;
      warp_sums[1][warp] = b;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      double sa = 0, sb = 0;
      for (int w = 0; w < kCombineThreads / 32; ++w) {
        sa += warp_sums[0][w];
        sb += warp_sums[1][w];
      }
      fin(j, sa, sb);
    }
    __syncthreads();  // warp_sums is reused for the next channel
  }
}

// One block per channel tile does everything (small m, or no scratch): sums, finalisation, rows.
template <int V>
__global__ void forward_fused_kernel(const float* x, const float* gamma, const float* beta, float* y,
                                     ForwardFinalize fin, int64_t m, int64_t c, int groups, int lanes) {
  __shared__ double tot[2][kMaxTile];
  block_channel_sums<V>(ForwardTerms<V>{x}, c, groups, lanes, 0, m, tot);
  const int64_t base = int64_t(blockIdx.x) * groups * V;
  if (threadIdx.x < groups * V && base + threadIdx.x < c)
    fin(base + threadIdx.x, tot[0][threadIdx.x], tot[1][threadIdx.x]);
  __syncthreads();  // mean and invstd of this tile are written (global memory, same block)
  ForwardApply<V> op{x, gamma, beta, fin.mean, fin.invstd, y};
  apply_rows<V>(op, m, c, groups, lanes, 0, 1);
}

template <int V>
__global__ void backward_fused_kernel(BackwardTerms<V> terms, const float* gamma, float* dx,
                                      BackwardFinalize fin, int64_t m, int64_t c, int groups, int lanes,
                                      bool training) {
  __shared__ double tot[2][kMaxTile];
  const bool sums = fin.dgamma || fin.dbeta || (training && dx);
  if (sums) {  // uniform across the block: the barriers inside are safe
    block_channel_sums<V>(terms, c, groups, lanes, 0, m, tot);
    const int64_t base = int64_t(blockIdx.x) * groups * V;
    if (threadIdx.x < groups * V && base + threadIdx.x < c)
      fin(base + threadIdx.x, tot[0][threadIdx.x], tot[1][threadIdx.x]);
  }
  if (!dx) return;
  BackwardApply<V> op{terms.dy,
                      terms.x,
                      gamma,
                      terms.mean,
                      terms.invstd,
                      tot[0],
                      tot[1],
                      nullptr,
                      nullptr,
                      m,
                      int64_t(blockIdx.x) * groups * V,
                      training,
                      dx};
  apply_rows<V>(op, m, c, groups, lanes, 0, 1);
}

__global__ void eval_stats_kernel(const float* running_mean, const float* running_var, float* mean,
                                  float* invstd, int64_t c, float eps) {
  BIASCKA_GRID_STRIDE(j, c) {
    batch_norm_math::finalize_eval(running_mean[j], running_var[j], eps, &mean[j], &invstd[j]);
  }
}

// ---- launch plumbing ----

dim3 grid2(int64_t tiles, int64_t rows) {
  return dim3(static_cast<unsigned>(tiles), static_cast<unsigned>(std::clamp<int64_t>(rows, 1, kMaxGridY)));
}

// Row blocks of pass 1: about kReduceBlocksPerSm blocks per SM in all, each over >= kMinRowsPerBlock rows.
int64_t reduce_row_blocks(int64_t m, const Geometry& g, int64_t* rows_per_block) {
  const int64_t want = std::max<int64_t>(1, int64_t(sm_count()) * kReduceBlocksPerSm / g.tiles);
  int64_t rpb = std::max<int64_t>(kMinRowsPerBlock, (m + want - 1) / want);
  int64_t rb = (m + rpb - 1) / rpb;
  if (rb > kMaxGridY) {
    rb = kMaxGridY;
    rpb = (m + rb - 1) / rb;
    rb = (m + rpb - 1) / rpb;
  }
  *rows_per_block = rpb;
  return rb;
}

// The partials of pass 1 (two sums per channel and row block) in the caller's scratch, or null when they
// would not fit.
double* partials_in(double* scratch, int64_t scratch_doubles, int64_t c, int64_t row_blocks) {
  return scratch && row_blocks * 2 * c <= scratch_doubles ? scratch : nullptr;
}

unsigned combine_blocks(int64_t c) { return static_cast<unsigned>(std::min<int64_t>(c, 1 << 20)); }

int64_t apply_row_blocks(int64_t m, const Geometry& g) {
  const int64_t want = std::max<int64_t>(1, int64_t(sm_count()) * kApplyBlocksPerSm / g.tiles);
  return std::clamp<int64_t>(std::min(want, (m + g.lanes - 1) / g.lanes), 1, kMaxGridY);
}

template <int V>
void forward_impl(const float* x, const float* gamma, const float* beta, float* y, float* save_mean,
                  float* save_invstd, float* running_mean, float* running_var, int64_t m, int64_t c,
                  bool training, float momentum, float eps, double* scratch, int64_t scratch_doubles,
                  cudaStream_t s) {
  const Geometry g = geometry(c, V);
  if (!training) {
    launch("batch_norm eval_stats", eval_stats_kernel, blocks_for(c), kThreads, 0, s, running_mean,
           running_var, save_mean, save_invstd, c, eps);

    if (m == 0) return;
    launch("batch_norm forward apply", apply_kernel<V, ForwardApply<V>>,
           grid2(g.tiles, apply_row_blocks(m, g)), kThreads, 0, s,
           ForwardApply<V>{x, gamma, beta, save_mean, save_invstd, y}, m, c, g.groups, g.lanes);
    return;
  }
  if (m == 0) kernel_fail("kernels::batch_norm_forward: training needs at least one row");
  const ForwardFinalize fin{save_mean, save_invstd, running_mean, running_var, m, momentum, eps};
  int64_t rpb = 0;
  const int64_t rb = reduce_row_blocks(m, g, &rpb);
  double* partials = rb > 1 ? partials_in(scratch, scratch_doubles, c, rb) : nullptr;
  if (!partials) {
    launch("batch_norm forward fused", forward_fused_kernel<V>, grid2(g.tiles, 1), kThreads, 0, s, x, gamma,
           beta, y, fin, m, c, g.groups, g.lanes);
    return;
  }
  launch("batch_norm forward partials", partials_kernel<V, ForwardTerms<V>>, grid2(g.tiles, rb), kThreads, 0,
         s, ForwardTerms<V>{x}, m, c, g.groups, g.lanes, rpb, partials);
  launch("batch_norm forward combine", combine_kernel<ForwardFinalize>, combine_blocks(c), kCombineThreads, 0,
         s, partials, c, rb, fin);
  launch("batch_norm forward apply", apply_kernel<V, ForwardApply<V>>, grid2(g.tiles, apply_row_blocks(m, g)),
         kThreads, 0, s, ForwardApply<V>{x, gamma, beta, save_mean, save_invstd, y}, m, c, g.groups, g.lanes);
}

template <int V>
void backward_impl(const float* dy, const float* x, const float* gamma, const float* save_mean,
                   const float* save_invstd, float* dx, float* dgamma, float* dbeta, int64_t m, int64_t c,
                   bool training, double* scratch, int64_t scratch_doubles, cudaStream_t s) {
  const Geometry g = geometry(c, V);
  const BackwardTerms<V> terms{dy, x, save_mean, save_invstd};
  const BackwardFinalize fin{dgamma, dbeta};
  const bool sums = dgamma || dbeta || (training && dx);
  if (!sums) {  // evaluation, dx only: dx = gamma * invstd * dy
    if (!dx || m == 0) return;
    launch("batch_norm backward apply", apply_kernel<V, BackwardApply<V>>,
           grid2(g.tiles, apply_row_blocks(m, g)), kThreads, 0, s,
           BackwardApply<V>{dy, x, gamma, save_mean, save_invstd, nullptr, nullptr, nullptr, nullptr, m, 0,
                            false, dx},
           m, c, g.groups, g.lanes);
    return;
  }
  int64_t rpb = 0;
  const int64_t rb = reduce_row_blocks(std::max<int64_t>(m, 1), g, &rpb);
  // Pass 3 in training reads the sums back from dgamma and dbeta, so the multi-block path needs both.
  const bool can_split = rb > 1 && dx && (!training || (dgamma && dbeta));
  double* partials = can_split ? partials_in(scratch, scratch_doubles, c, rb) : nullptr;
  if (!partials) {
    launch("batch_norm backward fused", backward_fused_kernel<V>, grid2(g.tiles, 1), kThreads, 0, s, terms,
           gamma, dx, fin, m, c, g.groups, g.lanes, training);
    return;
  }
  launch("batch_norm backward partials", partials_kernel<V, BackwardTerms<V>>, grid2(g.tiles, rb), kThreads,
         0, s, terms, m, c, g.groups, g.lanes, rpb, partials);
  launch("batch_norm backward combine", combine_kernel<BackwardFinalize>, combine_blocks(c), kCombineThreads,
         0, s, partials, c, rb, fin);
  launch("batch_norm backward apply", apply_kernel<V, BackwardApply<V>>,
         grid2(g.tiles, apply_row_blocks(m, g)), kThreads, 0, s,
         BackwardApply<V>{dy, x, gamma, save_mean, save_invstd, nullptr, nullptr, dbeta, dgamma, m, 0,
                          training, dx},
         m, c, g.groups, g.lanes);
}

}  // namespace

int64_t batch_norm_scratch_doubles(int64_t m, int64_t c) {
  if (m <= 0 || c <= 0) return 0;
  int64_t most = 0, rpb = 0;
  for (int v : {1, 4}) most = std::max(most, reduce_row_blocks(m, geometry(c, v), &rpb) * 2 * c);
  return most;
}

void batch_norm_forward(const float* x, const float* gamma, const float* beta, float* y, float* save_mean,
                        float* save_invstd, float* running_mean, float* running_var, int64_t m, int64_t c,
                        bool training, float momentum, float eps, double* scratch, int64_t scratch_doubles,
                        cudaStream_t s) {
  if (c <= 0) return;
  BIASCKA_KERNEL_CHECK(static_cast<const float*>(y) != x, "kernels::batch_norm_forward: y must not alias x");
  if (c % 4 == 0 && aligned_to(16, x, y))
    forward_impl<4>(x, gamma, beta, y, save_mean, save_invstd, running_mean, running_var, m, c, training,
                    momentum, eps, scratch, scratch_doubles, s);
  else
    forward_impl<1>(x, gamma, beta, y, save_mean, save_invstd, running_mean, running_var, m, c, training,
                    momentum, eps, scratch, scratch_doubles, s);
}

void batch_norm_backward(const float* dy, const float* x, const float* gamma, const float* save_mean,
                         const float* save_invstd, float* dx, float* dgamma, float* dbeta, int64_t m,
                         int64_t c, bool training, double* scratch, int64_t scratch_doubles, cudaStream_t s) {
  if (c <= 0) return;
  BIASCKA_KERNEL_CHECK(!dx || (static_cast<const float*>(dx) != dy && static_cast<const float*>(dx) != x),
                       "kernels::batch_norm_backward: dx must not alias dy or x");
  if (c % 4 == 0 && aligned_to(16, dy, x, static_cast<const float*>(dx)))
    backward_impl<4>(dy, x, gamma, save_mean, save_invstd, dx, dgamma, dbeta, m, c, training, scratch,
                     scratch_doubles, s);
  else
    backward_impl<1>(dy, x, gamma, save_mean, save_invstd, dx, dgamma, dbeta, m, c, training, scratch,
                     scratch_doubles, s);
}

}  // namespace biascka::kernels
