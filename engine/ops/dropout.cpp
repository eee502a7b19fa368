#include "engine/ops/dropout.h"

#include <vector>

#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/ops/checks.h"
#include "engine/ops/elementwise.h"

namespace biascka {

namespace {
// The counter keeps its value between a forward call and its backward: the same mask.
Tensor apply(const Tensor& in, float p, uint64_t seed, const Tensor& counter) {
  Tensor out = Tensor::empty(in.shape(), DType::F32, in.device());
  backend(in.device())
      .dropout_apply(in.data<float>(), out.data<float>(), in.numel(), p, seed, counter.data<int64_t>());
  return out;
}
}  // namespace

Tensor dropout(const Tensor& x, float p, bool training, uint64_t seed, Tensor& counter) {
  check_f32(x, "dropout", "input");
  BIASCKA_CHECK(p >= 0.f && p < 1.f, "dropout: p = ", p, " must be in [0, 1)");
  if (!training || p == 0.f) return x;
  BIASCKA_CHECK(counter.dtype() == DType::I64 && counter.numel() == 1 && counter.device() == x.device(),
                "dropout: the counter must be one I64 on ", x.device().str());
  increment_(counter, x.numel());
  Tensor y = apply(x, p, seed, counter);
  // Backward runs before the next forward advances the counter, so it reads the same position. A
  // snapshot would not do: a CUDA graph must read the live counter.
  Tensor c = counter;
  return record("dropout", y, {x}, [=](const Tensor& gy, const Node&) {
    return std::vector<Tensor>{apply(gy, p, seed, c)};  // the same mask and scale
  });
}

Tensor dropout(const Tensor& x, float p, bool training, uint64_t seed, uint64_t offset) {
  Tensor counter = Tensor::full({}, static_cast<double>(offset), DType::I64, x.device());
  return dropout(x, p, training, seed, counter);
}

}  // namespace biascka
