#pragma once
// Argument checks the ops share.
#include "engine/error.h"
#include "engine/tensor.h"

namespace biascka {

inline void check_f32(const Tensor& t, const char* op, const char* arg) {
  BIASCKA_CHECK(t.defined(), op, ": ", arg, " is undefined");
  BIASCKA_CHECK(t.dtype() == DType::F32, op, ": ", arg, " must be F32, got ", dtype_name(t.dtype()));
}

inline void check_same_device(const Tensor& a, const Tensor& b, const char* op) {
  BIASCKA_CHECK(a.device() == b.device(), op, ": tensors on ", a.device().str(), " and ", b.device().str());
}

}  // namespace biascka
