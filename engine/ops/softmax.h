#pragma once
// Softmax and log-softmax over the last dimension of [N, C], and the negative log-likelihood of targets
// (mean over the batch) on log-probabilities, all differentiable. The training objectives have their own
// fused kernels (losses/); these are the composable ops (the NLL model's last layer, tests).
#include "engine/tensor.h"

namespace biascka {

Tensor softmax(const Tensor& z);
Tensor log_softmax(const Tensor& z);
// mean_i -logp[i, y_i]; y is I64 [N] on the same device.
Tensor nll_loss(const Tensor& logp, const Tensor& y);

}  // namespace biascka
