#include "cka/hsic.h"

#include "cka/centering.h"
#include "engine/error.h"
#include "engine/gemm.h"

#ifdef BIASCKA_HAVE_OPENBLAS
#include <cblas.h>
#endif

namespace biascka::cka {

double hsic(const Tensor& k, const Tensor& l, Estimator e) {
  BIASCKA_CHECK(k.shape() == l.shape(), "hsic: Gram shapes differ, ", shape_str(k.shape()), " vs ",
                shape_str(l.shape()));
  const Tensor ck = center_gram(k, e), cl = center_gram(l, e);
  const double* a = ck.data<double>();
  const double* b = cl.data<double>();
  double s = 0;
  for (int64_t i = 0; i < ck.numel(); ++i) s += a[i] * b[i];
  return s * hsic_scale(k.size(0), e);
}

double packed_products(const double* ga, int64_t la, const double* gb, int64_t lb, int64_t m, double* out,
                       int64_t ldo) {
  // The packing stores each off-diagonal pair once, so the Frobenius product is twice the dot product.
  if (ga == gb && la == lb) {
#ifdef BIASCKA_HAVE_OPENBLAS
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, static_cast<int>(la), static_cast<int>(m), 2.0, ga,
                static_cast<int>(m), 0.0, out, static_cast<int>(ldo));
    const double flops = static_cast<double>(la) * static_cast<double>(la + 1) * static_cast<double>(m);
#else
    gemm<double>(false, true, la, la, m, 2.0, ga, m, ga, m, 0.0, out, ldo);
    const double flops = 2.0 * static_cast<double>(la) * static_cast<double>(la) * static_cast<double>(m);
#endif
    for (int64_t i = 0; i < la; ++i)
      for (int64_t j = 0; j < i; ++j) out[i * ldo + j] = out[j * ldo + i];
    return flops;
  }
  gemm<double>(false, true, la, lb, m, 2.0, ga, m, gb, m, 0.0, out, ldo);
  return 2.0 * static_cast<double>(la) * static_cast<double>(lb) * static_cast<double>(m);
}

}  // namespace biascka::cka
