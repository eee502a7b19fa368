// CKA on the CPU: the device cases (tests/cka_device_cases.h: exact self-similarity and symmetry,
// invariances, the cross-model matrix against the joint one, layer groups under a small memory budget,
// zero-variance layers and short batches) on the CPU backend, with the RBF kernel too; the HSIC estimators
// against their textbook formulas; full-data linear CKA against the feature-space form; the RBF kernel.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "cka/accumulator.h"
#include "cka/centering.h"
#include "cka/full.h"
#include "cka/gram.h"
#include "cka/hsic.h"
#include "engine/error.h"
#include "engine/random.h"
#include "tests/cka_device_cases.h"
#include "tests/support/cka_fixtures.h"
#include "tests/support/test_support.h"

namespace biascka {
namespace {

using cka::CkaOptions;
using cka::Estimator;
using cka::Kernel;

Tensor randn(int64_t n, int64_t d, uint64_t stream) { return rand_normal({n, d}, 0.f, 1.f, 1234, stream); }

using test::at;
using test::matmul;
using test::random_orthogonal;
using test::scaled;

// Song et al. 2012's unbiased HSIC written out, and tr(KHLH)/(n-1)^2, against the centring path.
TEST(Cka, HsicMatchesTextbookFormulas) {
  const int64_t n = 30;
  const Tensor k = cka::gram(randn(n, 7, 4)), l = cka::gram(randn(n, 5, 5));
  std::vector<double> kt(n * n), lt(n * n);
  for (int64_t i = 0; i < n * n; ++i) {
    const bool diag = i % (n + 1) == 0;
    kt[i] = diag ? 0 : k.data<float>()[i];
    lt[i] = diag ? 0 : l.data<float>()[i];
  }
  double tr = 0, sk = 0, sl = 0, skl = 0;
  for (int64_t i = 0; i < n; ++i) {
    double rk = 0, rl = 0;
    for (int64_t j = 0; j < n; ++j) {
      tr += kt[i * n + j] * lt[j * n + i];
      rk += kt[i * n + j];
      rl += lt[i * n + j];
    }
    sk += rk;
    sl += rl;
    skl += rk * rl;  // 1^T K~ L~ 1 = sum_i (K~1)_i (L~1)_i
  }
  const double dn = n;
  const double song = (tr + sk * sl / ((dn - 1) * (dn - 2)) - 2.0 / (dn - 2) * skl) / (dn * (dn - 3));
  EXPECT_NEAR(cka::hsic(k, l, Estimator::Unbiased), song, 1e-9 * std::fabs(song));

  // Biased: H K H explicitly.
  std::vector<double> hkh(n * n), hlh(n * n);
  auto center = [&](const Tensor& g, std::vector<double>& out) {
    std::vector<double> h(n * n), t(n * n, 0.0);
    for (int64_t i = 0; i < n * n; ++i) h[i] = (i % (n + 1) == 0 ? 1.0 : 0.0) - 1.0 / n;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j)
        for (int64_t q = 0; q < n; ++q) t[i * n + j] += h[i * n + q] * g.data<float>()[q * n + j];
    std::fill(out.begin(), out.end(), 0.0);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j)
        for (int64_t q = 0; q < n; ++q) out[i * n + j] += t[i * n + q] * h[q * n + j];
  };
  center(k, hkh);
  center(l, hlh);
  double biased = 0;
  for (int64_t i = 0; i < n * n; ++i) biased += hkh[i] * hlh[i];
  biased /= (dn - 1) * (dn - 1);
  EXPECT_NEAR(cka::hsic(k, l, Estimator::Biased), biased, 1e-9 * std::fabs(biased));

  // The accumulator's packed Grams and all-pairs product give the same HSIC for one batch.
  for (Estimator e : {Estimator::Biased, Estimator::Unbiased}) {
    cka::MinibatchCka acc({"k", "l"}, {}, CkaOptions{e, {}, size_t{1} << 30});
    acc.add_batch({randn(n, 7, 4), randn(n, 5, 5)});
    const double want = cka::hsic(k, l, e);
    EXPECT_NEAR(at(acc.hsic_sums(), 0, 1), want, 1e-6 * std::fabs(want)) << cka::estimator_name(e);
  }
}

// Full-data linear CKA with biased centring equals Kornblith's feature-space form
// ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F) on centred features.
TEST(Cka, FullLinearMatchesFeatureSpaceForm) {
  const int64_t n = 80;
  const Tensor x = randn(n, 12, 6), y = randn(n, 9, 7);
  const Tensor y2 = [&] {  // related to x
    Tensor t = y.clone();
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < 9; ++j) t.data<float>()[i * 9 + j] += x.data<float>()[i * 12 + j];
    return t;
  }();
  auto centred = [&](const Tensor& t) {
    const int64_t d = t.size(1);
    std::vector<double> c(t.numel());
    for (int64_t j = 0; j < d; ++j) {
      double mean = 0;
      for (int64_t i = 0; i < n; ++i) mean += t.data<float>()[i * d + j];
      mean /= n;
      for (int64_t i = 0; i < n; ++i) c[i * d + j] = t.data<float>()[i * d + j] - mean;
    }
    return c;
  };
  auto cross_norm2 = [&](const std::vector<double>& a, int64_t da, const std::vector<double>& b, int64_t db) {
    double s = 0;
    for (int64_t p = 0; p < da; ++p)
      for (int64_t q = 0; q < db; ++q) {
        double dot = 0;
        for (int64_t i = 0; i < n; ++i) dot += a[i * da + p] * b[i * db + q];
        s += dot * dot;
      }
    return s;
  };
  const std::vector<double> cx = centred(x), cy = centred(y2);
  const double want =
      cross_norm2(cy, 9, cx, 12) / std::sqrt(cross_norm2(cx, 12, cx, 12) * cross_norm2(cy, 9, cy, 9));
  CkaOptions o;
  o.estimator = Estimator::Biased;
  const cka::CkaMatrix m = cka::full_cka({"x", "y"}, {x, y2}, nullptr, nullptr, o);
  EXPECT_NEAR(at(m.matrix, 0, 1), want, 1e-7);
  EXPECT_GT(want, 0.2);
}

TEST(Cka, EstimatorErrors) {
  EXPECT_THROW(cka::hsic_scale(3, Estimator::Unbiased), Error);
  EXPECT_THROW(cka::parse_estimator("debiased"), Error);
}

// The RBF kernel of identical points is 1 and the median heuristic scales with the data.
TEST(Cka, RbfKernelProperties) {
  const Tensor x = randn(20, 5, 60);
  const Tensor k = cka::gram(x, {Kernel::Rbf, 1.0}), k2 = cka::gram(scaled(x, 10.f), {Kernel::Rbf, 1.0});
  for (int64_t i = 0; i < 20; ++i) EXPECT_EQ(k.data<float>()[i * 21], 1.0f);
  for (int64_t i = 0; i < k.numel(); ++i) {
    EXPECT_GT(k.data<float>()[i], 0.f);
    EXPECT_NEAR(k.data<float>()[i], k2.data<float>()[i], 1e-6);
  }
  EXPECT_THROW(cka::gram(x, {Kernel::Rbf, 0.0}), Error);
}

}  // namespace

namespace test {
INSTANTIATE_TEST_SUITE_P(Cpu, CkaOnDevice, ::testing::Values(cka_cpu()), cka_device_name);
}  // namespace test

}  // namespace biascka
