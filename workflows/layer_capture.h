#pragma once
// What every CKA pass over models shares: a forward pass that keeps the selected layers' outputs, and the
// evaluation mode for the pass (dropout off, batch norm on its running statistics), restored afterwards.
#include <string>
#include <vector>

#include "data/loader.h"
#include "engine/device.h"
#include "engine/tensor.h"
#include "models/resnet18.h"

namespace biascka::workflows {

// The selected layers' outputs of one forward pass of `images`, in the selection's order. A layer may be
// selected more than once (--layers torch_cka repeats layers): every position gets the same tensor.
// `to_host`: copied to the CPU as they come. Throws naming a layer that produced no output.
std::vector<Tensor> capture_layers(ResNet18& model, const Tensor& images,
                                   const std::vector<std::string>& layers, bool to_host);

// The label probes' activations of a batch (cka/probes.h: one-hot target or bias labels, F32 [n, classes]) on
// `device`, in the order of `probes`; labels outside the split's classes are an error naming the split.
std::vector<Tensor> probe_activations(const data::Batch& batch, const std::vector<std::string>& probes,
                                      const data::Split& split, Device device);

// Evaluation mode for the guard's life, then the model's previous mode (a null model: nothing).
class EvalModeGuard {
 public:
  explicit EvalModeGuard(ResNet18* m) : m_(m), was_(m && m->training()) {
    if (m_) m_->eval();
  }
  ~EvalModeGuard() {
    if (m_) m_->train(was_);
  }
  EvalModeGuard(const EvalModeGuard&) = delete;
  EvalModeGuard& operator=(const EvalModeGuard&) = delete;

 private:
  ResNet18* m_;
  bool was_;
};

}  // namespace biascka::workflows
