// Dropout with the Philox mask of kernels/philox.h. CPU twin: engine/ops/cpu/dropout.cpp. Element i keeps its
// value when uniform(seed, base + i) >= p with base = *counter_end - n read from the device, so both
// devices draw the same mask bit for bit; the scale is computed once on the host exactly as the twin does.
#include "kernels/common.cuh"
#include "kernels/kernels.h"
#include "kernels/launch.cuh"
#include "kernels/philox.h"

namespace biascka::kernels {

namespace {

__global__ void dropout_kernel(const float* in, float* out, int64_t n, float p, float scale, uint64_t seed,
                               const int64_t* counter_end) {
  const uint64_t offset = static_cast<uint64_t>(*counter_end) - static_cast<uint64_t>(n);
  BIASCKA_GRID_STRIDE(i, n) {
    out[i] = philox::uniform(seed, offset + static_cast<uint64_t>(i)) >= p ? in[i] * scale : 0.f;
  }
}

}  // namespace

void dropout_apply(const float* in, float* out, int64_t n, float p, uint64_t seed, const int64_t* counter_end,
                   cudaStream_t s) {
  if (n <= 0) return;
  const float scale = 1.f / (1.f - p);
  launch("dropout_apply", dropout_kernel, blocks_for(n), kThreads, 0, s, in, out, n, p, scale, seed,
         counter_end);
}

}  // namespace biascka::kernels
