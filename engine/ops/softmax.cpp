#include "engine/ops/softmax.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/ops/checks.h"

namespace biascka {

namespace {
Tensor softmax_impl(const Tensor& z, bool log) {
  check_f32(z, log ? "log_softmax" : "softmax", "input");
  BIASCKA_CHECK(z.dim() == 2 && z.size(1) > 0, "softmax: input must be [N, C], got ", shape_str(z.shape()));
  const int64_t rows = z.size(0), cols = z.size(1);
  const Device dev = z.device();
  Tensor y = Tensor::empty(z.shape(), DType::F32, dev);
  backend(dev).softmax_forward(z.data<float>(), y.data<float>(), rows, cols, log);
  Tensor ys = y.detach();
  return record(log ? "log_softmax" : "softmax", y, {z}, [=](const Tensor& gy, const Node&) {
    Tensor gz = Tensor::empty(ys.shape(), DType::F32, dev);
    backend(dev).softmax_backward(gy.data<float>(), ys.data<float>(), gz.data<float>(), rows, cols, log);
    return std::vector<Tensor>{gz};
  });
}
}  // namespace

Tensor softmax(const Tensor& z) { return softmax_impl(z, false); }
Tensor log_softmax(const Tensor& z) { return softmax_impl(z, true); }

Tensor nll_loss(const Tensor& logp, const Tensor& y) {
  check_f32(logp, "nll_loss", "log-probabilities");
  BIASCKA_CHECK(logp.dim() == 2, "nll_loss: input must be [N, C], got ", shape_str(logp.shape()));
  BIASCKA_CHECK(y.dtype() == DType::I64 && y.numel() == logp.size(0), "nll_loss: targets must be I64 [",
                logp.size(0), "]");
  // A handful of values: computed on the host whatever the device (the fused objectives are the fast path).
  const int64_t n = logp.size(0), c = logp.size(1);
  Tensor lp = logp.to(Device::cpu()), yc = y.to(Device::cpu());
  const float* l = lp.data<float>();
  const int64_t* t = yc.data<int64_t>();
  double s = 0;
  for (int64_t i = 0; i < n; ++i) {
    BIASCKA_CHECK(t[i] >= 0 && t[i] < c, "nll_loss: target ", t[i], " out of range [0, ", c, ")");
    s -= l[i * c + t[i]];
  }
  Tensor loss = Tensor::full({}, s / n, DType::F32, logp.device());
  const Device dev = logp.device();
  std::vector<int64_t> targets(t, t + n);
  return record("nll_loss", loss, {logp}, [=](const Tensor& g, const Node&) {
    const float gv = static_cast<float>(g.item()) / static_cast<float>(n);
    std::vector<float> d(n * c, 0.f);
    for (int64_t i = 0; i < n; ++i) d[i * c + targets[i]] = -gv;
    return std::vector<Tensor>{Tensor::from_vector(d, {n, c}, dev)};
  });
}

}  // namespace biascka
