#pragma once
// Inverted dropout: in training, each element is zeroed with probability p and the rest scaled by
// 1 / (1 - p); in evaluation it is the identity. The mask of element i is philox(seed, offset + i), so it
// is the same on CPU and GPU and reproducible from the run's seed; the caller advances `offset`.
#include <cstdint>

#include "engine/tensor.h"

namespace biascka {

Tensor dropout(const Tensor& x, float p, bool training, uint64_t seed, uint64_t offset);

}  // namespace biascka
