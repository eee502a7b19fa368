// Max and global-average pooling over NHWC maps. CPU twins: engine/ops/cpu/pooling.cpp. Every kernel does
// the twin's arithmetic in the twin's order (scan order for argmax ties and NaN, ascending windows in the
// gather backward, a sequential sum for the average), so CPU and GPU agree bit for bit.
#include <cmath>

#include "kernels/common.cuh"
#include "kernels/kernels.h"
#include "kernels/launch.cuh"

namespace biascka::kernels {

namespace {

// One thread per (output pixel, group of V channels): the V channels are one vector load per window tap.
template <int V>
__global__ void max_pool_forward_kernel(const float* x, float* y, int32_t* argmax, int64_t n, int64_t h,
                                        int64_t w, int64_t c, int64_t oh, int64_t ow, int k, int stride,
                                        int pad) {
  const int64_t groups = c / V, total = n * oh * ow * groups;
  BIASCKA_GRID_STRIDE(i, total) {
    const int64_t ch = (i % groups) * V, o = i / groups;
    const int64_t ox = o % ow, oy = (o / ow) % oh, img = o / (ow * oh);
    Vec<float, V> best;
    Vec<int32_t, V> arg;
#pragma unroll
    for (int v = 0; v < V; ++v) {
      best.v[v] = -INFINITY;
      arg.v[v] = -1;
    }
    for (int ky = 0; ky < k; ++ky) {
      const int64_t iy = oy * stride - pad + ky;
      if (iy < 0 || iy >= h) continue;
      for (int kx = 0; kx < k; ++kx) {
        const int64_t ix = ox * stride - pad + kx;
        if (ix < 0 || ix >= w) continue;
        const Vec<float, V> xv = load_vec<V>(x + ((img * h + iy) * w + ix) * c + ch);
        const int32_t pos = static_cast<int32_t>(iy * w + ix);
#pragma unroll
        for (int v = 0; v < V; ++v) {
          // NaN propagates like PyTorch's (x > max || isnan(x)); ties keep the first in scan order.
          if (xv.v[v] > best.v[v] || xv.v[v] != xv.v[v]) {
            best.v[v] = xv.v[v];
            arg.v[v] = pos;
          }
        }
      }
    }
    store_vec<V>(y + o * c + ch, best);
    store_vec<V>(argmax + o * c + ch, arg);
  }
}

// One thread per (input pixel, group of V channels): sums the windows that chose this pixel, windows in
// ascending order (deterministic, no atomics).
template <int V>
__global__ void max_pool_backward_kernel(const float* dy, const int32_t* argmax, float* dx, int64_t n,
                                         int64_t h, int64_t w, int64_t c, int64_t oh, int64_t ow, int k,
                                         int stride, int pad) {
  const int64_t groups = c / V, total = n * h * w * groups;
  BIASCKA_GRID_STRIDE(i, total) {
    const int64_t ch = (i % groups) * V, p = i / groups;
    const int64_t ix = p % w, iy = (p / w) % h, img = p / (w * h);
    const int32_t pos = static_cast<int32_t>(iy * w + ix);
    // windows oy with oy*stride - pad <= iy <= oy*stride - pad + k - 1 (the twin's bounds, same rounding)
    const int64_t oy0 = std::max<int64_t>(0, (iy + pad - k + stride) / stride);
    const int64_t oy1 = std::min<int64_t>(oh - 1, (iy + pad) / stride);
    const int64_t ox0 = std::max<int64_t>(0, (ix + pad - k + stride) / stride);
    const int64_t ox1 = std::min<int64_t>(ow - 1, (ix + pad) / stride);
    Vec<float, V> d;
#pragma unroll
    for (int v = 0; v < V; ++v) d.v[v] = 0.f;
    for (int64_t oy = oy0; oy <= oy1; ++oy)
      for (int64_t ox = ox0; ox <= ox1; ++ox) {
        const int64_t o = ((img * oh + oy) * ow + ox) * c + ch;
        const Vec<int32_t, V> a = load_vec<V>(argmax + o);
        const Vec<float, V> g = load_vec<V>(dy + o);
#pragma unroll
        for (int v = 0; v < V; ++v)
          if (a.v[v] == pos) d.v[v] += g.v[v];
      }
    store_vec<V>(dx + p * c + ch, d);
  }
}

// One thread per (image, channel): a sequential float sum over the pixels, then * (1/hw), as the twin.
__global__ void avg_pool_forward_kernel(const float* x, float* y, int64_t n, int64_t hw, int64_t c,
                                        float inv) {
  BIASCKA_GRID_STRIDE(i, n * c) {
    const int64_t ch = i % c, img = i / c;
    const float* xi = x + img * hw * c + ch;
    float s = 0.f;
    for (int64_t p = 0; p < hw; ++p) s += xi[p * c];
    y[i] = s * inv;
  }
}

__global__ void avg_pool_backward_kernel(const float* dy, float* dx, int64_t n, int64_t hw, int64_t c,
                                         float inv) {
  BIASCKA_GRID_STRIDE(i, n * hw * c) {
    const int64_t ch = i % c, img = i / (hw * c);
    dx[i] = dy[img * c + ch] * inv;
  }
}

}  // namespace

void max_pool2d_forward(const float* x, float* y, int32_t* argmax, int64_t n, int64_t h, int64_t w, int64_t c,
                        int64_t oh, int64_t ow, int k, int stride, int pad, cudaStream_t s) {
  const int64_t outputs = n * oh * ow * c;
  if (outputs <= 0) return;
  if (c % 4 == 0 && aligned_to(16, x, y) && aligned_to(16, argmax))
    launch("max_pool2d_forward", max_pool_forward_kernel<4>, blocks_for(outputs / 4), kThreads, 0, s, x, y,
           argmax, n, h, w, c, oh, ow, k, stride, pad);
  else
    launch("max_pool2d_forward", max_pool_forward_kernel<1>, blocks_for(outputs), kThreads, 0, s, x, y,
           argmax, n, h, w, c, oh, ow, k, stride, pad);
}

void max_pool2d_backward(const float* dy, const int32_t* argmax, float* dx, int64_t n, int64_t h, int64_t w,
                         int64_t c, int64_t oh, int64_t ow, int k, int stride, int pad, cudaStream_t s) {
  const int64_t inputs = n * h * w * c;
  if (inputs <= 0) return;
  if (c % 4 == 0 && aligned_to(16, dy, static_cast<const float*>(dx)) && aligned_to(16, argmax))
    launch("max_pool2d_backward", max_pool_backward_kernel<4>, blocks_for(inputs / 4), kThreads, 0, s, dy,
           argmax, dx, n, h, w, c, oh, ow, k, stride, pad);
  else
    launch("max_pool2d_backward", max_pool_backward_kernel<1>, blocks_for(inputs), kThreads, 0, s, dy, argmax,
           dx, n, h, w, c, oh, ow, k, stride, pad);
}

void global_avg_pool_forward(const float* x, float* y, int64_t n, int64_t hw, int64_t c, cudaStream_t s) {
  if (n * c <= 0) return;
  launch("global_avg_pool_forward", avg_pool_forward_kernel, blocks_for(n * c), kThreads, 0, s, x, y, n, hw,
         c, 1.f / static_cast<float>(hw));
}

void global_avg_pool_backward(const float* dy, float* dx, int64_t n, int64_t hw, int64_t c, cudaStream_t s) {
  if (n * hw * c <= 0) return;
  launch("global_avg_pool_backward", avg_pool_backward_kernel, blocks_for(n * hw * c), kThreads, 0, s, dy, dx,
         n, hw, c, 1.f / static_cast<float>(hw));
}

}  // namespace biascka::kernels
