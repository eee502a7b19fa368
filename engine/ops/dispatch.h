#pragma once
// What op implementations share: the CUDA switch and argument checks.
#include "engine/error.h"
#include "engine/tensor.h"

#ifdef BIASCKA_WITH_CUDA
#include "engine/cuda/runtime.h"
#include "kernels/kernels.h"
// The stream of the tensor's GPU (sets that GPU current).
#define BIASCKA_STREAM(t) \
  (::biascka::cuda::set_device((t).device().index), ::biascka::cuda::stream((t).device().index))
// Runs the CUDA branch of an op; in a build without CUDA it throws instead.
#define BIASCKA_CUDA_ONLY(...) __VA_ARGS__
#else
#define BIASCKA_CUDA_ONLY(...) \
  ::biascka::fail("this op needs the CUDA backend, which this build does not have")
#endif

namespace biascka {

inline void check_f32(const Tensor& t, const char* op, const char* arg) {
  BIASCKA_CHECK(t.defined(), op, ": ", arg, " is undefined");
  BIASCKA_CHECK(t.dtype() == DType::F32, op, ": ", arg, " must be F32, got ", dtype_name(t.dtype()));
}

inline void check_same_device(const Tensor& a, const Tensor& b, const char* op) {
  BIASCKA_CHECK(a.device() == b.device(), op, ": tensors on ", a.device().str(), " and ", b.device().str());
}

}  // namespace biascka
