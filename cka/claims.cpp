#include "cka/claims.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "engine/error.h"

namespace biascka::cka {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double pearson(const std::vector<double>& a, const std::vector<double>& b) {
  const double n = static_cast<double>(a.size());
  const double ma = std::accumulate(a.begin(), a.end(), 0.0) / n;
  const double mb = std::accumulate(b.begin(), b.end(), 0.0) / n;
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  if (saa == 0 || sbb == 0) return kNaN;  // a constant vector: undefined
  return sab / std::sqrt(saa * sbb);
}

void check_square(const SquareMatrix& m, const char* what) {
  BIASCKA_CHECK(m.n >= 0 && m.values.size() == static_cast<size_t>(m.n * m.n), what, ": a ", m.n, " x ", m.n,
                " matrix needs ", m.n * m.n, " values, got ", m.values.size());
}
}  // namespace

std::vector<double> average_ranks(const std::vector<double>& v) {
  std::vector<size_t> order(v.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  std::vector<double> rank(v.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    const double mean_rank = (static_cast<double>(i) + static_cast<double>(j)) / 2 + 1;  // ranks i+1 .. j+1
    for (size_t k = i; k <= j; ++k) rank[order[k]] = mean_rank;
    i = j + 1;
  }
  return rank;
}

double spearman(const std::vector<double>& x, const std::vector<double>& y) {
  BIASCKA_CHECK(x.size() == y.size(), "spearman: ", x.size(), " values against ", y.size());
  std::vector<double> fx, fy;
  for (size_t i = 0; i < x.size(); ++i)
    if (std::isfinite(x[i]) && std::isfinite(y[i])) {
      fx.push_back(x[i]);
      fy.push_back(y[i]);
    }
  if (fx.size() < 2) return kNaN;
  return pearson(average_ranks(fx), average_ranks(fy));
}

double depth_decay(const SquareMatrix& m) {
  check_square(m, "depth_decay");
  std::vector<double> distance, cka;
  for (int64_t i = 0; i < m.n; ++i)
    for (int64_t j = i + 1; j < m.n; ++j) {
      distance.push_back(static_cast<double>(j - i));
      cka.push_back(m.at(i, j));
    }
  return spearman(distance, cka);
}

BlockStructure block_index(const SquareMatrix& m, double threshold) {
  check_square(m, "block_index");
  // Both triangles must pass; NaN compares false, so a NaN cell breaks a run.
  auto similar = [&](int64_t i, int64_t j) { return m.at(i, j) >= threshold && m.at(j, i) >= threshold; };
  BlockStructure best;
  for (int64_t begin = 0; begin < m.n; ++begin) {
    int64_t end = begin + 1;  // [begin, end) is a block; extend while the next layer is similar to all
    while (end < m.n) {
      bool all = true;
      for (int64_t i = begin; i < end && all; ++i) all = similar(i, end);
      if (!all) break;
      ++end;
    }
    if (end - begin >= 2 && end - begin > best.end - best.begin) {
      best.begin = begin;
      best.end = end;
    }
  }
  best.fraction = m.n > 0 ? static_cast<double>(best.end - best.begin) / static_cast<double>(m.n) : 0;
  return best;
}

std::optional<size_t> probe_crossing(const std::vector<double>& target, const std::vector<double>& bias) {
  BIASCKA_CHECK(target.size() == bias.size(), "probe_crossing: ", target.size(), " target values against ",
                bias.size(), " bias values");
  for (size_t i = 0; i < target.size(); ++i)
    if (std::isfinite(target[i]) && std::isfinite(bias[i]) && bias[i] < target[i]) return i;
  return std::nullopt;
}

}  // namespace biascka::cka
