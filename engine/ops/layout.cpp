#include "engine/ops/layout.h"

#include <cstdint>

#include "engine/ops/dispatch.h"
#include "engine/parallel.h"

namespace biascka {

namespace cpu {
// Twin of kernels::permute_nchw_nhwc (shapes given as N, C, HW).
void permute_nchw_nhwc(float* out, const float* in, int64_t n, int64_t c, int64_t hw, bool to_nhwc) {
  parallel_for(n * c, 16, [&](int64_t b, int64_t e) {
    for (int64_t nc = b; nc < e; ++nc) {
      const int64_t img = nc / c, ch = nc % c;
      for (int64_t p = 0; p < hw; ++p) {
        const int64_t a = nc * hw + p, z = (img * hw + p) * c + ch;  // NCHW index, NHWC index
        if (to_nhwc)
          out[z] = in[a];
        else
          out[a] = in[z];
      }
    }
  });
}
}  // namespace cpu

namespace {
Tensor permute(const Tensor& x, bool to_nhwc) {
  check_f32(x, to_nhwc ? "nchw_to_nhwc" : "nhwc_to_nchw", "input");
  BIASCKA_CHECK(x.dim() == 4, "layout conversion needs a 4-D tensor, got ", shape_str(x.shape()));
  const Shape& s = x.shape();
  const int64_t n = s[0], c = to_nhwc ? s[1] : s[3], hw = to_nhwc ? s[2] * s[3] : s[1] * s[2];
  const Shape out_shape = to_nhwc ? Shape{n, s[2], s[3], s[1]} : Shape{n, s[3], s[1], s[2]};
  Tensor y = Tensor::empty(out_shape, DType::F32, x.device());
  if (x.device().is_cuda()) {
    BIASCKA_CUDA_ONLY(
        kernels::permute_nchw_nhwc(y.data<float>(), x.data<float>(), n, c, hw, to_nhwc, BIASCKA_STREAM(x)));
  } else {
    cpu::permute_nchw_nhwc(y.data<float>(), x.data<float>(), n, c, hw, to_nhwc);
  }
  return y;
}
}  // namespace

Tensor nchw_to_nhwc(const Tensor& x) { return permute(x, true); }
Tensor nhwc_to_nchw(const Tensor& x) { return permute(x, false); }

}  // namespace biascka
