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
#include <string>
#include <utility>
#include <vector>

#include "workflows/compare_models.h"

namespace biascka::workflows {

// Model pairs from "all", "none" or "A:B,C:D" (model names); throws naming the option for an unknown name.
std::vector<std::pair<size_t, size_t>> parse_model_pairs(const std::string& list,
                                                         const std::vector<std::string>& names);

// Writes everything above; returns the names written, relative to dir.
std::vector<std::string> write_compare_outputs(const std::string& dir, const CompareResult& r,
                                               const std::vector<std::pair<size_t, size_t>>& pairs);

// compare.png alone (reproduce puts one per dataset in its report). False when there is nothing to draw.
bool write_compare_figure(const std::string& path, const CompareResult& r, const std::string& title);

}  // namespace biascka::workflows
