#include "engine/gemm.h"

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

#include "engine/parallel.h"

#ifdef BIASCKA_HAVE_OPENBLAS
#include <cblas.h>
#endif

namespace biascka {

namespace {

// Micro-tile: MR rows of A times NR columns of B held in registers (6 x 16 floats = 12 AVX2 registers).
template <class T>
struct Tile;
template <>
struct Tile<float> {
  static constexpr int MR = 6, NR = 16;
};
template <>
struct Tile<double> {
  static constexpr int MR = 6, NR = 8;
};
constexpr int64_t KC = 256, MC = 96, NC = 2048;  // cache blocks: A block ~L2, B panel ~L3

template <class T>
inline T at(const T* a, int64_t lda, bool trans, int64_t i, int64_t j) {  // element (i, j) of op(A)
  return trans ? a[j * lda + i] : a[i * lda + j];
}

// Packs op(A)[i0:i0+mc, k0:k0+kc] into MR-row strips, k-major within a strip, zero-padded.
template <class T>
void pack_a(const T* a, int64_t lda, bool trans, int64_t i0, int64_t mc, int64_t k0, int64_t kc, T* out) {
  constexpr int MR = Tile<T>::MR;
  for (int64_t is = 0; is < mc; is += MR) {
    const int64_t rows = std::min<int64_t>(MR, mc - is);
    for (int64_t p = 0; p < kc; ++p) {
      for (int r = 0; r < MR; ++r) *out++ = r < rows ? at(a, lda, trans, i0 + is + r, k0 + p) : T(0);
    }
  }
}

// Packs op(B)[k0:k0+kc, j0:j0+nc] into NR-column strips, k-major within a strip, zero-padded.
template <class T>
void pack_b(const T* b, int64_t ldb, bool trans, int64_t k0, int64_t kc, int64_t j0, int64_t nc, T* out) {
  constexpr int NR = Tile<T>::NR;
  for (int64_t js = 0; js < nc; js += NR) {
    const int64_t cols = std::min<int64_t>(NR, nc - js);
    for (int64_t p = 0; p < kc; ++p) {
      if (!trans && cols == NR) {
        const T* src = b + (k0 + p) * ldb + j0 + js;
        for (int c = 0; c < NR; ++c) out[c] = src[c];
      } else {
        for (int c = 0; c < NR; ++c) out[c] = c < cols ? at(b, ldb, trans, k0 + p, j0 + js + c) : T(0);
      }
      out += NR;
    }
  }
}

// acc = sum_p a[p][0:MR] (outer) b[p][0:NR]; then C = alpha*acc + (first ? beta*C : C).
template <class T>
void micro_kernel(int64_t kc, const T* a, const T* b, T* c, int64_t ldc, int64_t rows, int64_t cols, T alpha,
                  T beta, bool first) {
  constexpr int MR = Tile<T>::MR, NR = Tile<T>::NR;
  T acc[MR][NR] = {};
  for (int64_t p = 0; p < kc; ++p) {
    const T* ap = a + p * MR;
    const T* bp = b + p * NR;
    for (int r = 0; r < MR; ++r) {
      const T av = ap[r];
#pragma omp simd
      for (int j = 0; j < NR; ++j) acc[r][j] += av * bp[j];
    }
  }
  for (int64_t r = 0; r < rows; ++r) {
    T* cr = c + r * ldc;
    for (int64_t j = 0; j < cols; ++j) {
      const T prev = first ? (beta == T(0) ? T(0) : beta * cr[j]) : cr[j];
      cr[j] = prev + alpha * acc[r][j];
    }
  }
}

}  // namespace

template <class T>
void gemm_internal(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
                   const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  constexpr int MR = Tile<T>::MR, NR = Tile<T>::NR;
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {  // C = beta * C
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == T(0) ? T(0) : beta * c[i * ldc + j];
    return;
  }
  std::vector<T> bpack(static_cast<size_t>(KC) * ((std::min(NC, n) + NR - 1) / NR * NR));
  for (int64_t j0 = 0; j0 < n; j0 += NC) {
    const int64_t nc = std::min(NC, n - j0);
    for (int64_t k0 = 0; k0 < k; k0 += KC) {
      const int64_t kc = std::min(KC, k - k0);
      const bool first = k0 == 0;
      pack_b(b, ldb, tb, k0, kc, j0, nc, bpack.data());
      const int64_t mblocks = (m + MC - 1) / MC;
      parallel_for(mblocks, 1, [&](int64_t mb0, int64_t mb1) {
        std::vector<T> apack(static_cast<size_t>(KC) * ((MC + MR - 1) / MR * MR));
        for (int64_t mb = mb0; mb < mb1; ++mb) {
          const int64_t i0 = mb * MC, mc = std::min(MC, m - i0);
          pack_a(a, lda, ta, i0, mc, k0, kc, apack.data());
          for (int64_t js = 0; js < nc; js += NR) {
            for (int64_t is = 0; is < mc; is += MR) {
              micro_kernel<T>(kc, apack.data() + is * kc, bpack.data() + js * kc,
                              c + (i0 + is) * ldc + j0 + js, ldc, std::min<int64_t>(MR, mc - is),
                              std::min<int64_t>(NR, nc - js), alpha, beta, first);
            }
          }
        }
      });
    }
  }
}

template <>
void gemm<float>(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                 const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
#ifdef BIASCKA_HAVE_OPENBLAS
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, alpha,
              a, lda, b, ldb, beta, c, ldc);
#else
  gemm_internal<float>(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
#endif
}

template <>
void gemm<double>(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const double* a,
                  int64_t lda, const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
#ifdef BIASCKA_HAVE_OPENBLAS
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, alpha,
              a, lda, b, ldb, beta, c, ldc);
#else
  gemm_internal<double>(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
#endif
}

template void gemm_internal<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t,
                                   const float*, int64_t, float, float*, int64_t);
template void gemm_internal<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t,
                                    const double*, int64_t, double, double*, int64_t);

const char* blas_name() {
#ifdef BIASCKA_HAVE_OPENBLAS
  static const std::string name = std::string("OpenBLAS (") + openblas_get_config() + ")";
  return name.c_str();
#else
  return "internal blocked GEMM";
#endif
}

}  // namespace biascka
