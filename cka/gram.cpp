#include "cka/gram.h"

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <limits>

#include "cka/grain.h"
#include "engine/error.h"
#include "engine/gemm.h"
#include "engine/parallel.h"

#ifdef BIASCKA_HAVE_OPENBLAS
#include <cblas.h>
#endif

namespace biascka::cka {

void center_features(const float* x, int64_t n, int64_t d, float* out) {
  // Columns in chunks, one per thread; each chunk walks the rows so the reads stay sequential.
  parallel_for(d, std::max<int64_t>(64, grain_for(n)), [&](int64_t c0, int64_t c1) {
    std::vector<double> mean(static_cast<size_t>(c1 - c0), 0.0);
    for (int64_t i = 0; i < n; ++i) {
      const float* row = x + i * d;
      for (int64_t c = c0; c < c1; ++c) mean[c - c0] += row[c];
    }
    for (double& m : mean) m /= static_cast<double>(n);
    for (int64_t i = 0; i < n; ++i) {
      const float* row = x + i * d;
      float* o = out + i * d;
      for (int64_t c = c0; c < c1; ++c) o[c] = static_cast<float>(row[c] - mean[c - c0]);
    }
  });
}

void column_means(const float* x, int64_t n, int64_t d, float* mu) {
  // Four interleaved float64 sums per column (row i goes to sum i % 4), added as (s0 + s1) + (s2 + s3): the
  // GPU twin's order. The rows are walked in order over a chunk of columns, so the reads stay sequential.
  parallel_for(d, std::max<int64_t>(64, grain_for(n)), [&](int64_t c0, int64_t c1) {
    const int64_t w = c1 - c0;
    std::vector<double> s(static_cast<size_t>(4 * w), 0.0);
    for (int64_t i = 0; i < n; ++i) {
      const float* row = x + i * d + c0;
      double* acc = s.data() + (i % 4) * w;
      for (int64_t c = 0; c < w; ++c) acc[c] += row[c];
    }
    for (int64_t c = 0; c < w; ++c)
      mu[c0 + c] =
          static_cast<float>(((s[c] + s[w + c]) + (s[2 * w + c] + s[3 * w + c])) / static_cast<double>(n));
  });
}

float round_tf32(float v) {
  if (!std::isfinite(v)) return v;
  // Adding half of the dropped part's unit to the magnitude bits and truncating rounds ties away from zero.
  return std::bit_cast<float>((std::bit_cast<uint32_t>(v) + 0x1000u) & 0xffffe000u);
}

void centred_operands(const float* x, int64_t n, int64_t d, const float* mu, bool tf32, float* out) {
  parallel_for(n, grain_for(d), [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i)
      for (int64_t c = 0; c < d; ++c) {
        const float v = x[i * d + c] - mu[c];
        out[i * d + c] = tf32 ? round_tf32(v) : v;
      }
  });
}

double linear_gram(const float* xc, int64_t n, int64_t d, float* k) {
#ifdef BIASCKA_HAVE_OPENBLAS
  // The Gram is symmetric: syrk does half of gemm's work. It fills the upper triangle; mirror it.
  cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, static_cast<int>(n), static_cast<int>(d), 1.0f, xc,
              static_cast<int>(d), 0.0f, k, static_cast<int>(n));
  parallel_for(n, grain_for(n), [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i)
      for (int64_t j = 0; j < i; ++j) k[i * n + j] = k[j * n + i];
  });
  return static_cast<double>(n) * static_cast<double>(n + 1) * static_cast<double>(d);
#else
  gemm<float>(false, true, n, n, d, 1.0f, xc, d, xc, d, 0.0f, k, n);
  return 2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(d);
#endif
}

void rbf_from_linear(float* k, int64_t n, double threshold) {
  BIASCKA_CHECK(threshold > 0, "RBF threshold must be positive, got ", threshold);
  const size_t nn = static_cast<size_t>(n) * static_cast<size_t>(n);
  std::vector<double> diag(static_cast<size_t>(n)), d2(nn);
  for (int64_t i = 0; i < n; ++i) diag[i] = k[i * n + i];
  parallel_for(n, grain_for(n), [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i)
      for (int64_t j = 0; j < n; ++j)
        d2[i * n + j] = diag[i] + diag[j] - 2.0 * static_cast<double>(k[i * n + j]);
  });
  // np.median: the mean of the two middle values when the count is even.
  std::vector<double> sorted = d2;
  const size_t hi = nn / 2;
  std::nth_element(sorted.begin(), sorted.begin() + hi, sorted.end());
  double median = sorted[hi];
  if (nn % 2 == 0) median = 0.5 * (median + *std::max_element(sorted.begin(), sorted.begin() + hi));
  // A batch where most points coincide has a zero median: identical points get 1, all others 0.
  const double inv =
      median > 0 ? 1.0 / (2.0 * threshold * threshold * median) : std::numeric_limits<double>::infinity();
  parallel_for(static_cast<int64_t>(nn), grain_for(1), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) k[i] = d2[i] == 0 ? 1.0f : static_cast<float>(std::exp(-d2[i] * inv));
  });
}

double layer_gram(const Tensor& x, const KernelSpec& kernel, float* k, std::vector<float>& scratch,
                  double* product_s) {
  BIASCKA_CHECK(x.defined() && x.dim() >= 1 && x.size(0) > 0,
                "CKA: a layer's activations need samples on the first axis");
  Tensor h = x.to(Device::cpu());
  if (h.dtype() != DType::F32) h = h.to_dtype(DType::F32);
  const int64_t n = h.size(0), d = h.numel() / n;
  BIASCKA_CHECK(d > 0, "CKA: a layer with no features per sample, shape ", shape_str(h.shape()));
  scratch.resize(static_cast<size_t>(n * d));
  center_features(h.data<float>(), n, d, scratch.data());
  const auto t0 = std::chrono::steady_clock::now();
  const double flops = linear_gram(scratch.data(), n, d, k);
  if (product_s) *product_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (kernel.kind == Kernel::Rbf) rbf_from_linear(k, n, kernel.rbf_threshold);
  return flops;
}

Tensor gram(const Tensor& x, const KernelSpec& kernel) {
  const int64_t n = x.size(0);
  Tensor k = Tensor::empty({n, n});
  std::vector<float> scratch;
  layer_gram(x, kernel, k.data<float>(), scratch);
  return k;
}

}  // namespace biascka::cka
