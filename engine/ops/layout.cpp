#include "engine/ops/layout.h"

#include <cstdint>

#include "engine/backend.h"
#include "engine/ops/checks.h"

namespace biascka {

namespace {
Tensor permute(const Tensor& x, bool to_nhwc) {
  check_f32(x, to_nhwc ? "nchw_to_nhwc" : "nhwc_to_nchw", "input");
  BIASCKA_CHECK(x.dim() == 4, "layout conversion needs a 4-D tensor, got ", shape_str(x.shape()));
  const Shape& s = x.shape();
  const int64_t n = s[0], c = to_nhwc ? s[1] : s[3], hw = to_nhwc ? s[2] * s[3] : s[1] * s[2];
  const Shape out_shape = to_nhwc ? Shape{n, s[2], s[3], s[1]} : Shape{n, s[3], s[1], s[2]};
  Tensor y = Tensor::empty(out_shape, DType::F32, x.device());
  backend(x.device()).permute_nchw_nhwc(y.data<float>(), x.data<float>(), n, c, hw, to_nhwc);
  return y;
}
}  // namespace

Tensor nchw_to_nhwc(const Tensor& x) { return permute(x, true); }
Tensor nhwc_to_nchw(const Tensor& x) { return permute(x, false); }

}  // namespace biascka
