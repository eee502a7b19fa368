#pragma once
// Label probes: the one-hot target and bias labels of each batch as extra "layers" of the minibatch
// accumulator, so CKA(layer, target) and CKA(layer, bias) come for every layer from the same pass at the cost
// of one Gram row each. A probe's activations are the one-hot matrix Y [n, C] (float32), so its Gram Y Y^T
// is the same-label indicator (the linear kernel on the labels). The accumulator sees the probes as its last
// layers; split_probes then moves their columns out of the layer matrix into CkaReport::probes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace biascka::cka {

struct CkaReport;

// Labels at or above this are refused (a one-hot row of that many classes per sample).
inline constexpr int64_t kMaxProbeClasses = 100000;

// "target,bias" (either or both, any order, no repeats) -> {"target", "bias"}; "" -> {}. Throws naming the
// option for anything else.
std::vector<std::string> parse_probes(const std::string& list);

// The accumulator's name of probe `probe` ("probe.target"), unlike any ResNet18 layer or activation name.
std::string probe_layer_name(const std::string& probe);

// One-hot F32 [n, classes] on the CPU of I64 labels [n]. Throws naming `what` for a label outside
// [0, classes).
Tensor one_hot(const Tensor& labels, int64_t classes, const std::string& what);

// Per layer, CKA with each probe and (bootstrap on) its interval: F64 [layers, probes], NaN where undefined;
// ci_low/ci_high undefined without a bootstrap. This is what reproduce or a figure reads from a report.
struct ProbeReport {
  std::vector<std::string> probes;  // "target", "bias"
  Tensor value, ci_low, ci_high;
  bool empty() const { return probes.empty(); }
};

// r's matrix (and intervals) holds `probes` extra rows and columns at the end (one model): moves the layers'
// values against them into r.probes and shrinks the matrix, intervals and layer names to the layers.
void split_probes(CkaReport& r, const std::vector<std::string>& probes);

// The indices i > 0 where a new stage of layers starts: the part of the name before the first '.'
// ("layer1", "layer2", ...) differs from the previous layer's, names without a '.' (the stem, the head)
// counting as one stage of their own. For probes.png's stage marks.
std::vector<size_t> stage_starts(const std::vector<std::string>& layers);

}  // namespace biascka::cka
