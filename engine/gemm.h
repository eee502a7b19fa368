#pragma once
// Dense matrix products on the CPU, row-major: C[M,N] = alpha * op(A) * op(B) + beta * C, where op(A) is
// A[M,K] (lda >= K) or, transposed, A stored as [K,M] (lda >= M); likewise B.
// Through OpenBLAS when the build found it, else the internal blocked GEMM below, which is always built
// (the GPU host has no OpenBLAS) and tested against it.
#include <cstdint>

namespace biascka {

template <class T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
          const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

// The internal implementation (packed panels, a register-blocked micro-kernel, OpenMP over row blocks).
template <class T>
void gemm_internal(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
                   int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

const char* blas_name();  // "OpenBLAS 0.3.21 ..." or "internal"

}  // namespace biascka
