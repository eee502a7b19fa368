#pragma once
// Accuracy of a model on a split: overall, on bias-aligned (target == bias) and bias-conflicting samples,
// unbiased (mean over (target, bias) groups) and worst-group accuracy (workflows/group_accuracy.h), per
// class, the confusion matrix, and optionally the objective's mean loss.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/loader.h"
#include "losses/objectives.h"
#include "models/resnet18.h"
#include "workflows/progress.h"

namespace biascka::workflows {

struct EvalResult {
  int64_t count = 0, aligned_count = 0, conflicting_count = 0;
  double accuracy = 0, aligned_accuracy = 0, conflicting_accuracy = 0;  // NaN where a group is empty
  double unbiased_accuracy = 0, worst_group_accuracy = 0;  // over non-empty (target, bias) groups
  int64_t groups = 0;                                      // non-empty (target, bias) groups
  double loss = 0;                                         // NaN without an objective
  std::vector<double> per_class;                           // accuracy per target class
  std::vector<std::vector<int64_t>> confusion;             // [target][prediction]
  // Keys: accuracy, aligned_accuracy, conflicting_accuracy, unbiased_accuracy, worst_group_accuracy,
  // groups, per_class, confusion, count, aligned_count, conflicting_count, loss (fractions in [0, 1]; NaN
  // written as null).
  nlohmann::json to_json() const;
};

// Runs the whole loader once in evaluation mode (running statistics, no dropout, no grad) and restores the
// model's previous mode.
EvalResult evaluate(ResNet18& model, data::Loader& loader, int64_t num_classes,
                    const losses::Objective* objective, const losses::ObjectiveParams& params,
                    ProgressMode progress, const std::string& label = "eval");

}  // namespace biascka::workflows
