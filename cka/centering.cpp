#include "cka/centering.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "cka/grain.h"
#include "engine/error.h"
#include "engine/parallel.h"

namespace biascka::cka {

namespace {

// The per-row offsets m such that the centred Gram is K_ij - m_i - m_j (off the diagonal for U-centring).
// K is symmetric, so column sums are row sums.
template <class T>
std::vector<double> centring_offsets(const T* k, int64_t n, Estimator e) {
  std::vector<double> m(static_cast<size_t>(n));
  const bool unbiased = e == Estimator::Unbiased;
  parallel_for(n, grain_for(n), [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      double s = 0;
      const T* row = k + i * n;
      for (int64_t j = 0; j < n; ++j) s += row[j];
      if (unbiased) s -= row[i];  // the diagonal is zeroed first
      m[i] = s / static_cast<double>(unbiased ? n - 2 : n);
    }
  });
  double total = 0;
  for (double v : m) total += v;
  const double shift =
      unbiased ? total / (2.0 * static_cast<double>(n - 1)) : total / (2.0 * static_cast<double>(n));
  for (double& v : m) v -= shift;
  return m;
}

void check_n(int64_t n, Estimator e) {
  BIASCKA_CHECK(n >= min_batch(e), "centring a Gram of ", n, " samples: the ", estimator_name(e),
                " estimator needs at least ", min_batch(e));
}

}  // namespace

int64_t packed_size(int64_t n, Estimator e) { return n * (n - 1) / 2 + (e == Estimator::Biased ? n : 0); }

void center_gram_packed(const float* k, int64_t n, Estimator e, double* out) {
  check_n(n, e);
  const std::vector<double> m = centring_offsets(k, n, e);
  // Row i of the strict upper triangle starts at i*n - i(i+1)/2.
  parallel_for(n, grain_for(n), [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      double* o = out + i * n - i * (i + 1) / 2 - (i + 1);
      const float* row = k + i * n;
      const double mi = m[i];
      for (int64_t j = i + 1; j < n; ++j) o[j] = static_cast<double>(row[j]) - mi - m[j];
    }
  });
  if (e == Estimator::Biased) {
    double* diag = out + n * (n - 1) / 2;
    for (int64_t i = 0; i < n; ++i) diag[i] = (static_cast<double>(k[i * n + i]) - 2.0 * m[i]) * M_SQRT1_2;
  }
}

Tensor center_gram(const Tensor& k_in, Estimator e) {
  BIASCKA_CHECK(k_in.dim() == 2 && k_in.size(0) == k_in.size(1),
                "center_gram: expected a square matrix, got ", shape_str(k_in.shape()));
  const Tensor k = k_in.to(Device::cpu()).to_dtype(DType::F64);
  const int64_t n = k.size(0);
  check_n(n, e);
  const double* kp = k.data<double>();
  const std::vector<double> m = centring_offsets(kp, n, e);
  Tensor out = Tensor::empty({n, n}, DType::F64);
  double* o = out.data<double>();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j)
      o[i * n + j] = (i == j && e == Estimator::Unbiased) ? 0.0 : kp[i * n + j] - m[i] - m[j];
  return out;
}

}  // namespace biascka::cka
