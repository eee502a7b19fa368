#pragma once
// The files of `biascka compare --out DIR` (each written atomically):
// - DIR/compare.json: the models (name, group, checkpoint), layers, settings, and per layer the model x model
//   matrix, the group x group means and the noise floor / between-group means (cka/compare.h); per stage of
//   ResNet18 the same averaged over the stage's layers; timing;
// - DIR/compare.csv: one line per layer and pair of models (a < b): layer, index, models, groups, CKA;
// - DIR/compare.npy: float64 [layers, models, models]; DIR/compare_full.npy: the stacked matrix, float64
//   [models x (layers + probes)] squared (rows in compare.json's stacked_layers order);
// - DIR/compare.png: per stage the group x group CKA (seeds averaged; the diagonal is the seed noise floor),
//   and per layer the noise floor beside the mean CKA between groups;
// - DIR/models/NAME/: each model's own cka.json, cka.csv, cka.npy, cka.png (+ intervals, probes) as
//   `biascka cka` writes them; DIR/pairs/A__B/: the cross-model matrix of each requested pair.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "workflows/compare_models.h"

namespace biascka::workflows {

// Model pairs from "all", "none" or "A:B,C:D" (model names); throws naming the option for an unknown name.
std::vector<std::pair<size_t, size_t>> parse_model_pairs(const std::string& list,
                                                         const std::vector<std::string>& names);

// Writes everything above (`own_reports` false: not DIR/models/, when the caller keeps them elsewhere);
// returns the names written, relative to dir.
std::vector<std::string> write_compare_outputs(const std::string& dir, const CompareResult& r,
                                               const std::vector<std::pair<size_t, size_t>>& pairs,
                                               bool own_reports = true);

// What report.md shows of a compare.json (it reads files a user may have edited: every problem is one line
// naming the file): the groups and, per stage, its layer count, noise floor, between-group mean and the
// pair of distinct groups with the lowest CKA.
struct CompareStageSummary {
  std::string stage;
  int64_t layers = 0;
  double floor = 0, between = 0, lowest = 0;  // NaN where undefined
  std::string lowest_pair;                    // "A / B", or "" with fewer than two groups
};
struct CompareSummary {
  std::vector<std::string> groups;
  std::vector<int64_t> group_sizes;
  std::vector<CompareStageSummary> stages;
};
CompareSummary compare_summary_from_json(const nlohmann::json& j, const std::string& path);

}  // namespace biascka::workflows
