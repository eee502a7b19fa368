#include "engine/ops/pooling.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "engine/autograd.h"
#include "engine/ops/dispatch.h"
#include "engine/parallel.h"

namespace biascka {

namespace cpu {

// Twin of kernels::max_pool2d_forward. argmax holds, per output element, the input pixel (ih * W + iw)
// that won; ties go to the first in scan order, as PyTorch.
void max_pool2d_forward(const float* x, float* y, int32_t* argmax, int64_t n, int64_t h, int64_t w, int64_t c,
                        int64_t oh, int64_t ow, int k, int stride, int pad) {
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
void max_pool2d_backward(const float* dy, const int32_t* argmax, float* dx, int64_t n, int64_t h, int64_t w,
                         int64_t c, int64_t oh, int64_t ow, int k, int stride, int pad) {
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
void global_avg_pool_forward(const float* x, float* y, int64_t n, int64_t hw, int64_t c) {
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

void global_avg_pool_backward(const float* dy, float* dx, int64_t n, int64_t hw, int64_t c) {
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

}  // namespace cpu

Tensor max_pool2d(const Tensor& x, MaxPoolOptions opt) {
  check_f32(x, "max_pool2d", "input");
  BIASCKA_CHECK(x.dim() == 4, "max_pool2d: input must be [N, H, W, C], got ", shape_str(x.shape()));
  BIASCKA_CHECK(opt.kernel > 0 && opt.stride > 0 && opt.padding >= 0 && 2 * opt.padding <= opt.kernel,
                "max_pool2d: kernel ", opt.kernel, ", stride ", opt.stride, ", padding ", opt.padding);
  const int64_t n = x.size(0), h = x.size(1), w = x.size(2), c = x.size(3);
  const int64_t oh = (h + 2 * opt.padding - opt.kernel) / opt.stride + 1;
  const int64_t ow = (w + 2 * opt.padding - opt.kernel) / opt.stride + 1;
  BIASCKA_CHECK(oh > 0 && ow > 0, "max_pool2d: input ", shape_str(x.shape()), " too small for kernel ",
                opt.kernel);
  const Device dev = x.device();
  Tensor y = Tensor::empty({n, oh, ow, c}, DType::F32, dev);
  Tensor argmax = Tensor::empty({n, oh, ow, c}, DType::I32, dev);
  if (dev.is_cuda()) {
    BIASCKA_CUDA_ONLY(kernels::max_pool2d_forward(x.data<float>(), y.data<float>(), argmax.data<int32_t>(), n,
                                                  h, w, c, oh, ow, opt.kernel, opt.stride, opt.padding,
                                                  BIASCKA_STREAM(x)));
  } else {
    cpu::max_pool2d_forward(x.data<float>(), y.data<float>(), argmax.data<int32_t>(), n, h, w, c, oh, ow,
                            opt.kernel, opt.stride, opt.padding);
  }
  return record("max_pool2d", y, {x}, [=](const Tensor& gy, const Node&) {
    Tensor dx = Tensor::empty({n, h, w, c}, DType::F32, dev);
    if (dev.is_cuda()) {
      BIASCKA_CUDA_ONLY(kernels::max_pool2d_backward(gy.data<float>(), argmax.data<int32_t>(),
                                                     dx.data<float>(), n, h, w, c, oh, ow, opt.kernel,
                                                     opt.stride, opt.padding, BIASCKA_STREAM(gy)));
    } else {
      cpu::max_pool2d_backward(gy.data<float>(), argmax.data<int32_t>(), dx.data<float>(), n, h, w, c, oh, ow,
                               opt.kernel, opt.stride, opt.padding);
    }
    return std::vector<Tensor>{dx};
  });
}

Tensor global_avg_pool(const Tensor& x) {
  check_f32(x, "global_avg_pool", "input");
  BIASCKA_CHECK(x.dim() == 4, "global_avg_pool: input must be [N, H, W, C], got ", shape_str(x.shape()));
  const int64_t n = x.size(0), hw = x.size(1) * x.size(2), c = x.size(3);
  const Shape in_shape = x.shape();
  const Device dev = x.device();
  Tensor y = Tensor::empty({n, c}, DType::F32, dev);
  if (dev.is_cuda()) {
    BIASCKA_CUDA_ONLY(
        kernels::global_avg_pool_forward(x.data<float>(), y.data<float>(), n, hw, c, BIASCKA_STREAM(x)));
  } else {
    cpu::global_avg_pool_forward(x.data<float>(), y.data<float>(), n, hw, c);
  }
  return record("global_avg_pool", y, {x}, [=](const Tensor& gy, const Node&) {
    Tensor dx = Tensor::empty(in_shape, DType::F32, dev);
    if (dev.is_cuda()) {
      BIASCKA_CUDA_ONLY(kernels::global_avg_pool_backward(gy.data<float>(), dx.data<float>(), n, hw, c,
                                                          BIASCKA_STREAM(gy)));
    } else {
      cpu::global_avg_pool_backward(gy.data<float>(), dx.data<float>(), n, hw, c);
    }
    return std::vector<Tensor>{dx};
  });
}

}  // namespace biascka
