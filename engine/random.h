#pragma once
// Seeded random tensors on the CPU from the Philox generator (kernels/philox.h), so initialisation and
// synthetic data are the same on every compiler and machine. `stream` separates independent draws that
// share a seed (e.g. one per parameter).
#include <cstdint>

#include "engine/tensor.h"

namespace biascka {

Tensor rand_uniform(const Shape& shape, float lo, float hi, uint64_t seed, uint64_t stream = 0);
Tensor rand_normal(const Shape& shape, float mean, float std, uint64_t seed, uint64_t stream = 0);
// Integers uniform in [0, n) as I64.
Tensor rand_int(const Shape& shape, int64_t n, uint64_t seed, uint64_t stream = 0);

// A 64-bit hash of a string, for deriving per-name streams (FNV-1a).
uint64_t hash64(const char* s);

}  // namespace biascka
