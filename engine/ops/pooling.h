#pragma once
// Pooling on channels-last maps. max_pool2d: x [N, H, W, C] -> [N, OH, OW, C] (PyTorch's semantics:
// padding never wins the max). global_avg_pool: [N, H, W, C] -> [N, C].
#include "engine/tensor.h"

namespace biascka {

struct MaxPoolOptions {
  int kernel = 3;
  int stride = 2;
  int padding = 1;
};

Tensor max_pool2d(const Tensor& x, MaxPoolOptions opt);
Tensor global_avg_pool(const Tensor& x);

}  // namespace biascka
