#pragma once
// CKA of a model's layers over a split (`biascka cka --checkpoint ...`): the loader's batches go through one
// or two models in evaluation mode without autograd; each batch's selected layer outputs are handed to the
// minibatch accumulator and dropped, so memory holds one batch of activations plus the centred Grams. With
// the Grams on the GPU (CkaOptions::device) the activations never leave it and the accumulator works on its
// own stream: the forward pass of batch k+1 overlaps the CKA of batch k, two batches of activations held.
#include <cstdint>
#include <string>
#include <vector>

#include "cka/accumulator.h"
#include "cka/output.h"
#include "data/loader.h"
#include "models/resnet18.h"
#include "workflows/progress.h"

namespace biascka::workflows {

struct CkaModelOptions {
  std::string layers = "all";  // all | modules | torch_cka | REGEX, resolved against each model's layer names
  std::string axis_labels = "torch_cka";  // with layers torch_cka: torch_cka | ours | both (torch_cka_axis.h)
  int64_t epochs_over_data = 1;           // passes over the split (the loader should shuffle when > 1)
  bool full = false;  // one batch of the whole split: full-data CKA; holds every activation
  cka::CkaOptions cka;
  // Label probes (cka/probes.h): "target", "bias"; one model and the linear kernel only. The report's probes
  // section holds each layer's CKA with them (and intervals with CkaOptions::bootstrap).
  std::vector<std::string> probes;
  ProgressMode progress = ProgressMode::Auto;
};

// model_b null: model_a's layers against themselves. The models' train/eval modes are restored afterwards.
cka::CkaReport cka_of_models(ResNet18& model_a, ResNet18* model_b, data::Loader& loader,
                             const CkaModelOptions& opts);

}  // namespace biascka::workflows
