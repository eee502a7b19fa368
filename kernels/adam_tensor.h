#pragma once
// One parameter of the multi-tensor Adam step (kernels/adam.cu, its CPU twin engine/ops/cpu/adam.cpp): a
// table of these lives in the device's memory so that a captured CUDA graph can replay the step.
#include <cstdint>

namespace biascka {

struct AdamTensor {
  float* param;
  const float* grad;
  float* exp_avg;
  float* exp_avg_sq;
  int64_t numel;
};

// Adam's hyperparameters as the step kernels take them (engine/adam.h's AdamOptions).
struct AdamHyper {
  float lr, beta1, beta2, eps, weight_decay;
};

}  // namespace biascka
