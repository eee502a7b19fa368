#pragma once
// Batch normalisation's per-channel finalisation, shared by the CPU twin (engine/ops/cpu/batch_norm.cpp)
// and the CUDA kernels (kernels/batch_norm.cu): from the channel's double sums to what forward saves
// (mean, 1/sqrt(var + eps)) and the running statistics, and backward's dx coefficients. The devices sum
// in different orders; from the sums on, the arithmetic is this one source.
#include <cmath>
#include <cstdint>

#include "kernels/hd.h"

namespace biascka::batch_norm_math {

// Training: s1 = sum x, s2 = sum x^2 over the channel's m values. Biased variance clamped at 0 (a NaN
// becomes 0, as std::max(0.0, v)); the running variance is fed the unbiased one (momentum as PyTorch).
BIASCKA_HD void finalize_train(double s1, double s2, int64_t m, float momentum, float eps, float* mean,
                               float* invstd, float* running_mean, float* running_var) {
  const double mu = s1 / m;
  const double v = s2 / m - mu * mu;
  const double var = 0.0 < v ? v : 0.0;
  *mean = static_cast<float>(mu);
  *invstd = static_cast<float>(1.0 / ::sqrt(var + eps));
  const double unbiased = m > 1 ? var * m / (m - 1) : var;
  *running_mean = static_cast<float>((1.0 - momentum) * *running_mean + momentum * mu);
  *running_var = static_cast<float>((1.0 - momentum) * *running_var + momentum * unbiased);
}

// Evaluation: the running statistics normalise.
BIASCKA_HD void finalize_eval(float running_mean, float running_var, float eps, float* mean, float* invstd) {
  *mean = running_mean;
  *invstd = static_cast<float>(1.0 / ::sqrt(double(running_var) + eps));
}

// Backward: dx = k1 dy - k2 xhat - k3 with k1 = gamma invstd and, in training, k2 = k1 sum(dy xhat) / m,
// k3 = k1 sum(dy) / m (both zero in evaluation, where the statistics are constants).
struct DxCoefficients {
  float k1, k2, k3;
};
BIASCKA_HD DxCoefficients dx_coefficients(float gamma, float invstd, double sum_dy, double sum_dy_xhat,
                                          int64_t m, bool training) {
  const float gi = gamma * invstd;
  if (!training) return {gi, 0.f, 0.f};
  return {gi, static_cast<float>(gi * sum_dy_xhat / m), static_cast<float>(gi * sum_dy / m)};
}

}  // namespace biascka::batch_norm_math
