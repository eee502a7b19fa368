// Row softmax / log-softmax over [rows, cols] (logits: cols = classes, a handful). CPU twins:
// engine/ops/cpu/softmax.cpp. One warp per row: the max and the double sums are warp reductions in a fixed
// shuffle tree, the arithmetic is the twin's (max subtracted, exp and log in double, rounded once to float).
#include <cmath>

#include "kernels/common.cuh"
#include "kernels/kernels.h"
#include "kernels/launch.cuh"

namespace biascka::kernels {

namespace {

constexpr int kRowsPerBlock = kThreads / 32;

__device__ __forceinline__ double warp_sum(double v) {
  for (int d = 16; d > 0; d /= 2) v += __shfl_xor_sync(0xffffffffu, v, d);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
  for (int d = 16; d > 0; d /= 2) {
    const float o = __shfl_xor_sync(0xffffffffu, v, d);
    v = v < o ? o : v;  // std::max's rule
  }
  return v;
}

__global__ void softmax_forward_kernel(const float* z, float* y, int64_t rows, int64_t cols, bool log) {
  const int lane = threadIdx.x % 32;
  for (int64_t r = int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.x / 32; r < rows;
       r += int64_t(gridDim.x) * kRowsPerBlock) {
    const float* zr = z + r * cols;
    float* yr = y + r * cols;
    float mx = zr[0];
    for (int64_t j = lane; j < cols; j += 32) mx = mx < zr[j] ? zr[j] : mx;
    mx = warp_max(mx);
    double s = 0;
    for (int64_t j = lane; j < cols; j += 32) s += exp(double(zr[j]) - mx);
    const double lse = mx + ::log(warp_sum(s));
    for (int64_t j = lane; j < cols; j += 32)
      yr[j] = log ? static_cast<float>(zr[j] - lse) : static_cast<float>(exp(zr[j] - lse));
  }
}

// softmax: gz = y (gy - <gy, y>); log-softmax: gz = gy - exp(y) sum(gy).
__global__ void softmax_backward_kernel(const float* gy, const float* y, float* gz, int64_t rows,
                                        int64_t cols, bool log) {
  const int lane = threadIdx.x % 32;
  for (int64_t r = int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.x / 32; r < rows;
       r += int64_t(gridDim.x) * kRowsPerBlock) {
    const float* g = gy + r * cols;
    const float* yr = y + r * cols;
    float* o = gz + r * cols;
    double s = 0;
    for (int64_t j = lane; j < cols; j += 32) s += log ? double(g[j]) : double(g[j]) * yr[j];
    s = warp_sum(s);
    for (int64_t j = lane; j < cols; j += 32)
      o[j] = log ? static_cast<float>(g[j] - exp(double(yr[j])) * s) : static_cast<float>(yr[j] * (g[j] - s));
  }
}

unsigned row_blocks(int64_t rows) {
  return static_cast<unsigned>(std::clamp<int64_t>((rows + kRowsPerBlock - 1) / kRowsPerBlock, 1, 1 << 20));
}

}  // namespace

void softmax_forward(const float* z, float* y, int64_t rows, int64_t cols, bool log, cudaStream_t s) {
  if (rows <= 0 || cols <= 0) return;
  launch("softmax_forward", softmax_forward_kernel, row_blocks(rows), kThreads, 0, s, z, y, rows, cols, log);
}

void softmax_backward(const float* gy, const float* y, float* gz, int64_t rows, int64_t cols, bool log,
                      cudaStream_t s) {
  if (rows <= 0 || cols <= 0) return;
  launch("softmax_backward", softmax_backward_kernel, row_blocks(rows), kThreads, 0, s, gy, y, gz, rows, cols,
         log);
}

}  // namespace biascka::kernels
