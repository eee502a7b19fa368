// The CPU's Adam entry (twin of kernels/adam.cu): torch.optim.Adam's arithmetic in its order, the bias
// corrections once per step in double.
#include <cmath>
#include <cstdint>

#include "engine/ops/cpu/cpu_backend.h"
#include "engine/parallel.h"

namespace biascka {

namespace {
void adam_update(float* p, const float* g, float* m, float* v, int64_t n, int64_t t, const AdamHyper& o) {
  const double bc1 = 1.0 - std::pow(double(o.beta1), double(t));
  const double bc2 = 1.0 - std::pow(double(o.beta2), double(t));
  const float step_size = static_cast<float>(o.lr / bc1);
  const float bc2_sqrt = static_cast<float>(std::sqrt(bc2));
  const float b1 = o.beta1, b2 = o.beta2, wd = o.weight_decay, eps = o.eps;
  // Captured by value: through references the loop does not vectorise.
  parallel_for(n, 1 << 14, [=](int64_t b, int64_t e) {
#pragma omp simd
    for (int64_t i = b; i < e; ++i) {
      const float gi = g[i] + wd * p[i];
      m[i] = m[i] * b1 + gi * (1.f - b1);
      v[i] = v[i] * b2 + (1.f - b2) * gi * gi;
      const float denom = std::sqrt(v[i]) / bc2_sqrt + eps;
      p[i] = p[i] + (-step_size) * (m[i] / denom);
    }
  });
}
}  // namespace

void CpuBackend::adam_step(const AdamTensor* tensors, int count, int64_t, int64_t* step,
                           const AdamHyper& h) const {
  const int64_t t = ++*step;
  for (int i = 0; i < count; ++i) {
    const AdamTensor& a = tensors[i];
    adam_update(a.param, a.grad, a.exp_avg, a.exp_avg_sq, a.numel, t, h);
  }
}

}  // namespace biascka
