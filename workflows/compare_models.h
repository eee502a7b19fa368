#pragma once
// `biascka compare`: many models over one split in one pass (cka/compare.h has the arithmetic). Each batch is
// staged on the models' device once and goes through the models in turn; every model's selected layers and
// the label probes form its block of one stacked minibatch accumulator, so the stacked products of each
// batch give every model's own matrix (bit for bit that of `biascka cka` on the CPU), every cross-model
// matrix and the per-layer model x model matrices. Activations are produced on demand, model by model, and
// only one model's are cached: when the stacked Grams fit --gram-memory (CkaOptions::gram_memory) every model
// runs once per batch; when they do not, the accumulator works in layer groups and a model whose layers are
// needed again runs again (the memory stays bounded, the result is the same). On a GPU the accumulator keeps
// the activations of the layers it is still reading (the batch's group) until its side stream is done with
// them.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "cka/compare.h"
#include "cka/output.h"
#include "data/loader.h"
#include "models/resnet18.h"
#include "workflows/progress.h"

namespace biascka::workflows {

struct ComparedModel {
  std::string name;    // unique among the models: row labels, folder names
  std::string group;   // what its seeds share (the objective); the noise floor is CKA within a group
  std::string source;  // its checkpoint, for the reports
  ResNet18* model = nullptr;
  uint64_t bootstrap_seed = 0;  // of its own matrix's intervals (reproduce: the run's seed)
};

struct CompareOptions {
  std::string layers = "all";             // as `biascka cka --layers`
  std::string axis_labels = "torch_cka";  // with layers torch_cka (torch_cka_axis.h)
  cka::CkaOptions cka;              // bootstrap: replicates of each model's own intervals (seeds per model)
  std::vector<std::string> probes;  // label probes of every model's own report (linear kernel)
  ProgressMode progress = ProgressMode::Auto;
};

struct CompareResult {
  std::vector<ComparedModel> models;
  // The layers every model has (model 0's order; row labels, axis labels applied): what layer_models and
  // the groups are over. A model may have more (nll's network ends in one more layer).
  std::vector<std::string> layers;
  std::vector<std::vector<std::string>> model_layers;  // each model's own layers (labels)
  std::vector<size_t> block_first;                     // each model's first row in the stacked matrix
  cka::CkaReport stacked;           // the models' blocks (layers, then probes): one report of them all
  std::vector<cka::CkaReport> own;  // each model's own matrix, probes and intervals, as `biascka cka` gives
  Tensor layer_models;              // F64 [layers, models, models]
  cka::GroupSimilarity groups;      // over ComparedModel::group
  double forward_s = 0;             // the forward passes
  int64_t forward_passes = 0;       // model forward passes run (models x batches when the Grams fit)
};

// Throws before any work when the models share no selected layer, or the options cannot be met.
CompareResult compare_models(const std::vector<ComparedModel>& models, data::Loader& loader,
                             const CompareOptions& opts);

// The full cross-model matrix of models a and b (rows a's layers, columns b's), as `biascka cka --checkpoint
// A --checkpoint-b B` gives it (no intervals).
cka::CkaReport pair_report(const CompareResult& r, size_t a, size_t b);

}  // namespace biascka::workflows
