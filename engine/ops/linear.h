#pragma once
// Fully connected layer: y [N, out] = x [N, in] W^T + b, with W [out, in] and b [out] as PyTorch.
// CPU: BLAS; CUDA: cuBLAS (TF32 when allowed).
#include "engine/tensor.h"

namespace biascka {

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias);

// [N, ...] -> [N, prod(...)]. Differentiable (a reshape).
Tensor flatten(const Tensor& x);

}  // namespace biascka
