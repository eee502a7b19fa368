// Launch helpers shared by every kernel file (kernels/common.cuh).
#include <atomic>

#include "kernels/common.cuh"
#include "kernels/error.h"

namespace biascka::kernels {

void check_launch(const char* kernel, const char* file, int line) {
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess)
    kernel_fail("kernel ", kernel, " launch failed: ", cudaGetErrorString(e), " (", file, ":", line, ")");
}

void check_launch_config(const char* kernel, dim3 grid, dim3 block) {
  const int64_t threads = int64_t(block.x) * block.y * block.z;
  BIASCKA_KERNEL_CHECK(
      block.x >= 1 && block.y >= 1 && block.z >= 1 && block.z <= kMaxBlockZ && threads <= kMaxBlockThreads,
      "kernel ", kernel, ": block (", block.x, ", ", block.y, ", ", block.z, ") is not 1 to ",
      kMaxBlockThreads, " threads with z <= ", kMaxBlockZ);
  BIASCKA_KERNEL_CHECK(grid.x >= 1 && grid.y >= 1 && grid.z >= 1 && int64_t(grid.x) <= kMaxGridX &&
                           int64_t(grid.y) <= kMaxGridY && int64_t(grid.z) <= kMaxGridY,
                       "kernel ", kernel, ": grid (", grid.x, ", ", grid.y, ", ", grid.z, ") outside 1..",
                       kMaxGridX, " x 1..", kMaxGridY, " x 1..", kMaxGridY);
}

int sm_count() {
  constexpr int kMaxDevices = 64;
  static std::atomic<int> cached[kMaxDevices] = {};
  int dev = 0;
  cudaError_t e = cudaGetDevice(&dev);
  if (e != cudaSuccess)
    kernel_fail("cudaGetDevice failed: ", cudaGetErrorString(e), " (", __FILE__, ":", __LINE__, ")");
  if (dev >= 0 && dev < kMaxDevices && cached[dev].load(std::memory_order_relaxed) > 0) return cached[dev];
  int n = 0;
  e = cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev);
  if (e != cudaSuccess)
    kernel_fail("cudaDeviceGetAttribute(MultiProcessorCount) failed: ", cudaGetErrorString(e), " (", __FILE__,
                ":", __LINE__, ")");
  n = std::max(n, 1);
  if (dev >= 0 && dev < kMaxDevices) cached[dev].store(n, std::memory_order_relaxed);
  return n;
}

}  // namespace biascka::kernels
