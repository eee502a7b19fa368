// Launch helpers shared by every kernel file (kernels/common.cuh).
#include <atomic>

#include "engine/error.h"
#include "kernels/common.cuh"

namespace biascka::kernels {

void check_launch(const char* kernel, const char* file, int line) {
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess)
    fail("kernel ", kernel, " launch failed: ", cudaGetErrorString(e), " (", file, ":", line, ")");
}

int sm_count() {
  constexpr int kMaxDevices = 64;
  static std::atomic<int> cached[kMaxDevices] = {};
  int dev = 0;
  cudaError_t e = cudaGetDevice(&dev);
  if (e != cudaSuccess)
    fail("cudaGetDevice failed: ", cudaGetErrorString(e), " (", __FILE__, ":", __LINE__, ")");
  if (dev >= 0 && dev < kMaxDevices && cached[dev].load(std::memory_order_relaxed) > 0) return cached[dev];
  int n = 0;
  e = cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev);
  if (e != cudaSuccess)
    fail("cudaDeviceGetAttribute(MultiProcessorCount) failed: ", cudaGetErrorString(e), " (", __FILE__, ":",
         __LINE__, ")");
  n = std::max(n, 1);
  if (dev >= 0 && dev < kMaxDevices) cached[dev].store(n, std::memory_order_relaxed);
  return n;
}

}  // namespace biascka::kernels
