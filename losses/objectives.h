#pragma once
// The paper's six objectives (DESIGN.md, Objectives), each a fused forward+backward: one pass gives the
// mean loss over the batch and its gradient with respect to the model's output. Numerically stable
// (log-sum-exp, softplus), one backend entry per device (engine/backend.h) sharing the per-row arithmetic;
// behind one registry, which the apps and the trainer use by name.
#include <string>
#include <vector>

#include "engine/backend.h"
#include "engine/tensor.h"

namespace biascka::losses {

// The objectives' identities, defined once in the engine beside their per-row arithmetic (ObjectiveKind).
using Kind = ObjectiveKind;

struct Objective {
  const char* name;  // "sce", "nll", ...
  Kind kind;
  const char* group;      // "probabilistic" | "margin-based" (the paper's Table 3 grouping)
  const char* label;      // as the paper writes it: "L_SCE", ...
  bool log_softmax_head;  // the network ends in a LogSoftmax layer (nll): the loss reads log-probabilities
  const char* formula;
};

struct ObjectiveParams {
  float sos_alpha = 1.f;  // Hui & Belkin's rescaled square loss
  float sos_beta = 1.f;
};

// In the paper's Table 3 order: sce, bce, nll, l1, l2, sos.
const std::vector<Objective>& objectives();
// By name; throws listing the valid names.
const Objective& objective(const std::string& name);
// "all" or a comma-separated list of names.
std::vector<const Objective*> parse_objectives(const std::string& list);

struct LossResult {
  Tensor loss;  // F64 [] on the input's device (no host synchronisation)
  Tensor grad;  // dL/d(input), same shape and device as the input
};

// input: [B, C] logits (or log-probabilities for nll); targets: I64 [B] on the same device.
LossResult loss_and_grad(const Objective& obj, const Tensor& input, const Tensor& targets,
                         const ObjectiveParams& params = {});

}  // namespace biascka::losses
