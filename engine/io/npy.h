#pragma once
// NumPy .npy files, versions 1-3, little-endian, C order: <f4, <f8, <i8, <i4, |u1 (and <f2 read as F32).
// Errors name the file and the problem (bad magic, truncated, Fortran order, big-endian, unknown dtype, a
// shape that is negative, not a number, or whose size overflows); the size the header implies is checked
// against the bytes the file holds before the tensor is allocated.
#include <string>

#include "engine/tensor.h"

namespace biascka {

Tensor read_npy(const std::string& path);
// The same from the file's bytes; `path` names it in errors.
Tensor parse_npy(const std::string& bytes, const std::string& path);
void write_npy(const std::string& path, const Tensor& t);  // atomically

}  // namespace biascka
