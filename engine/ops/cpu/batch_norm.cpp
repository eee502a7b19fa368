// The CPU's batch-norm entries (twins of kernels/batch_norm.cu): per-channel sums in double over fixed
// row blocks combined in order, then the finalisation both devices share (kernels/batch_norm_math.h).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "engine/ops/cpu/cpu_backend.h"
#include "engine/parallel.h"
#include "kernels/batch_norm_math.h"

namespace biascka {

namespace {

// Per-channel sums over the rows of x [m, c] (and of a second array when given), in double, each thread
// summing its own block of rows and the blocks combined in order, so results do not depend on timing.
template <class RowFn>
void channel_sums(int64_t m, int64_t c, int nacc, RowFn&& row, std::vector<double>& out) {
  const int64_t grain = std::max<int64_t>(1, 4096 / std::max<int64_t>(c, 1));
  std::vector<std::vector<double>> part(chunk_count(m, grain), std::vector<double>(nacc * c, 0.0));
  parallel_chunks(m, grain, [&](int t, int64_t b, int64_t e) { row(b, e, part[t].data()); });
  out.assign(nacc * c, 0.0);
  for (auto& p : part)
    for (int64_t i = 0; i < nacc * c; ++i) out[i] += p[i];
}

}  // namespace

void CpuBackend::batch_norm_forward(const float* x, const float* gamma, const float* beta, float* y,
                                    float* mean, float* invstd, float* running_mean, float* running_var,
                                    int64_t m, int64_t c, bool training, float momentum, float eps) const {
  if (training) {
    std::vector<double> s;
    channel_sums(
        m, c, 2,
        [&](int64_t b, int64_t e, double* acc) {
          double* s1 = acc;
          double* s2 = acc + c;
          for (int64_t r = b; r < e; ++r) {
            const float* xr = x + r * c;
#pragma omp simd
            for (int64_t j = 0; j < c; ++j) {
              s1[j] += xr[j];
              s2[j] += double(xr[j]) * xr[j];
            }
          }
        },
        s);
    for (int64_t j = 0; j < c; ++j)
      batch_norm_math::finalize_train(s[j], s[c + j], m, momentum, eps, &mean[j], &invstd[j],
                                      &running_mean[j], &running_var[j]);
  } else {
    for (int64_t j = 0; j < c; ++j)
      batch_norm_math::finalize_eval(running_mean[j], running_var[j], eps, &mean[j], &invstd[j]);
  }
  std::vector<float> scale(c), shift(c);
  for (int64_t j = 0; j < c; ++j) {
    scale[j] = gamma[j] * invstd[j];
    shift[j] = beta[j] - mean[j] * scale[j];
  }
  parallel_for(m, std::max<int64_t>(1, 8192 / c), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float* xr = x + r * c;
      float* yr = y + r * c;
#pragma omp simd
      for (int64_t j = 0; j < c; ++j) yr[j] = xr[j] * scale[j] + shift[j];
    }
  });
}

void CpuBackend::batch_norm_backward(const float* dy, const float* x, const float* gamma, const float* mean,
                                     const float* invstd, float* dx, float* dgamma, float* dbeta, int64_t m,
                                     int64_t c, bool training) const {
  std::vector<double> s;  // [sum dy, sum dy * xhat]
  channel_sums(
      m, c, 2,
      [&](int64_t b, int64_t e, double* acc) {
        double* sdy = acc;
        double* sdx = acc + c;
        for (int64_t r = b; r < e; ++r) {
          const float* g = dy + r * c;
          const float* xr = x + r * c;
#pragma omp simd
          for (int64_t j = 0; j < c; ++j) {
            sdy[j] += g[j];
            sdx[j] += double(g[j]) * ((xr[j] - mean[j]) * invstd[j]);
          }
        }
      },
      s);
  std::vector<float> k1(c), k2(c), k3(c);  // dx = k1 * dy - k2 * xhat - k3
  for (int64_t j = 0; j < c; ++j) {
    if (dgamma) dgamma[j] = static_cast<float>(s[c + j]);
    if (dbeta) dbeta[j] = static_cast<float>(s[j]);
    const batch_norm_math::DxCoefficients co =
        batch_norm_math::dx_coefficients(gamma[j], invstd[j], s[j], s[c + j], m, training);
    k1[j] = co.k1;
    k2[j] = co.k2;
    k3[j] = co.k3;
  }
  if (!dx) return;
  parallel_for(m, std::max<int64_t>(1, 8192 / c), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float* g = dy + r * c;
      const float* xr = x + r * c;
      float* o = dx + r * c;
#pragma omp simd
      for (int64_t j = 0; j < c; ++j) o[j] = k1[j] * g[j] - k2[j] * ((xr[j] - mean[j]) * invstd[j]) - k3[j];
    }
  });
}

}  // namespace biascka
