// Centring packed Grams (cka/centering.h's layout) on the GPU. CPU twin: cka/centering.cpp
// center_gram_packed.
// - cka_center_packed: in place, with the offsets the fused Gram (cka_gram.cu) left beside each layer.
// - cka_center_dense: the unfused path's centring of a full Gram (the benchmark's cuBLAS baseline): row sums
//   in one launch, then each row block reduces them to the grand total itself and writes its packed row.
#include <cmath>

#include "kernels/common.cuh"
#include "kernels/kernels.h"
#include "kernels/launch.cuh"

namespace biascka::kernels {

namespace {

constexpr int kCenterThreads = 256;

// Deterministic block sum (fixed tree over the block's threads); every thread gets the total.
__device__ double block_sum(double v, double* red) {
  red[threadIdx.x] = v;
  __syncthreads();
  for (int w = blockDim.x / 2; w > 0; w >>= 1) {
    if (threadIdx.x < w) red[threadIdx.x] += red[threadIdx.x + w];
    __syncthreads();
  }
  const double total = red[0];
  __syncthreads();  // red is reused by the caller's next reduction
  return total;
}

// Start of packed row i, minus (i + 1), so that (i, j > i) is at row_base(i) + j.
__device__ __forceinline__ int64_t row_base(int64_t i, int64_t n) {
  return i * n - i * (i + 1) / 2 - (i + 1);
}

// One block per (layer, row i): the strict upper row i and, biased, the diagonal entry i.
__global__ void center_packed_kernel(const __grid_constant__ CkaGramBatch b) {
  const int64_t n = b.n;
  const int64_t li = blockIdx.x / n, i = blockIdx.x % n;
  float* g = b.g + li * b.ld;
  const double* m = b.stats + li * b.stats_stride + static_cast<int64_t>(b.tiles) * 2 * kCkaTile + n;
  const double mi = m[i];
  const int64_t base = row_base(i, n);
  for (int64_t j = i + 1 + threadIdx.x; j < n; j += blockDim.x)
    g[base + j] = static_cast<float>(static_cast<double>(g[base + j]) - mi - m[j]);
  if (!b.unbiased && threadIdx.x == 0) {
    const int64_t p = n * (n - 1) / 2 + i;
    g[p] = static_cast<float>((static_cast<double>(g[p]) - 2.0 * mi) * M_SQRT1_2);
  }
}

// scratch[i] = sum_j k[i, j], less k[i, i] for the U-centring (whose diagonal is zeroed first).
__global__ void dense_row_sums_kernel(const float* k, int64_t n, bool unbiased, double* scratch) {
  __shared__ double red[kCenterThreads];
  const int64_t i = blockIdx.x;
  const float* row = k + i * n;
  double s = 0;
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x) s += row[j];
  s = block_sum(s, red);
  if (threadIdx.x == 0) scratch[i] = unbiased ? s - static_cast<double>(row[i]) : s;
}

__global__ void dense_center_kernel(const float* k, int64_t n, bool unbiased, const double* r, float* g) {
  __shared__ double red[kCenterThreads];
  const int64_t i = blockIdx.x;
  double part = 0;
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x) part += r[j];
  const double total = block_sum(part, red), dn = static_cast<double>(n);
  const double den = unbiased ? dn - 2 : dn;
  const double shift = unbiased ? total / (2.0 * (dn - 1) * (dn - 2)) : total / (2.0 * dn * dn);
  const double mi = r[i] / den - shift;
  const float* row = k + i * n;
  const int64_t base = row_base(i, n);
  for (int64_t j = i + 1 + threadIdx.x; j < n; j += blockDim.x)
    g[base + j] = static_cast<float>(static_cast<double>(row[j]) - mi - (r[j] / den - shift));
  if (!unbiased && threadIdx.x == 0)
    g[n * (n - 1) / 2 + i] = static_cast<float>((static_cast<double>(row[i]) - 2.0 * mi) * M_SQRT1_2);
}

}  // namespace

void cka_center_packed(const CkaGramBatch& b, cudaStream_t s) {
  const int64_t blocks = static_cast<int64_t>(b.count) * b.n;
  if (blocks == 0) return;
  launch("cka_center_packed", center_packed_kernel, static_cast<unsigned>(blocks), kCenterThreads, 0, s, b);
}

void cka_center_dense(const float* k, int64_t n, bool unbiased, float* g, double* scratch, cudaStream_t s) {
  if (n == 0) return;
  launch("cka_center_dense (row sums)", dense_row_sums_kernel, static_cast<unsigned>(n), kCenterThreads, 0, s,
         k, n, unbiased, scratch);

  launch("cka_center_dense", dense_center_kernel, static_cast<unsigned>(n), kCenterThreads, 0, s, k, n,
         unbiased, scratch, g);
}

}  // namespace biascka::kernels
