// Elementwise kernels. CPU twins: engine/ops/elementwise.cpp, engine/ops/layout.cpp.
#include <stdexcept>
#include <string>

#include "kernels/common.cuh"
#include "kernels/kernels.h"

namespace biascka::kernels {

void check_launch(const char* kernel, const char* file, int line) {
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess)
    throw std::runtime_error(std::string("kernel ") + kernel + " launch failed: " + cudaGetErrorString(e) + " (" +
                             file + ":" + std::to_string(line) + ")");
}

namespace {

template <class T>
__global__ void fill_kernel(T* x, int64_t n, T v) {
  BIASCKA_GRID_STRIDE(i, n) x[i] = v;
}

__global__ void axpy_kernel(float* y, const float* x, int64_t n, float alpha) {
  BIASCKA_GRID_STRIDE(i, n) y[i] += alpha * x[i];
}

__global__ void add_kernel(float* out, const float* a, const float* b, int64_t n) {
  BIASCKA_GRID_STRIDE(i, n) out[i] = a[i] + b[i];
}

__global__ void scale_kernel(float* out, const float* x, int64_t n, float alpha) {
  BIASCKA_GRID_STRIDE(i, n) out[i] = alpha * x[i];
}

__global__ void relu_forward_kernel(float* y, const float* x, int64_t n) {
  BIASCKA_GRID_STRIDE(i, n) y[i] = x[i] > 0.f ? x[i] : 0.f;
}

__global__ void relu_backward_kernel(float* gx, const float* gy, const float* y, int64_t n) {
  BIASCKA_GRID_STRIDE(i, n) gx[i] = y[i] > 0.f ? gy[i] : 0.f;
}

// One thread per output element; reads are strided in one direction, writes coalesced.
__global__ void permute_kernel(float* out, const float* in, int64_t n, int64_t c, int64_t hw, bool to_nhwc) {
  const int64_t total = n * c * hw;
  BIASCKA_GRID_STRIDE(o, total) {
    if (to_nhwc) {  // out[b, p, ch] = in[b, ch, p]
      const int64_t ch = o % c, p = (o / c) % hw, b = o / (c * hw);
      out[o] = in[(b * c + ch) * hw + p];
    } else {        // out[b, ch, p] = in[b, p, ch]
      const int64_t p = o % hw, ch = (o / hw) % c, b = o / (c * hw);
      out[o] = in[(b * hw + p) * c + ch];
    }
  }
}

}  // namespace

void fill(void* x, int64_t n, int elem_size, uint64_t bits, cudaStream_t s) {
  if (n == 0) return;
  switch (elem_size) {
    case 1: fill_kernel<<<blocks_for(n), kThreads, 0, s>>>(static_cast<uint8_t*>(x), n, uint8_t(bits)); break;
    case 4: fill_kernel<<<blocks_for(n), kThreads, 0, s>>>(static_cast<uint32_t*>(x), n, uint32_t(bits)); break;
    case 8: fill_kernel<<<blocks_for(n), kThreads, 0, s>>>(static_cast<uint64_t*>(x), n, uint64_t(bits)); break;
    default: throw std::runtime_error("fill: element size " + std::to_string(elem_size));
  }
  BIASCKA_KERNEL_LAUNCHED("fill");
}

void axpy(float* y, const float* x, int64_t n, float alpha, cudaStream_t s) {
  if (n == 0) return;
  axpy_kernel<<<blocks_for(n), kThreads, 0, s>>>(y, x, n, alpha);
  BIASCKA_KERNEL_LAUNCHED("axpy");
}

void add(float* out, const float* a, const float* b, int64_t n, cudaStream_t s) {
  if (n == 0) return;
  add_kernel<<<blocks_for(n), kThreads, 0, s>>>(out, a, b, n);
  BIASCKA_KERNEL_LAUNCHED("add");
}

void scale(float* out, const float* x, int64_t n, float alpha, cudaStream_t s) {
  if (n == 0) return;
  scale_kernel<<<blocks_for(n), kThreads, 0, s>>>(out, x, n, alpha);
  BIASCKA_KERNEL_LAUNCHED("scale");
}

void relu_forward(float* y, const float* x, int64_t n, cudaStream_t s) {
  if (n == 0) return;
  relu_forward_kernel<<<blocks_for(n), kThreads, 0, s>>>(y, x, n);
  BIASCKA_KERNEL_LAUNCHED("relu_forward");
}

void relu_backward(float* gx, const float* gy, const float* y, int64_t n, cudaStream_t s) {
  if (n == 0) return;
  relu_backward_kernel<<<blocks_for(n), kThreads, 0, s>>>(gx, gy, y, n);
  BIASCKA_KERNEL_LAUNCHED("relu_backward");
}

void permute_nchw_nhwc(float* out, const float* in, int64_t n, int64_t c, int64_t hw, bool to_nhwc,
                       cudaStream_t s) {
  const int64_t total = n * c * hw;
  if (total == 0) return;
  permute_kernel<<<blocks_for(total), kThreads, 0, s>>>(out, in, n, c, hw, to_nhwc);
  BIASCKA_KERNEL_LAUNCHED("permute_nchw_nhwc");
}

}  // namespace biascka::kernels
