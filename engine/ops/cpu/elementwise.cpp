// The CPU's elementwise, layout and linear entries (twins of kernels/elementwise.cu, linear.cu, cuBLAS).
#include <cstdint>
#include <cstring>

#include "engine/gemm.h"
#include "engine/ops/cpu/cpu_backend.h"
#include "engine/parallel.h"

namespace biascka {

namespace {
constexpr int64_t kGrain = 1 << 15;

// out[i] = f(a[i], b[i]) in parallel (b may be null: f then sees a[i] twice; out may be a, same index
// only). Plain pointer arguments and a value functor let the loop vectorise; an element-index lambda over
// captured references did not (relu's backward ran at half the memory bandwidth).
template <class F>
void cpu_map(float* out, const float* a, const float* b, int64_t n, F f) {
  const float* bb = b ? b : a;
  parallel_for(n, kGrain, [=](int64_t lo, int64_t hi) {
#pragma omp simd
    for (int64_t i = lo; i < hi; ++i) out[i] = f(a[i], bb[i]);
  });
}
}  // namespace

void CpuBackend::fill(void* x, int64_t n, int elem_size, uint64_t bits) const {
  char* p = static_cast<char*>(x);
  if (bits == 0) {
    std::memset(p, 0, static_cast<size_t>(n) * elem_size);
    return;
  }
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) std::memcpy(p + i * elem_size, &bits, elem_size);
  });
}

void CpuBackend::axpy(float* y, const float* x, int64_t n, float alpha) const {
  cpu_map(y, y, x, n, [alpha](float u, float v) { return u + alpha * v; });
}

void CpuBackend::add(float* out, const float* a, const float* b, int64_t n) const {
  cpu_map(out, a, b, n, [](float u, float v) { return u + v; });
}

void CpuBackend::scale(float* out, const float* x, int64_t n, float alpha) const {
  cpu_map(out, x, nullptr, n, [alpha](float u, float) { return alpha * u; });
}

void CpuBackend::relu_forward(float* y, const float* x, int64_t n) const {
  cpu_map(y, x, nullptr, n, [](float u, float) { return u > 0.f ? u : 0.f; });
}

void CpuBackend::relu_backward(float* gx, const float* gy, const float* y, int64_t n) const {
  cpu_map(gx, gy, y, n, [](float gv, float yv) { return yv > 0.f ? gv : 0.f; });
}

void CpuBackend::increment_i64(int64_t* counter, int64_t by) const { *counter += by; }

void CpuBackend::permute_nchw_nhwc(float* out, const float* in, int64_t n, int64_t c, int64_t hw,
                                   bool to_nhwc) const {
  parallel_for(n * c, 16, [&](int64_t b, int64_t e) {
    for (int64_t nc = b; nc < e; ++nc) {
      const int64_t img = nc / c, ch = nc % c;
      for (int64_t p = 0; p < hw; ++p) {
        const int64_t a = nc * hw + p, z = (img * hw + p) * c + ch;  // NCHW index, NHWC index
        if (to_nhwc)
          out[z] = in[a];
        else
          out[a] = in[z];
      }
    }
  });
}

void CpuBackend::gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                      const float* b, int64_t ldb, float* c, int64_t ldc, bool accumulate) const {
  biascka::gemm<float>(ta, tb, m, n, k, 1.f, a, lda, b, ldb, accumulate ? 1.f : 0.f, c, ldc);
}

void CpuBackend::broadcast_rows(float* y, const float* b, int64_t rows, int64_t cols) const {
  parallel_for(rows, 64, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t j = 0; j < cols; ++j) y[r * cols + j] = b[j];
  });
}

void CpuBackend::column_sums(float* out, const float* x, int64_t rows, int64_t cols) const {
  for (int64_t j = 0; j < cols; ++j) out[j] = 0.f;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j) out[j] += x[r * cols + j];
}

}  // namespace biascka
