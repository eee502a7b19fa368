#pragma once
// Philox4x32-10 (Salmon et al., SC'11), the counter-based generator behind dropout: the value for element
// i of a call is a pure function of (seed, offset + i), so the CPU twin and the CUDA kernel draw the same
// mask, and a run is reproducible from its seed without saving any generator state but the offset.
#include <cstdint>

#include "kernels/hd.h"

namespace biascka::philox {

struct U4 {
  uint32_t x, y, z, w;
};

BIASCKA_HD uint32_t mulhilo(uint32_t a, uint32_t b, uint32_t* hi) {
  const uint64_t p = static_cast<uint64_t>(a) * b;
  *hi = static_cast<uint32_t>(p >> 32);
  return static_cast<uint32_t>(p);
}

BIASCKA_HD U4 philox4x32_10(U4 ctr, uint32_t k0, uint32_t k1) {
  for (int r = 0; r < 10; ++r) {
    uint32_t hi0, hi1;
    const uint32_t lo0 = mulhilo(0xD2511F53u, ctr.x, &hi0);
    const uint32_t lo1 = mulhilo(0xCD9E8D57u, ctr.z, &hi1);
    ctr = U4{hi1 ^ ctr.y ^ k0, lo1, hi0 ^ ctr.w ^ k1, lo0};
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return ctr;
}

// A uniform float in [0, 1) for element `index` of the stream `seed` (24 random bits, exact in float).
BIASCKA_HD float uniform(uint64_t seed, uint64_t index) {
  const U4 ctr{static_cast<uint32_t>(index), static_cast<uint32_t>(index >> 32), 0u, 0u};
  const U4 r = philox4x32_10(ctr, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
  return static_cast<float>(r.x >> 8) * (1.0f / 16777216.0f);
}

}  // namespace biascka::philox
