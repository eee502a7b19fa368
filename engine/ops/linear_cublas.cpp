// Dense products on the GPU through cuBLAS. cuBLAS is column-major: the row-major product
// C = op(A) op(B) is computed as C^T = op(B)^T op(A)^T, i.e. the operands swapped.
#include <cstdint>

#include "engine/cuda/check.h"
#include "engine/cuda/runtime.h"
#include "engine/ops/linear_cublas.h"

namespace biascka::cuda {

void cublas_gemm(int device, bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                 const float* b, int64_t ldb, float* c, int64_t ldc, bool accumulate) {
  cuda::set_device(device);
  cublasHandle_t h = cuda::cublas(device);
  const float one = 1.f, beta = accumulate ? 1.f : 0.f;
  // Without TF32 the pedantic FP32 compute type: plain CUBLAS_COMPUTE_32F would still take TF32 tensor
  // cores if anything set the shared handle's math mode to CUBLAS_TF32_TENSOR_OP_MATH.
  const cublasComputeType_t compute =
      cuda::math_mode(device) == MathMode::Tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F_PEDANTIC;
  BIASCKA_CUBLAS_CHECK(cublasGemmEx(
      h, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, static_cast<int>(n),
      static_cast<int>(m), static_cast<int>(k), &one, b, CUDA_R_32F, static_cast<int>(ldb), a, CUDA_R_32F,
      static_cast<int>(lda), &beta, c, CUDA_R_32F, static_cast<int>(ldc), compute, CUBLAS_GEMM_DEFAULT));
}

}  // namespace biascka::cuda
