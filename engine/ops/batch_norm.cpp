#include "engine/ops/batch_norm.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/ops/checks.h"

namespace biascka {

Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& running_mean,
                  Tensor& running_var, BatchNormOptions opt) {
  check_f32(x, "batch_norm", "input");
  BIASCKA_CHECK(x.dim() >= 2, "batch_norm: input ", shape_str(x.shape()), " needs a channel dimension");
  const int64_t c = x.size(-1), m = x.numel() / c;
  for (const Tensor* t : {&weight, &bias, static_cast<const Tensor*>(&running_mean),
                          static_cast<const Tensor*>(&running_var)}) {
    check_f32(*t, "batch_norm", "parameter");
    check_same_device(x, *t, "batch_norm");
    BIASCKA_CHECK(t->numel() == c, "batch_norm: input has ", c, " channels, a parameter has ", t->numel());
  }
  BIASCKA_CHECK(!opt.training || m > 1, "batch_norm: training needs more than one value per channel, input ",
                shape_str(x.shape()));
  const Device dev = x.device();
  Tensor y = Tensor::empty(x.shape(), DType::F32, dev);
  Tensor mean = Tensor::empty({c}, DType::F32, dev), invstd = Tensor::empty({c}, DType::F32, dev);
  backend(dev).batch_norm_forward(x.data<float>(), weight.data<float>(), bias.data<float>(), y.data<float>(),
                                  mean.data<float>(), invstd.data<float>(), running_mean.data<float>(),
                                  running_var.data<float>(), m, c, opt.training, opt.momentum, opt.eps);
  Tensor xs = x.detach(), ws = weight.detach();
  const bool training = opt.training;
  return record("batch_norm", y, {x, weight, bias}, [=](const Tensor& gy, const Node& node) {
    std::vector<Tensor> g(3);
    if (node.needs(0)) g[0] = Tensor::empty(xs.shape(), DType::F32, dev);
    if (node.needs(1)) g[1] = Tensor::empty({c}, DType::F32, dev);
    if (node.needs(2)) g[2] = Tensor::empty({c}, DType::F32, dev);
    auto ptr = [](const Tensor& t) { return t.defined() ? t.data<float>() : nullptr; };
    backend(dev).batch_norm_backward(gy.data<float>(), xs.data<float>(), ws.data<float>(), mean.data<float>(),
                                     invstd.data<float>(), ptr(g[0]), ptr(g[1]), ptr(g[2]), m, c, training);
    return g;
  });
}

}  // namespace biascka
