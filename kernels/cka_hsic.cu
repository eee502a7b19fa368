// The all-pairs HSIC step's small kernels (CPU twin: cka/hsic.cpp packed_products and the accumulator's
// per-batch bookkeeping): the chunked products of packed Gram rows (cuBLAS, in cka/) summed into float64
// HSIC values, each row's product with itself (or with the same row of other Grams), and the per-batch sums
// added to the running ones.
#include "kernels/common.cuh"
#include "kernels/kernels.h"
#include "kernels/launch.cuh"

namespace biascka::kernels {

namespace {

constexpr int kRowDotThreads = 256;

__global__ void record_products_kernel(const float* p, int64_t chunks, int64_t ca, int64_t cb, double scale,
                                       double* out, int64_t ld, int64_t a0, int64_t b0, bool symmetric,
                                       bool mirror) {
  BIASCKA_GRID_STRIDE(idx, ca * cb) {
    const int64_t i = idx / cb, j = idx % cb;
    // A block of one set with itself: both triangles from the upper one, so the matrix is exactly symmetric.
    const int64_t src = symmetric && i > j ? j * cb + i : idx;
    double s = 0;
    for (int64_t c = 0; c < chunks; ++c) s += p[c * ca * cb + src];
    const double v = scale * s;
    out[(a0 + i) * ld + b0 + j] = v;
    if (mirror) out[(b0 + j) * ld + a0 + i] = v;
  }
}

// One block per row r: scale * sum_j a[r][j] * b[r][j] in float64 (b == a: the row's square norm).
__global__ void row_dots_kernel(const float* a, int64_t lda, const float* b, int64_t ldb, int64_t m,
                                double scale, double* out) {
  __shared__ double red[kRowDotThreads];
  const float* ra = a + static_cast<int64_t>(blockIdx.x) * lda;
  const float* rb = b + static_cast<int64_t>(blockIdx.x) * ldb;
  double s = 0;
  for (int64_t j = threadIdx.x; j < m; j += blockDim.x)
    s += static_cast<double>(ra[j]) * static_cast<double>(rb[j]);
  red[threadIdx.x] = s;
  __syncthreads();
  for (int w = blockDim.x / 2; w > 0; w >>= 1) {
    if (threadIdx.x < w) red[threadIdx.x] += red[threadIdx.x + w];
    __syncthreads();
  }
  if (threadIdx.x == 0) out[blockIdx.x] = scale * red[0];
}

__global__ void accumulate_kernel(double* dst, const double* src, int64_t count, int64_t stride) {
  BIASCKA_GRID_STRIDE(i, count) dst[i] += src[i * stride];
}

}  // namespace

void cka_record_products(const float* p, int64_t chunks, int64_t ca, int64_t cb, double scale, double* out,
                         int64_t ld, int64_t a0, int64_t b0, bool symmetric, bool mirror, cudaStream_t s) {
  if (ca * cb == 0) return;
  launch("cka_record_products", record_products_kernel, blocks_for(ca * cb), kThreads, 0, s, p, chunks, ca,
         cb, scale, out, ld, a0, b0, symmetric, mirror);
}

void cka_row_dots(const float* g, int64_t rows, int64_t m, int64_t ld, double scale, double* out,
                  cudaStream_t s) {
  cka_row_products(g, ld, g, ld, rows, m, scale, out, s);
}

void cka_row_products(const float* a, int64_t lda, const float* b, int64_t ldb, int64_t rows, int64_t m,
                      double scale, double* out, cudaStream_t s) {
  if (rows == 0) return;
  launch("cka_row_dots", row_dots_kernel, static_cast<unsigned>(rows), kRowDotThreads, 0, s, a, lda, b, ldb,
         m, scale, out);
}

void cka_accumulate(double* dst, const double* src, int64_t count, int64_t src_stride, cudaStream_t s) {
  if (count == 0) return;
  launch("cka_accumulate", accumulate_kernel, blocks_for(count), kThreads, 0, s, dst, src, count, src_stride);
}

}  // namespace biascka::kernels
