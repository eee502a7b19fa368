// CKA properties: exact self-similarity and symmetry, invariance to orthogonal maps and isotropic scaling
// (and not to a generic invertible map), the HSIC estimators against their textbook formulas, the
// cross-model matrix against the joint one, layer grouping under a small memory budget, zero-variance
// layers and short batches.
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

double max_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  double w = 0;
  for (int64_t i = 0; i < a.numel(); ++i)
    w = std::max(w, std::fabs(a.data<double>()[i] - b.data<double>()[i]));
  return w;
}

// Rows [r0, r1) of a [n, ...] tensor.
Tensor rows(const Tensor& x, int64_t r0, int64_t r1) {
  Shape s = x.shape();
  const int64_t per = x.numel() / s[0];
  s[0] = r1 - r0;
  std::vector<float> v(x.data<float>() + r0 * per, x.data<float>() + r1 * per);
  return Tensor::from_vector(v, s);
}

cka::CkaMatrix minibatch(const std::vector<Tensor>& layers, int64_t batch, CkaOptions o,
                         const std::vector<Tensor>* layers_b = nullptr) {
  std::vector<std::string> na, nb;
  for (size_t i = 0; i < layers.size(); ++i) na.push_back("a" + std::to_string(i));
  if (layers_b)
    for (size_t i = 0; i < layers_b->size(); ++i) nb.push_back("b" + std::to_string(i));
  cka::MinibatchCka acc(na, nb, o);
  const int64_t n = layers[0].size(0);
  for (int64_t r0 = 0; r0 < n; r0 += batch) {
    const int64_t r1 = std::min(n, r0 + batch);
    std::vector<Tensor> a, b;
    for (const Tensor& t : layers) a.push_back(rows(t, r0, r1));
    if (layers_b)
      for (const Tensor& t : *layers_b) b.push_back(rows(t, r0, r1));
    acc.add_batch(a, layers_b ? &b : nullptr);
  }
  return acc.result();
}

struct Setting {
  Estimator est;
  Kernel kernel;
};
const Setting kSettings[] = {{Estimator::Unbiased, Kernel::Linear},
                             {Estimator::Biased, Kernel::Linear},
                             {Estimator::Unbiased, Kernel::Rbf},
                             {Estimator::Biased, Kernel::Rbf}};

TEST(Cka, SelfExactlyOneSymmetricAndInvariances) {
  const int64_t n = 120, d = 24;
  // Features with structure (a shared low-rank part) so the layers are related but not identical.
  const Tensor x = randn(n, d, 1);
  const Tensor q = matmul(x, random_orthogonal(d, 2), d);
  const Tensor s = scaled(x, 3.7f);
  std::vector<double> generic(static_cast<size_t>(d * d));
  const std::vector<float> g = randn(d, d, 3).to_vector();
  for (int64_t i = 0; i < d * d; ++i)
    generic[i] = g[i] + (i % (d + 1) == 0 ? 2.0 : 0.0);  // invertible, anisotropic
  const Tensor lin = matmul(x, generic, d);
  const Tensor relu = [&] {
    Tensor r = x.clone();
    for (int64_t i = 0; i < r.numel(); ++i) r.data<float>()[i] = std::max(0.f, r.data<float>()[i]);
    return r;
  }();
  for (const Setting& st : kSettings) {
    SCOPED_TRACE(std::string(cka::estimator_name(st.est)) + " " + cka::kernel_name(st.kernel));
    CkaOptions o;
    o.estimator = st.est;
    o.kernel.kind = st.kernel;
    for (int64_t batch : {int64_t{40}, int64_t{32}, n}) {  // 32: a short last batch of 24
      const Tensor m = minibatch({x, q, s, lin, relu}, batch, o).matrix;
      for (int64_t i = 0; i < 5; ++i) {
        EXPECT_EQ(at(m, i, i), 1.0) << "layer " << i;
        for (int64_t j = 0; j < 5; ++j) EXPECT_EQ(at(m, i, j), at(m, j, i));
      }
      EXPECT_NEAR(at(m, 0, 1), 1.0, 1e-6) << "orthogonal map";
      EXPECT_NEAR(at(m, 0, 2), 1.0, 1e-6) << "isotropic scaling";
      EXPECT_LT(at(m, 0, 3), 0.98) << "a generic invertible map changes CKA";
      EXPECT_LT(at(m, 0, 4), 0.99);
      EXPECT_GT(at(m, 0, 4), 0.3);
    }
  }
}

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

TEST(Cka, CrossModelEqualsBlockOfJointMatrix) {
  const int64_t n = 90;
  const Tensor base = randn(n, 16, 8);
  std::vector<Tensor> a = {base, randn(n, 10, 9), scaled(base, 0.5f)};
  std::vector<Tensor> b = {randn(n, 6, 10), matmul(base, random_orthogonal(16, 11), 16)};
  std::vector<Tensor> joint = a;
  joint.insert(joint.end(), b.begin(), b.end());
  for (const Setting& st : kSettings) {
    SCOPED_TRACE(std::string(cka::estimator_name(st.est)) + " " + cka::kernel_name(st.kernel));
    CkaOptions o;
    o.estimator = st.est;
    o.kernel.kind = st.kernel;
    const Tensor j = minibatch(joint, 32, o).matrix;
    const Tensor c = minibatch(a, 32, o, &b).matrix;
    ASSERT_EQ(c.shape(), (Shape{3, 2}));
    for (int64_t p = 0; p < 3; ++p)
      for (int64_t q = 0; q < 2; ++q) EXPECT_NEAR(at(c, p, q), at(j, p, 3 + q), 1e-12);
    EXPECT_NEAR(at(c, 0, 1), 1.0, 1e-6);
  }
}

// A memory budget too small for all Grams processes the layers in groups with the same result.
TEST(Cka, LayerGroupsGiveTheSameMatrix) {
  const int64_t n = 64;
  std::vector<Tensor> a, b;
  for (uint64_t i = 0; i < 5; ++i) a.push_back(randn(n, 4 + 3 * i, 20 + i));
  for (uint64_t i = 0; i < 3; ++i) b.push_back(randn(n, 5 + i, 30 + i));
  a[3] = scaled(a[1], 2.f);
  for (Estimator e : {Estimator::Biased, Estimator::Unbiased}) {
    CkaOptions big{e, {}, size_t{1} << 30};
    const Tensor joint = minibatch(a, 20, big).matrix, cross = minibatch(a, 20, big, &b).matrix;
    const size_t row = static_cast<size_t>(cka::packed_size(20, e)) * sizeof(double);
    for (size_t budget : {size_t{1}, 2 * row, 5 * row}) {  // one layer, one, two layers per group
      CkaOptions small{e, {}, budget};
      EXPECT_LT(max_diff(minibatch(a, 20, small).matrix, joint), 1e-13) << budget;
      EXPECT_LT(max_diff(minibatch(a, 20, small, &b).matrix, cross), 1e-13) << budget;
    }
  }
}

TEST(Cka, ZeroVarianceLayerIsNanWithAWarning) {
  const int64_t n = 48;
  const Tensor x = randn(n, 8, 40), y = randn(n, 6, 41);
  const Tensor constant = Tensor::full({n, 3, 2, 2}, 0.25);
  for (Estimator e : {Estimator::Biased, Estimator::Unbiased}) {
    cka::MinibatchCka acc({"x", "dead_relu", "y"}, {}, CkaOptions{e, {}, size_t{1} << 30});
    cka::MinibatchCka ref({"x", "y"}, {}, CkaOptions{e, {}, size_t{1} << 30});
    for (int64_t r0 = 0; r0 < n; r0 += 16) {
      acc.add_batch({rows(x, r0, r0 + 16), rows(constant, r0, r0 + 16), rows(y, r0, r0 + 16)});
      ref.add_batch({rows(x, r0, r0 + 16), rows(y, r0, r0 + 16)});
    }
    const cka::CkaMatrix m = acc.result();
    ASSERT_EQ(m.warnings.size(), 1u);
    EXPECT_NE(m.warnings[0].find("'dead_relu'"), std::string::npos) << m.warnings[0];
    for (int64_t i = 0; i < 3; ++i) {
      EXPECT_TRUE(std::isnan(at(m.matrix, 1, i)));
      EXPECT_TRUE(std::isnan(at(m.matrix, i, 1)));
    }
    const Tensor r = ref.result().matrix;
    EXPECT_EQ(at(m.matrix, 0, 2), at(r, 0, 1));
    EXPECT_EQ(at(m.matrix, 0, 0), 1.0);
    EXPECT_EQ(at(m.matrix, 2, 2), 1.0);
  }
}

TEST(Cka, ShortBatchesAndBadShapes) {
  cka::MinibatchCka acc({"x", "y"});
  acc.add_batch({randn(8, 3, 50), randn(8, 2, 51)});
  acc.add_batch({randn(3, 3, 52), randn(3, 2, 53)});  // too short for the unbiased estimator: skipped
  EXPECT_EQ(acc.batches(), 1);
  EXPECT_EQ(acc.samples(), 8);
  const cka::CkaMatrix m = acc.result();
  ASSERT_EQ(m.warnings.size(), 1u);
  EXPECT_NE(m.warnings[0].find("3 samples"), std::string::npos);
  // Layers disagreeing on the batch's sample count: the error names the layer, the sums stay as they were.
  try {
    acc.add_batch({randn(8, 3, 54), randn(7, 2, 55)});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'y'"), std::string::npos) << e.what();
  }
  EXPECT_EQ(acc.batches(), 1);
  EXPECT_EQ(at(acc.result().matrix, 0, 1), at(m.matrix, 0, 1));
  EXPECT_THROW(cka::MinibatchCka({}), Error);
  EXPECT_THROW(cka::hsic_scale(3, Estimator::Unbiased), Error);
  EXPECT_THROW(cka::parse_estimator("debiased"), Error);
  EXPECT_THROW(cka::full_cka({"x"}, {randn(3, 4, 56)}), Error);
  EXPECT_THROW(cka::MinibatchCka({"x"}).result(), Error);  // nothing accumulated
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
}  // namespace biascka
