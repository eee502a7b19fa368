// Elementwise kernels. CPU twins: engine/ops/cpu/elementwise.cpp.
#include <string>

#include "kernels/common.cuh"
#include "kernels/error.h"
#include "kernels/kernels.h"
#include "kernels/launch.cuh"

namespace biascka::kernels {

namespace {

// One grid-stride loop for every elementwise op; the functor says what happens to element i.
template <class F>
__global__ void map_kernel(int64_t n, F f) {
  BIASCKA_GRID_STRIDE(i, n) f(i);
}

template <class F>
void launch_map(const char* name, int64_t n, cudaStream_t s, F f) {
  if (n <= 0) return;
  launch(name, map_kernel<F>, blocks_for(n), kThreads, 0, s, n, f);
}

template <class T>
struct Fill {
  T* x;
  T v;
  __device__ void operator()(int64_t i) const { x[i] = v; }
};

struct Axpy {
  float* y;
  const float* x;
  float alpha;
  __device__ void operator()(int64_t i) const { y[i] += alpha * x[i]; }
};

struct Add {
  float* out;
  const float *a, *b;
  __device__ void operator()(int64_t i) const { out[i] = a[i] + b[i]; }
};

struct Scale {
  float* out;
  const float* x;
  float alpha;
  __device__ void operator()(int64_t i) const { out[i] = alpha * x[i]; }
};

struct ReluForward {
  float* y;
  const float* x;
  __device__ void operator()(int64_t i) const { y[i] = x[i] > 0.f ? x[i] : 0.f; }
};

struct ReluBackward {
  float* gx;
  const float *gy, *y;
  __device__ void operator()(int64_t i) const { gx[i] = y[i] > 0.f ? gy[i] : 0.f; }
};

// One thread per output element; reads are strided in one direction, writes coalesced.
struct Permute {
  float* out;
  const float* in;
  int64_t c, hw;
  bool to_nhwc;
  __device__ void operator()(int64_t o) const {
    if (to_nhwc) {  // out[b, p, ch] = in[b, ch, p]
      const int64_t ch = o % c, p = (o / c) % hw, b = o / (c * hw);
      out[o] = in[(b * c + ch) * hw + p];
    } else {  // out[b, ch, p] = in[b, p, ch]
      const int64_t p = o % hw, ch = (o / hw) % c, b = o / (c * hw);
      out[o] = in[(b * hw + p) * c + ch];
    }
  }
};

// A single thread: the counter lives on the device so that graph replays advance it.
__global__ void increment_kernel(int64_t* counter, int64_t by) { *counter += by; }

}  // namespace

void fill(void* x, int64_t n, int elem_size, uint64_t bits, cudaStream_t s) {
  switch (elem_size) {
    case 1:
      return launch_map("fill", n, s, Fill<uint8_t>{static_cast<uint8_t*>(x), uint8_t(bits)});
    case 4:
      return launch_map("fill", n, s, Fill<uint32_t>{static_cast<uint32_t*>(x), uint32_t(bits)});
    case 8:
      return launch_map("fill", n, s, Fill<uint64_t>{static_cast<uint64_t*>(x), uint64_t(bits)});
    default:
      kernel_fail("kernels::fill: element size ", elem_size, " is not 1, 4 or 8");
  }
}

void axpy(float* y, const float* x, int64_t n, float alpha, cudaStream_t s) {
  launch_map("axpy", n, s, Axpy{y, x, alpha});
}

void add(float* out, const float* a, const float* b, int64_t n, cudaStream_t s) {
  launch_map("add", n, s, Add{out, a, b});
}

void scale(float* out, const float* x, int64_t n, float alpha, cudaStream_t s) {
  launch_map("scale", n, s, Scale{out, x, alpha});
}

void relu_forward(float* y, const float* x, int64_t n, cudaStream_t s) {
  launch_map("relu_forward", n, s, ReluForward{y, x});
}

void relu_backward(float* gx, const float* gy, const float* y, int64_t n, cudaStream_t s) {
  launch_map("relu_backward", n, s, ReluBackward{gx, gy, y});
}

void increment_i64(int64_t* counter, int64_t by, cudaStream_t s) {
  launch("increment_i64", increment_kernel, 1, 1, 0, s, counter, by);
}

void permute_nchw_nhwc(float* out, const float* in, int64_t n, int64_t c, int64_t hw, bool to_nhwc,
                       cudaStream_t s) {
  launch_map("permute_nchw_nhwc", n * c * hw, s, Permute{out, in, c, hw, to_nhwc});
}

}  // namespace biascka::kernels
