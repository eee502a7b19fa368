#pragma once
// The six objectives' per-row arithmetic, shared by the CPU twin (engine/ops/cpu/objectives.cpp) and the
// CUDA kernel (kernels/objectives.cu): one source, so the devices differ only where their libm's exp and
// log do (an ulp of a double). Everything is in double; the gradient is rounded to float once.
#include <cmath>
#include <cstdint>

#include "kernels/hd.h"

namespace biascka {

// The objectives (losses/objectives.h names them; DESIGN.md, Objectives).
enum class ObjectiveKind : int32_t { Sce, Nll, Bce, L1, L2, Sos };

namespace objective_math {

// std::max's rule (the first argument unless the second is larger), so a NaN first argument stays.
BIASCKA_HD double max_of(double a, double b) { return a < b ? b : a; }

// dL/dp of the softmax-distance losses (l1: sign(p - Y) as autograd does; l2: -2 (Y - p)).
BIASCKA_HD double distance_grad(ObjectiveKind kind, double d) {
  return kind == ObjectiveKind::L1 ? (d > 0 ? -1.0 : d < 0 ? 1.0 : 0.0) : -2.0 * d;
}

// One row z[0..cols) with target y (in range): writes dL/dz scaled by inv_b (1 / batch size) into dz and
// returns the row's loss. bce and sos average over classes; the softmax family (sce, l1, l2) subtracts the
// row maximum (log-sum-exp) and recomputes p = exp(z - lse) instead of storing it.
BIASCKA_HD double row_loss_grad(ObjectiveKind kind, float alpha, float beta, const float* z, int64_t y,
                                int64_t cols, double inv_b, float* dz) {
  double loss = 0;
  switch (kind) {
    case ObjectiveKind::Nll: {  // z holds log-probabilities
      for (int64_t c = 0; c < cols; ++c) dz[c] = static_cast<float>(c == y ? -inv_b : 0.0);
      return -double(z[y]);
    }
    case ObjectiveKind::Bce: {  // one-vs-rest: softplus(z) - Y z, stable for any z
      const double inv_c = 1.0 / static_cast<double>(cols);
      for (int64_t c = 0; c < cols; ++c) {
        const double v = z[c], t = c == y ? 1.0 : 0.0;
        loss += (max_of(v, 0.0) - v * t + ::log1p(::exp(-::fabs(v)))) * inv_c;
        const double sig = v >= 0 ? 1.0 / (1.0 + ::exp(-v)) : ::exp(v) / (1.0 + ::exp(v));
        dz[c] = static_cast<float>((sig - t) * inv_c * inv_b);
      }
      return loss;
    }
    case ObjectiveKind::Sos: {
      const double inv_c = 1.0 / static_cast<double>(cols);
      for (int64_t c = 0; c < cols; ++c) {
        const double v = z[c];
        if (c == y) {
          loss += alpha * (v - beta) * (v - beta) * inv_c;
          dz[c] = static_cast<float>(2.0 * alpha * (v - beta) * inv_c * inv_b);
        } else {
          loss += v * v * inv_c;
          dz[c] = static_cast<float>(2.0 * v * inv_c * inv_b);
        }
      }
      return loss;
    }
    case ObjectiveKind::Sce:
    case ObjectiveKind::L1:
    case ObjectiveKind::L2:
      break;
  }
  double mx = z[0];
  for (int64_t c = 1; c < cols; ++c) mx = max_of(mx, double(z[c]));
  double s = 0;
  for (int64_t c = 0; c < cols; ++c) s += ::exp(double(z[c]) - mx);
  const double lse = mx + ::log(s);
  if (kind == ObjectiveKind::Sce) {
    for (int64_t c = 0; c < cols; ++c)
      dz[c] = static_cast<float>((::exp(double(z[c]) - lse) - (c == y)) * inv_b);
    return lse - z[y];
  }
  // dL/dp, then through the softmax: dz = p (g - <g, p>).
  double gp = 0;
  for (int64_t c = 0; c < cols; ++c) {
    const double p = ::exp(double(z[c]) - lse), d = (c == y ? 1.0 : 0.0) - p;
    loss += kind == ObjectiveKind::L1 ? ::fabs(d) : d * d;
    gp += distance_grad(kind, d) * p;
  }
  for (int64_t c = 0; c < cols; ++c) {
    const double p = ::exp(double(z[c]) - lse), d = (c == y ? 1.0 : 0.0) - p;
    dz[c] = static_cast<float>(p * (distance_grad(kind, d) - gp) * inv_b);
  }
  return loss;
}

}  // namespace objective_math
}  // namespace biascka
