// The internal blocked GEMM (the only GEMM on machines without OpenBLAS, e.g. the GPU host) against a
// naive double-precision product, for every transpose combination and awkward sizes (edges of the 6x16
// micro-tile and the 256/96 cache blocks), and the dispatching gemm<> against the same.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <tuple>
#include <vector>

#include "engine/gemm.h"
#include "engine/random.h"
#include "tests/support/test_support.h"

namespace biascka {
namespace {

template <class T>
void check(bool ta, bool tb, int64_t m, int64_t n, int64_t k, bool internal) {
  const Tensor a32 = rand_normal({ta ? k : m, ta ? m : k}, 0, 1, 1),
               b32 = rand_normal({tb ? n : k, tb ? k : n}, 0, 1, 2), c32 = rand_normal({m, n}, 0, 1, 3);
  const Tensor a = a32.to_dtype(dtype_of<T>()), b = b32.to_dtype(dtype_of<T>());
  Tensor c = c32.to_dtype(dtype_of<T>());
  const T alpha = T(0.75), beta = T(-0.5);
  const int64_t lda = ta ? m : k, ldb = tb ? k : n;
  std::vector<double> want(m * n);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t p = 0; p < k; ++p) {
        const double av = ta ? a.data<T>()[p * lda + i] : a.data<T>()[i * lda + p];
        const double bv = tb ? b.data<T>()[j * ldb + p] : b.data<T>()[p * ldb + j];
        s += av * bv;
      }
      want[i * n + j] = alpha * s + beta * double(c.data<T>()[i * n + j]);
    }
  if (internal)
    gemm_internal<T>(ta, tb, m, n, k, alpha, a.data<T>(), lda, b.data<T>(), ldb, beta, c.data<T>(), n);
  else
    gemm<T>(ta, tb, m, n, k, alpha, a.data<T>(), lda, b.data<T>(), ldb, beta, c.data<T>(), n);
  // float: sqrt(k) * eps_f32 * |terms| ~ 1e-5 for k ~ 600; double is exact to ~1e-13.
  const double tol = std::is_same_v<T, float> ? 2e-4 : 1e-10;
  double worst = 0;
  for (int64_t i = 0; i < m * n; ++i) worst = std::max(worst, std::fabs(double(c.data<T>()[i]) - want[i]));
  EXPECT_LT(worst, tol * std::sqrt(double(k)))
      << "ta " << ta << " tb " << tb << " m " << m << " n " << n << " k " << k;
}

TEST(Gemm, InternalMatchesNaiveEverywhere) {
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (auto [m, n, k] : {std::tuple<int64_t, int64_t, int64_t>{1, 1, 1},
                             {7, 17, 5},
                             {97, 33, 300},
                             {13, 2100, 9},
                             {200, 70, 600}}) {
        check<float>(ta, tb, m, n, k, true);
        check<double>(ta, tb, m, n, k, true);
        check<float>(ta, tb, m, n, k, false);
      }
}

TEST(Gemm, ZeroKScalesC) {
  std::vector<float> c = {1, 2, 3, 4};
  gemm_internal<float>(false, false, 2, 2, 0, 1.f, nullptr, 1, nullptr, 2, 0.5f, c.data(), 2);
  EXPECT_EQ(c, (std::vector<float>{0.5f, 1.f, 1.5f, 2.f}));
}

}  // namespace
}  // namespace biascka
