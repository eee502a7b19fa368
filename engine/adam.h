#pragma once
// Adam with torch.optim.Adam's semantics (not AdamW): the L2 term is added to the gradient,
// m = b1 m + (1-b1) g, v = b2 v + (1-b2) g^2, p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps).
// One multi-tensor backend entry updates every parameter (on the GPU one fused kernel), and the step count
// lives on the device so that the update can be captured in a CUDA graph.
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
  // The backend's table of (param, grad, moments) pointers in device memory, rebuilt when a gradient
  // buffer moved (on the CPU every step: zero_grad drops the gradients; on the GPU only at the start).
  void rebuild_table();
  NamedTensors params_;
  AdamOptions opt_;
  std::vector<Tensor> exp_avg_, exp_avg_sq_;
  Tensor step_;                           // I64 [] on the parameters' device
  Tensor table_;                          // U8 bytes of AdamTensor[table_count_]
  std::vector<const void*> table_grads_;  // the grad pointers table_ was built with
  int table_count_ = 0;
  int64_t table_max_numel_ = 0;
};

}  // namespace biascka
