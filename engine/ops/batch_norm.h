#pragma once
// Batch normalisation over the last dimension (channels of an NHWC map, or features of [N, C]).
// Training: normalises with the batch's mean and biased variance and updates the running statistics in
// place exactly as PyTorch does (momentum 0.1, running_var fed with the unbiased variance). Evaluation:
// normalises with the running statistics. Differentiable w.r.t. x, weight and bias in both modes.
#include "engine/tensor.h"

namespace biascka {

struct BatchNormOptions {
  bool training = true;
  float momentum = 0.1f;
  float eps = 1e-5f;
};

Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& running_mean,
                  Tensor& running_var, BatchNormOptions opt);

}  // namespace biascka
