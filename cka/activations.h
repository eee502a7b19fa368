#pragma once
// CKA from stored activations: a safetensors file where every tensor is one layer with samples on its first
// axis (what `biascka forward` writes, or any framework's dump), compared within one file or across two.
// Batches are read as row ranges, one layer at a time, so memory holds one layer's batch plus the Grams.
// Tensors named label.* are labels, never layers: with probes (probes.h), label.target and label.bias (int64
// [N]) give the one-hot probe layers.
#include <cstdint>
#include <string>
#include <vector>

#include "cka/accumulator.h"
#include "cka/output.h"
#include "engine/io/safetensors.h"

namespace biascka::cka {

struct ActivationsRequest {
  std::string path_a, path_b;  // path_b empty: the first file's layers against themselves
  std::string select;          // regular expression over tensor names (whole name); empty: every tensor
  int64_t batch = 512;
  bool full = false;  // one batch of all samples: full-data CKA
  CkaOptions options;
  std::vector<std::string> probes;  // "target", "bias" (probes.h); one file only, linear kernel
};

// The layers an activation file offers for a selection, and their common number of samples.
struct ActivationLayers {
  std::vector<std::string> tensors;  // names in the file, file order
  std::vector<std::string> labels;   // display names: a leading "act." (biascka forward's prefix) dropped
  int64_t samples = 0;
};

// Tensors named label.* are skipped. Errors name the file: no tensor matches (listing the names), a tensor
// without a sample axis, or layers that disagree on the number of samples.
ActivationLayers activation_layers(const SafetensorsReader& file, const std::string& select);

CkaReport cka_from_activations(const ActivationsRequest& req);

}  // namespace biascka::cka
