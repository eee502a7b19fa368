#include "workflows/group_accuracy.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "engine/error.h"

namespace biascka::workflows {

GroupAccuracy::GroupAccuracy(int64_t num_classes)
    : classes_(num_classes),
      total_(num_classes, std::vector<int64_t>(num_classes, 0)),
      correct_(num_classes, std::vector<int64_t>(num_classes, 0)) {}

void GroupAccuracy::add(int64_t target, int64_t bias, bool correct) {
  BIASCKA_CHECK(target >= 0 && target < classes_ && bias >= 0 && bias < classes_, "group accuracy: (target ",
                target, ", bias ", bias, ") outside [0, ", classes_, ")");
  ++total_[target][bias];
  if (correct) ++correct_[target][bias];
}

namespace {
template <typename F>
void each_group_accuracy(const std::vector<std::vector<int64_t>>& total,
                         const std::vector<std::vector<int64_t>>& correct, F f) {
  for (size_t t = 0; t < total.size(); ++t)
    for (size_t b = 0; b < total[t].size(); ++b)
      if (total[t][b] > 0) f(static_cast<double>(correct[t][b]) / static_cast<double>(total[t][b]));
}
}  // namespace

double GroupAccuracy::unbiased() const {
  double sum = 0;
  int64_t n = 0;
  each_group_accuracy(total_, correct_, [&](double a) {
    sum += a;
    ++n;
  });
  return n ? sum / static_cast<double>(n) : std::numeric_limits<double>::quiet_NaN();
}

double GroupAccuracy::worst_group() const {
  double worst = std::numeric_limits<double>::quiet_NaN();
  each_group_accuracy(total_, correct_,
                      [&](double a) { worst = std::isnan(worst) ? a : std::min(worst, a); });
  return worst;
}

int64_t GroupAccuracy::groups_present() const {
  int64_t n = 0;
  each_group_accuracy(total_, correct_, [&](double) { ++n; });
  return n;
}

}  // namespace biascka::workflows
