#pragma once
// Accuracy per (target, bias) group and the two group metrics of the debiasing literature:
//   unbiased accuracy: the mean of the groups' accuracies over every non-empty (target, bias) group, so
//     each combination weighs the same whatever its size (Nam et al. 2020, "Learning from Failure", the
//     "unbiased" evaluation of Colored MNIST and Corrupted CIFAR-10; Bahng et al. 2020, ReBias);
//   worst-group accuracy: the smallest of those accuracies (Sagawa et al. 2020, "Distributionally robust
//     neural networks", group DRO).
// Counted on the host from each sample's prediction (engine/ops/metrics.h's counters give aligned and
// conflicting totals only, not the groups).
#include <cstdint>
#include <vector>

namespace biascka::workflows {

class GroupAccuracy {
 public:
  explicit GroupAccuracy(int64_t num_classes = 0);
  // Throws when target or bias is outside [0, num_classes).
  void add(int64_t target, int64_t bias, bool correct);
  // NaN when every group is empty.
  double unbiased() const;
  double worst_group() const;
  int64_t groups_present() const;                                                // non-empty groups
  const std::vector<std::vector<int64_t>>& total() const { return total_; }      // [target][bias]
  const std::vector<std::vector<int64_t>>& correct() const { return correct_; }  // [target][bias]

 private:
  int64_t classes_;
  std::vector<std::vector<int64_t>> total_, correct_;
};

}  // namespace biascka::workflows
