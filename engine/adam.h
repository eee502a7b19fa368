#pragma once
// Adam with torch.optim.Adam's semantics (not AdamW): the L2 term is added to the gradient,
// m = b1 m + (1-b1) g, v = b2 v + (1-b2) g^2, p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps).
// On the GPU one fused multi-tensor kernel updates every parameter, and the step count lives on the
// device so that the update can be captured in a CUDA graph.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "engine/io/safetensors.h"
#include "engine/tensor.h"

namespace biascka {

struct AdamOptions {
  float lr = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
  float weight_decay = 1e-5f;
};

class Adam {
 public:
  Adam(NamedTensors params, AdamOptions opt = {});
  ~Adam();
  Adam(const Adam&) = delete;
  Adam& operator=(const Adam&) = delete;

  // Updates every parameter that has a gradient. Parameters without one are left alone (as PyTorch).
  void step();
  // Drops the gradients (CPU) or zeroes them in place (CUDA: the buffers stay put for graph replay).
  void zero_grad();
  int64_t steps() const;
  const AdamOptions& options() const { return opt_; }
  void set_lr(float lr) { opt_.lr = lr; }

  // Checkpoint state: "optim.exp_avg.<param>", "optim.exp_avg_sq.<param>" and "optim.step" (I64 []).
  NamedTensors state() const;
  // Restores what state() wrote; names and shapes must match this optimizer's parameters.
  void load_state(const TensorFile& file);

 private:
  void ensure_state();
  NamedTensors params_;
  AdamOptions opt_;
  std::vector<Tensor> exp_avg_, exp_avg_sq_;
  Tensor step_;       // I64 [] on the parameters' device
  struct DeviceList;  // the CUDA kernel's pointer table (engine/adam.cpp)
  DeviceList* device_list_ = nullptr;
};

}  // namespace biascka
