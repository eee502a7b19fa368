// The CPU's softmax entries (twins of kernels/softmax.cu): stable (max subtracted), sums in double.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "engine/ops/cpu/cpu_backend.h"
#include "engine/parallel.h"

namespace biascka {

// Twin of kernels::softmax_forward: stable (max subtracted), sums in double.
void CpuBackend::softmax_forward(const float* z, float* y, int64_t rows, int64_t cols, bool log) const {
  parallel_for(rows, 64, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float* zr = z + r * cols;
      float* yr = y + r * cols;
      float mx = zr[0];
      for (int64_t j = 1; j < cols; ++j) mx = std::max(mx, zr[j]);
      double s = 0;
      for (int64_t j = 0; j < cols; ++j) s += std::exp(double(zr[j]) - mx);
      const double lse = mx + std::log(s);
      for (int64_t j = 0; j < cols; ++j)
        yr[j] = log ? static_cast<float>(zr[j] - lse) : static_cast<float>(std::exp(zr[j] - lse));
    }
  });
}

// Twin of kernels::softmax_backward. softmax: gz = y (gy - <gy, y>); log: gz = gy - exp(y) sum(gy).
void CpuBackend::softmax_backward(const float* gy, const float* y, float* gz, int64_t rows, int64_t cols,
                                  bool log) const {
  parallel_for(rows, 64, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float* g = gy + r * cols;
      const float* yr = y + r * cols;
      float* o = gz + r * cols;
      double s = 0;
      for (int64_t j = 0; j < cols; ++j) s += log ? double(g[j]) : double(g[j]) * yr[j];
      for (int64_t j = 0; j < cols; ++j)
        o[j] = log ? static_cast<float>(g[j] - std::exp(double(yr[j])) * s)
                   : static_cast<float>(yr[j] * (g[j] - s));
    }
  });
}
}  // namespace biascka
