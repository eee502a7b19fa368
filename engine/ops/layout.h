#pragma once
// Conversions between PyTorch's NCHW and the engine's channels-last NHWC. Used at the edges: inputs read
// from .npy/safetensors, activations dumped for comparison with PyTorch. Not differentiable.
#include "engine/tensor.h"

namespace biascka {

Tensor nchw_to_nhwc(const Tensor& x);  // [N, C, H, W] -> [N, H, W, C]
Tensor nhwc_to_nchw(const Tensor& x);  // [N, H, W, C] -> [N, C, H, W]

}  // namespace biascka
