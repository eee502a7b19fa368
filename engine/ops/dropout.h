#pragma once
// Inverted dropout: in training, each element is zeroed with probability p and the rest scaled by
// 1 / (1 - p); in evaluation it is the identity. The mask of element i is philox(seed, offset + i), the same
// on CPU and GPU and reproducible from the run's seed.
//
// `counter` (I64 [] on x's device) is the generator's position: a training call first advances it by
// x.numel() and then draws from the old position, on the device itself, so that a captured CUDA graph
// draws fresh masks at every replay; the backward pass reuses the forward's position.
#include <cstdint>

#include "engine/tensor.h"

namespace biascka {

Tensor dropout(const Tensor& x, float p, bool training, uint64_t seed, Tensor& counter);
// The same with a fixed starting position (tests): element i uses philox(seed, offset + i).
Tensor dropout(const Tensor& x, float p, bool training, uint64_t seed, uint64_t offset);

}  // namespace biascka
