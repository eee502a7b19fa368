// The linear layer's bias helpers (the products themselves are cuBLAS). CPU twins:
// engine/ops/cpu/elementwise.cpp.
#include "kernels/common.cuh"
#include "kernels/kernels.h"
#include "kernels/launch.cuh"

namespace biascka::kernels {

namespace {

__global__ void broadcast_rows_kernel(float* y, const float* b, int64_t rows, int64_t cols) {
  BIASCKA_GRID_STRIDE(i, rows * cols) y[i] = b[i % cols];
}

// Block (32, kLanes): 32 consecutive columns (coalesced row segments) x kLanes row lanes. Each thread sums
// its lane's rows in double, the lanes are added in lane order: deterministic and more accurate than the
// CPU twin's float running sum. Columns beyond one grid row of tiles are covered by a grid-stride loop.
constexpr int kLanes = 8;

__global__ void column_sums_kernel(float* out, const float* x, int64_t rows, int64_t cols) {
  __shared__ double part[kLanes][32];
  for (int64_t j0 = int64_t(blockIdx.x) * 32; j0 < cols; j0 += int64_t(gridDim.x) * 32) {
    const int64_t j = j0 + threadIdx.x;
    double s = 0;
    if (j < cols)
      for (int64_t r = threadIdx.y; r < rows; r += kLanes) s += x[r * cols + j];
    part[threadIdx.y][threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.y == 0 && j < cols) {
      double t = 0;
      for (int l = 0; l < kLanes; ++l) t += part[l][threadIdx.x];
      out[j] = static_cast<float>(t);
    }
    __syncthreads();  // part is reused by the next tile
  }
}

}  // namespace

void broadcast_rows(float* y, const float* b, int64_t rows, int64_t cols, cudaStream_t s) {
  const int64_t n = rows * cols;
  if (n <= 0) return;
  launch("broadcast_rows", broadcast_rows_kernel, blocks_for(n), kThreads, 0, s, y, b, rows, cols);
}

void column_sums(float* out, const float* x, int64_t rows, int64_t cols, cudaStream_t s) {
  if (cols <= 0) return;
  const unsigned tiles = static_cast<unsigned>(std::min<int64_t>((cols + 31) / 32, 1 << 16));
  launch("column_sums", column_sums_kernel, tiles, dim3(32, kLanes), 0, s, out, x, rows, cols);
}

}  // namespace biascka::kernels
