// The CPU's dropout entry (twin of kernels/dropout.cu): the same Philox stream (kernels/philox.h).
#include <cstdint>

#include "engine/ops/cpu/cpu_backend.h"
#include "engine/parallel.h"
#include "kernels/philox.h"

namespace biascka {

// Twin of kernels::dropout_apply: out[i] = in[i] * keep(i) / (1 - p), keep from philox(seed, end - n + i).
void CpuBackend::dropout_apply(const float* in, float* out, int64_t n, float p, uint64_t seed,
                               const int64_t* counter_end) const {
  const float scale = 1.f / (1.f - p);
  const uint64_t offset = static_cast<uint64_t>(*counter_end) - static_cast<uint64_t>(n);
  parallel_for(n, 4096, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) out[i] = philox::uniform(seed, offset + i) >= p ? in[i] * scale : 0.f;
  });
}
}  // namespace biascka
