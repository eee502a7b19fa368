#include "engine/ops/conv2d.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <vector>

#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/device.h"
#include "engine/ops/checks.h"
#include "engine/ops/conv2d_impl.h"

namespace biascka {

namespace {
std::atomic<CpuConvPath> g_path{CpuConvPath::Auto};
}  // namespace

void set_cpu_conv_path(CpuConvPath p) { g_path = p; }
CpuConvPath cpu_conv_path() { return g_path; }

namespace {

conv::Geometry geometry(const Tensor& x, const Tensor& w, Conv2dOptions opt) {
  check_f32(x, "conv2d", "input");
  check_f32(w, "conv2d", "weight");
  check_same_device(x, w, "conv2d");
  BIASCKA_CHECK(x.dim() == 4, "conv2d: input must be [N, H, W, C], got ", shape_str(x.shape()));
  BIASCKA_CHECK(w.dim() == 4, "conv2d: weight must be [O, C, kH, kW], got ", shape_str(w.shape()));
  BIASCKA_CHECK(x.size(3) == w.size(1), "conv2d: input has ", x.size(3), " channels, weight ",
                shape_str(w.shape()), " expects ", w.size(1));
  BIASCKA_CHECK(opt.stride >= 1 && opt.padding >= 0, "conv2d: stride ", opt.stride, ", padding ",
                opt.padding);
  conv::Geometry g{x.size(0), x.size(1),  x.size(2),   x.size(3), w.size(0), w.size(2),
                   w.size(3), opt.stride, opt.padding, 0,         0};
  g.oh = (g.h + 2 * g.pad - g.kh) / g.stride + 1;
  g.ow = (g.w + 2 * g.pad - g.kw) / g.stride + 1;
  BIASCKA_CHECK(g.oh > 0 && g.ow > 0, "conv2d: a ", g.kh, "x", g.kw, " kernel does not fit a ", g.h, "x", g.w,
                " input with padding ", g.pad);
  return g;
}

Tensor conv_backward_data(const conv::Geometry& g, const Tensor& gy, const Tensor& w) {
  Tensor dx = Tensor::empty({g.n, g.h, g.w, g.c}, DType::F32, gy.device());
  backend(gy.device()).conv2d_backward_data(g, gy.data<float>(), w.data<float>(), dx.data<float>());
  return dx;
}

Tensor conv_backward_weights(const conv::Geometry& g, const Tensor& x, const Tensor& gy) {
  Tensor dw = Tensor::empty({g.o, g.c, g.kh, g.kw}, DType::F32, gy.device());
  backend(gy.device()).conv2d_backward_weights(g, x.data<float>(), gy.data<float>(), dw.data<float>());
  return dw;
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& w, Conv2dOptions opt) {
  const conv::Geometry g = geometry(x, w, opt);
  Tensor y = Tensor::empty({g.n, g.oh, g.ow, g.o}, DType::F32, x.device());
  backend(x.device()).conv2d_forward(g, x.data<float>(), w.data<float>(), y.data<float>());
  Tensor xs = x.detach(), ws = w.detach();
  return record("conv2d", y, {x, w}, [g, xs, ws](const Tensor& gy, const Node& node) {
    std::vector<Tensor> out(2);
    if (node.needs(0)) out[0] = conv_backward_data(g, gy, ws);  // the stem's input needs none
    if (node.needs(1)) out[1] = conv_backward_weights(g, xs, gy);
    return out;
  });
}

}  // namespace biascka
