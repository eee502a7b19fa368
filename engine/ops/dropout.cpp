#include "engine/ops/dropout.h"

#include "engine/autograd.h"
#include "engine/ops/dispatch.h"
#include "engine/parallel.h"
#include "kernels/philox.h"

namespace biascka {

namespace cpu {
// Twin of kernels::dropout_apply: out[i] = in[i] * keep(i) / (1 - p).
void dropout_apply(const float* in, float* out, int64_t n, float p, uint64_t seed, uint64_t offset) {
  const float scale = 1.f / (1.f - p);
  parallel_for(n, 4096, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) out[i] = philox::uniform(seed, offset + i) >= p ? in[i] * scale : 0.f;
  });
}
}  // namespace cpu

namespace {
Tensor apply(const Tensor& in, float p, uint64_t seed, uint64_t offset) {
  Tensor out = Tensor::empty(in.shape(), DType::F32, in.device());
  if (in.device().is_cuda()) {
    BIASCKA_CUDA_ONLY(kernels::dropout_apply(in.data<float>(), out.data<float>(), in.numel(), p, seed, offset,
                                             BIASCKA_STREAM(in)));
  } else {
    cpu::dropout_apply(in.data<float>(), out.data<float>(), in.numel(), p, seed, offset);
  }
  return out;
}
}  // namespace

Tensor dropout(const Tensor& x, float p, bool training, uint64_t seed, uint64_t offset) {
  check_f32(x, "dropout", "input");
  BIASCKA_CHECK(p >= 0.f && p < 1.f, "dropout: p = ", p, " must be in [0, 1)");
  if (!training || p == 0.f) return x;
  Tensor y = apply(x, p, seed, offset);
  return record("dropout", y, {x}, [=](const Tensor& gy, const Node&) {
    return std::vector<Tensor>{apply(gy, p, seed, offset)};  // the same mask and scale
  });
}

}  // namespace biascka
