#include "cka/bootstrap.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

#include "engine/error.h"
#include "engine/random.h"

namespace biascka::cka {

namespace {

// [R, T] counts of each batch in each replicate: T draws with replacement per replicate.
std::vector<double> resample_counts(int64_t replicates, int64_t batches, uint64_t seed) {
  const Tensor draws = rand_int({replicates, batches}, batches, seed, hash64("cka.bootstrap"));
  const int64_t* d = draws.data<int64_t>();
  std::vector<double> counts(static_cast<size_t>(replicates * batches), 0.0);
  for (int64_t r = 0; r < replicates; ++r)
    for (int64_t k = 0; k < batches; ++k) counts[static_cast<size_t>(r * batches + d[r * batches + k])] += 1;
  return counts;
}

// [R, cols] = counts [R, T] times columns [c0, c0 + cols) of values [T, ld], each element summed over t in
// order by the same code, so that one model's self sums (its diagonal, copied) equal the pair sums' diagonal
// bit for bit and self-CKA stays exactly 1.
std::vector<double> weighted_sums(const std::vector<double>& counts, int64_t replicates, int64_t batches,
                                  const std::vector<double>& values, int64_t ld, int64_t c0, int64_t cols) {
  std::vector<double> out(static_cast<size_t>(replicates * cols), 0.0);
  for (int64_t k = 0; k < replicates; ++k) {
    double* o = out.data() + k * cols;
    for (int64_t t = 0; t < batches; ++t) {
      const double c = counts[static_cast<size_t>(k * batches + t)];
      if (c == 0) continue;
      const double* v = values.data() + t * ld + c0;
      for (int64_t j = 0; j < cols; ++j) o[j] += c * v[j];
    }
  }
  return out;
}

// numpy's default (linear) quantile of the sorted-in-place values v, q in [0, 1].
double quantile(std::vector<double>& v, double q) {
  const double h = q * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(h));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(lo), v.end());
  const double a = v[lo];
  if (lo + 1 >= v.size()) return a;
  const double b = *std::min_element(v.begin() + static_cast<std::ptrdiff_t>(lo) + 1, v.end());
  return a + (h - static_cast<double>(lo)) * (b - a);
}

}  // namespace

bool bootstrap_fits(int64_t replicates, size_t la, size_t lb) {
  return static_cast<double>(replicates) * static_cast<double>(la) * static_cast<double>(lb) <=
         kMaxBootstrapWork;
}

CkaIntervals bootstrap_intervals(const BatchHistory& h, int64_t la, int64_t lb, const BootstrapSpec& spec) {
  const int64_t t = h.batches, r = spec.replicates, cells = la * lb;
  BIASCKA_CHECK(t >= 1 && r >= 1, "CKA bootstrap: ", r, " replicates of ", t, " batches");
  BIASCKA_CHECK(spec.level > 0 && spec.level < 1, "CKA bootstrap: level ", spec.level, " outside (0, 1)");
  BIASCKA_CHECK(h.pairs.size() == static_cast<size_t>(t * cells) &&
                    h.self_a.size() == static_cast<size_t>(t * la) &&
                    h.self_b.size() == static_cast<size_t>(t * lb),
                "CKA bootstrap: the kept batches do not match a ", la, " x ", lb, " matrix");
  const std::vector<double> counts = resample_counts(r, t, spec.seed);
  const std::vector<double> self_a = weighted_sums(counts, r, t, h.self_a, la, 0, la);
  const std::vector<double> self_b = weighted_sums(counts, r, t, h.self_b, lb, 0, lb);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<double> low(static_cast<size_t>(cells), nan), high(static_cast<size_t>(cells), nan), v;
  v.reserve(static_cast<size_t>(r));
  // Rows of the matrix in blocks, so that the replicates' pair sums stay under ~32 MiB.
  const int64_t rows = std::clamp<int64_t>((int64_t{1} << 22) / std::max<int64_t>(1, r * lb), 1, la);
  for (int64_t i0 = 0; i0 < la; i0 += rows) {
    const int64_t ni = std::min(rows, la - i0);
    const std::vector<double> pairs = weighted_sums(counts, r, t, h.pairs, cells, i0 * lb, ni * lb);
    for (int64_t i = i0; i < i0 + ni; ++i)
      for (int64_t j = 0; j < lb; ++j) {
        v.clear();
        for (int64_t k = 0; k < r; ++k) {
          const double sa = self_a[static_cast<size_t>(k * la + i)],
                       sb = self_b[static_cast<size_t>(k * lb + j)];
          const double p = pairs[static_cast<size_t>(k * ni * lb + (i - i0) * lb + j)];
          if (sa > 0 && sb > 0) v.push_back(p / std::sqrt(sa * sb));
        }
        if (v.empty()) continue;
        low[static_cast<size_t>(i * lb + j)] = quantile(v, (1 - spec.level) / 2);
        high[static_cast<size_t>(i * lb + j)] = quantile(v, (1 + spec.level) / 2);
      }
  }
  return {Tensor::from_vector(low, {la, lb}), Tensor::from_vector(high, {la, lb})};
}

}  // namespace biascka::cka
