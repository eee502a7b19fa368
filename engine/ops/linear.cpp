#include "engine/ops/linear.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/ops/checks.h"

namespace biascka {

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  check_f32(x, "linear", "input");
  check_f32(weight, "linear", "weight");
  check_same_device(x, weight, "linear");
  BIASCKA_CHECK(x.dim() == 2 && weight.dim() == 2 && x.size(1) == weight.size(1), "linear: input ",
                shape_str(x.shape()), " does not fit weight ", shape_str(weight.shape()));
  const int64_t n = x.size(0), in = x.size(1), out = weight.size(0);
  const bool has_bias = bias.defined();
  if (has_bias) {
    check_same_device(x, bias, "linear");
    BIASCKA_CHECK(bias.numel() == out, "linear: bias ", shape_str(bias.shape()), " for ", out, " outputs");
  }
  const Device dev = x.device();
  const Backend& be = backend(dev);
  Tensor y = Tensor::empty({n, out}, DType::F32, dev);
  float* yp = y.data<float>();
  if (has_bias) {  // y = broadcast(b), then y += x W^T
    be.broadcast_rows(yp, bias.data<float>(), n, out);
  }
  be.gemm(false, true, n, out, in, x.data<float>(), in, weight.data<float>(), in, yp, out, has_bias);
  Tensor xs = x.detach(), ws = weight.detach();
  std::vector<Tensor> inputs{x, weight};
  if (has_bias) inputs.push_back(bias);
  return record("linear", y, inputs, [=](const Tensor& gy, const Node& node) {
    const Backend& be = backend(dev);
    std::vector<Tensor> g(has_bias ? 3 : 2);
    const float* dy = gy.data<float>();
    if (node.needs(0)) {  // dx = dy W
      g[0] = Tensor::empty({n, in}, DType::F32, dev);
      be.gemm(false, false, n, in, out, dy, out, ws.data<float>(), in, g[0].data<float>(), in, false);
    }
    if (node.needs(1)) {  // dW = dy^T x
      g[1] = Tensor::empty({out, in}, DType::F32, dev);
      be.gemm(true, false, out, in, n, dy, out, xs.data<float>(), in, g[1].data<float>(), in, false);
    }
    if (has_bias && node.needs(2)) {  // db = column sums of dy
      g[2] = Tensor::empty({out}, DType::F32, dev);
      be.column_sums(g[2].data<float>(), dy, n, out);
    }
    return g;
  });
}

Tensor flatten(const Tensor& x) {
  BIASCKA_CHECK(x.dim() >= 1, "flatten of a scalar");
  return x.reshape({x.size(0), x.numel() / std::max<int64_t>(x.size(0), 1)});
}

}  // namespace biascka
