#include "engine/ops/pooling.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/ops/checks.h"

namespace biascka {

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
  backend(dev).max_pool2d_forward(x.data<float>(), y.data<float>(), argmax.data<int32_t>(), n, h, w, c, oh,
                                  ow, opt.kernel, opt.stride, opt.padding);
  return record("max_pool2d", y, {x}, [=](const Tensor& gy, const Node&) {
    Tensor dx = Tensor::empty({n, h, w, c}, DType::F32, dev);
    backend(dev).max_pool2d_backward(gy.data<float>(), argmax.data<int32_t>(), dx.data<float>(), n, h, w, c,
                                     oh, ow, opt.kernel, opt.stride, opt.padding);
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
  backend(dev).global_avg_pool_forward(x.data<float>(), y.data<float>(), n, hw, c);
  return record("global_avg_pool", y, {x}, [=](const Tensor& gy, const Node&) {
    Tensor dx = Tensor::empty(in_shape, DType::F32, dev);
    backend(dev).global_avg_pool_backward(gy.data<float>(), dx.data<float>(), n, hw, c);
    return std::vector<Tensor>{dx};
  });
}

}  // namespace biascka
