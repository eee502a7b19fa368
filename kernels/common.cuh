#pragma once
// Shared helpers for the .cu files: launch geometry and grid-stride loops.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

namespace biascka::kernels {

constexpr int kThreads = 256;

inline unsigned blocks_for(int64_t n, int threads = kThreads) {
  // Grid-stride loops cover the rest; 65535*? keeps us far under the grid limit.
  return static_cast<unsigned>(std::clamp<int64_t>((n + threads - 1) / threads, 1, 1 << 20));
}

#define BIASCKA_GRID_STRIDE(i, n) \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); i += int64_t(gridDim.x) * blockDim.x)

// Reports a launch failure (bad configuration) at the call site; execution errors surface at the next sync.
void check_launch(const char* kernel, const char* file, int line);
#define BIASCKA_KERNEL_LAUNCHED(name) ::biascka::kernels::check_launch(name, __FILE__, __LINE__)

}  // namespace biascka::kernels
