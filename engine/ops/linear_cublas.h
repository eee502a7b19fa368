#pragma once
#include <cstdint>

namespace biascka::cuda {
// Row-major C[m,n] = op(A) op(B) (+ C when accumulate) through cuBLAS on `device`, in the device's math
// mode (TF32 tensor cores or pedantic FP32).
void cublas_gemm(int device, bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                 const float* b, int64_t ldb, float* c, int64_t ldc, bool accumulate);
}  // namespace biascka::cuda
