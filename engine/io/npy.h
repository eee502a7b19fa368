#pragma once
// NumPy .npy files, versions 1-3, little-endian, C order: <f4, <f8, <i8, <i4, |u1 (and <f2 read as F32).
// Errors name the file and the problem (bad magic, truncated, Fortran order, big-endian, unknown dtype).
#include <string>

#include "engine/tensor.h"

namespace biascka {

Tensor read_npy(const std::string& path);
void write_npy(const std::string& path, const Tensor& t);  // atomically

}  // namespace biascka
