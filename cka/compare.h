#pragma once
// Many models in one CKA matrix (`biascka compare`). The models' layers are stacked into one accumulator of
// blocks: model m's block is its L_m layers then the P label probes (the probes' rows repeat in every block,
// a cheap Gram each). One pass over the data gives,
// from the stacked products of each batch, every model's own all-pairs matrix (its diagonal block),
// every cross-model matrix (an off-diagonal block) and, per layer, the model x model matrix (the same layer
// across models). What is read from that stacked matrix lives here:
// - blocks of it as reports of their own (a model's, as `biascka cka` gives it; a model pair's, as
//   `biascka cka --checkpoint-b` gives it), the batch history of a block for its bootstrap intervals;
// - the per-layer model x model matrices, and their averages over groups of models (an objective's seeds):
//   CKA between groups g != h is the mean over the pairs (a in g, b in h); within a group, the mean over its
//   pairs of distinct models: the seed noise floor, against which a difference between objectives is read.
// Numerics: with CkaOptions::blocks = the models' L_m + P each model's diagonal block comes from a symmetric
// product of exactly its rows, so on the CPU a model's own matrix, probes and intervals are bit for bit what
// `biascka cka` gives for it alone. A cross-model block holds the same float64 sums as `cka --checkpoint-b`
// but from another BLAS product (and its self terms from the diagonal blocks rather than from row dots):
// equal to float64 rounding.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "cka/backend.h"
#include "cka/output.h"
#include "engine/tensor.h"

namespace biascka::cka {

// The stacked accumulator's name of model m's layer ("MODEL/LAYER"), and the stacked row of it.
std::string stacked_layer_name(const std::string& model, const std::string& layer);
// The report of rows x cols of a one-model report `stacked` (its matrix, intervals and probe rows are not
// touched: intervals are left out, they need the block's own bootstrap), named `layers` and `layers_b`. The
// counts, settings, timing and warnings are the stacked report's. `cross_model` as the block is.
CkaReport block_report(const CkaReport& stacked, const std::vector<size_t>& rows,
                       const std::vector<size_t>& cols, const std::vector<std::string>& layers,
                       const std::vector<std::string>& layers_b, bool cross_model);

// The one-model batch history of the layers `rows` (in that order) of a one-model history over `total`
// layers: their pair values, and the self terms from its diagonal.
BatchHistory block_history(const BatchHistory& h, size_t total, const std::vector<size_t>& rows);

// F64 [layers, models, models]: CKA of layer l of model a with layer l of model b, from the stacked F64
// matrix; rows[m][l] is model m's row of layer l.
Tensor layer_model_matrices(const Tensor& stacked, const std::vector<std::vector<size_t>>& rows);

// Per layer, CKA averaged over groups of models (group_of[m] is model m's group, e.g. its objective).
struct GroupSimilarity {
  std::vector<std::string> groups;  // in order of first appearance
  std::vector<int64_t> group_sizes;
  // F64 [layers, G, G]: g != h the mean over (a in g, b in h); g == h the mean over pairs of distinct models
  // of g (NaN for a group of one model). NaN cells are left out of the means.
  Tensor mean;
  // F64 [layers]: the seed noise floor (mean of the within-group means over groups of two or more models)
  // and the mean of the between-group means over pairs of groups; NaN when there is none.
  Tensor floor, between;
};
GroupSimilarity group_similarity(const Tensor& layer_models, const std::vector<std::string>& group_of);

// The layers of one stage of ResNet18 (stage_starts in probes.h: stem, layer1 .. layer4, head) and the
// group similarity averaged over them.
struct StageSimilarity {
  std::string stage;            // the first layer's name up to its first '.' ("layer2"), or "stem"/"head"
  size_t first = 0, count = 0;  // layers [first, first + count)
  std::vector<double> mean;     // G x G, row-major: GroupSimilarity::mean averaged over the stage's layers
  double floor = 0, between = 0;
};
std::vector<StageSimilarity> stage_similarity(const GroupSimilarity& g,
                                              const std::vector<std::string>& layers);

}  // namespace biascka::cka
