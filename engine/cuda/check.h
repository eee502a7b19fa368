#pragma once
// Every CUDA runtime, cuBLAS and cuDNN call goes through one of these: a failure becomes a biascka::Error
// naming the call, the file and the line.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include "engine/error.h"
#include "kernels/error.h"

namespace biascka::cuda {
const char* cublas_status_name(cublasStatus_t s);

// Runs a kernels/ launcher, turning the kernels' own error type (kernels/error.h) into the library's.
template <class F>
void guard(F&& f) {
  try {
    f();
  } catch (const kernels::KernelError& e) {
    fail(e.what());
  }
}
}  // namespace biascka::cuda

#define BIASCKA_CUDA_CHECK(call)                                                                       \
  do {                                                                                                 \
    cudaError_t e_ = (call);                                                                           \
    if (e_ != cudaSuccess)                                                                             \
      ::biascka::fail(#call, " failed: ", cudaGetErrorString(e_), " (", __FILE__, ":", __LINE__, ")"); \
  } while (0)

#define BIASCKA_CUDNN_CHECK(call)                                                                       \
  do {                                                                                                  \
    cudnnStatus_t s_ = (call);                                                                          \
    if (s_ != CUDNN_STATUS_SUCCESS)                                                                     \
      ::biascka::fail(#call, " failed: ", cudnnGetErrorString(s_), " (", __FILE__, ":", __LINE__, ")"); \
  } while (0)

#define BIASCKA_CUBLAS_CHECK(call)                                                                      \
  do {                                                                                                  \
    cublasStatus_t s_ = (call);                                                                         \
    if (s_ != CUBLAS_STATUS_SUCCESS)                                                                    \
      ::biascka::fail(#call, " failed: ", ::biascka::cuda::cublas_status_name(s_), " (", __FILE__, ":", \
                      __LINE__, ")");                                                                   \
  } while (0)

// After a kernel launch: reports launch-configuration errors at the launch site.
#define BIASCKA_CUDA_CHECK_LAUNCH() BIASCKA_CUDA_CHECK(cudaGetLastError())
