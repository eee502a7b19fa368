// The CPU's pooling entries (twins of kernels/pooling.cu), channels-last.
#include <algorithm>
#include <cstdint>
#include <limits>

#include "engine/ops/cpu/cpu_backend.h"
#include "engine/parallel.h"

namespace biascka {

// Twin of kernels::max_pool2d_forward. argmax holds, per output element, the input pixel (ih * W + iw)
// that won; ties go to the first in scan order, as PyTorch.
void CpuBackend::max_pool2d_forward(const float* x, float* y, int32_t* argmax, int64_t n, int64_t h,
                                    int64_t w, int64_t c, int64_t oh, int64_t ow, int k, int stride,
                                    int pad) const {
  parallel_for(n * oh * ow, 16, [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o) {
      const int64_t ox = o % ow, oy = (o / ow) % oh, img = o / (ow * oh);
      float* yo = y + o * c;
      int32_t* ao = argmax + o * c;
      for (int64_t ch = 0; ch < c; ++ch) {
        yo[ch] = -std::numeric_limits<float>::infinity();
        ao[ch] = -1;
      }
      for (int ky = 0; ky < k; ++ky) {
        const int64_t iy = oy * stride - pad + ky;
        if (iy < 0 || iy >= h) continue;
        for (int kx = 0; kx < k; ++kx) {
          const int64_t ix = ox * stride - pad + kx;
          if (ix < 0 || ix >= w) continue;
          const float* xi = x + ((img * h + iy) * w + ix) * c;
          const int32_t pos = static_cast<int32_t>(iy * w + ix);
          for (int64_t ch = 0; ch < c; ++ch) {
            // NaN propagates like PyTorch's (x > max || isnan(x)).
            if (xi[ch] > yo[ch] || xi[ch] != xi[ch]) {
              yo[ch] = xi[ch];
              ao[ch] = pos;
            }
          }
        }
      }
    }
  });
}

// Twin of kernels::max_pool2d_backward: a gather over the windows that contain each input pixel, in
// ascending window order, so the sum is deterministic on both devices.
void CpuBackend::max_pool2d_backward(const float* dy, const int32_t* argmax, float* dx, int64_t n, int64_t h,
                                     int64_t w, int64_t c, int64_t oh, int64_t ow, int k, int stride,
                                     int pad) const {
  parallel_for(n * h * w, 16, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const int64_t ix = i % w, iy = (i / w) % h, img = i / (w * h);
      const int32_t pos = static_cast<int32_t>(iy * w + ix);
      // windows oy with oy*stride - pad <= iy <= oy*stride - pad + k - 1
      const int64_t oy0 = std::max<int64_t>(0, (iy + pad - k + stride) / stride);
      const int64_t oy1 = std::min<int64_t>(oh - 1, (iy + pad) / stride);
      const int64_t ox0 = std::max<int64_t>(0, (ix + pad - k + stride) / stride);
      const int64_t ox1 = std::min<int64_t>(ow - 1, (ix + pad) / stride);
      float* d = dx + i * c;
      for (int64_t ch = 0; ch < c; ++ch) d[ch] = 0.f;
      for (int64_t oy = oy0; oy <= oy1; ++oy)
        for (int64_t ox = ox0; ox <= ox1; ++ox) {
          const int64_t o = (img * oh + oy) * ow + ox;
          const float* g = dy + o * c;
          const int32_t* a = argmax + o * c;
          for (int64_t ch = 0; ch < c; ++ch)
            if (a[ch] == pos) d[ch] += g[ch];
        }
    }
  });
}

// Twins of kernels::global_avg_pool_forward / _backward.
void CpuBackend::global_avg_pool_forward(const float* x, float* y, int64_t n, int64_t hw, int64_t c) const {
  parallel_for(n, 1, [&](int64_t b, int64_t e) {
    for (int64_t img = b; img < e; ++img) {
      float* yo = y + img * c;
      for (int64_t ch = 0; ch < c; ++ch) yo[ch] = 0.f;
      for (int64_t p = 0; p < hw; ++p) {
        const float* xi = x + (img * hw + p) * c;
#pragma omp simd
        for (int64_t ch = 0; ch < c; ++ch) yo[ch] += xi[ch];
      }
      const float inv = 1.f / static_cast<float>(hw);
      for (int64_t ch = 0; ch < c; ++ch) yo[ch] *= inv;
    }
  });
}

void CpuBackend::global_avg_pool_backward(const float* dy, float* dx, int64_t n, int64_t hw,
                                          int64_t c) const {
  const float inv = 1.f / static_cast<float>(hw);
  parallel_for(n * hw, 64, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const float* g = dy + (i / hw) * c;
      float* d = dx + i * c;
#pragma omp simd
      for (int64_t ch = 0; ch < c; ++ch) d[ch] = g[ch] * inv;
    }
  });
}

}  // namespace biascka
