#include "engine/random.h"

#include <cmath>

#include "kernels/philox.h"

namespace biascka {

namespace {
// Element i of stream s: the counter (i, s) under key `seed` — distinct streams never share counters.
philox::U4 draw(uint64_t seed, uint64_t stream, uint64_t i) {
  const philox::U4 ctr{static_cast<uint32_t>(i), static_cast<uint32_t>(i >> 32),
                       static_cast<uint32_t>(stream), static_cast<uint32_t>(stream >> 32)};
  return philox::philox4x32_10(ctr, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
}
double unit(uint32_t bits) { return (bits + 0.5) / 4294967296.0; }  // (0, 1)
}  // namespace

Tensor rand_uniform(const Shape& shape, float lo, float hi, uint64_t seed, uint64_t stream) {
  Tensor t = Tensor::empty(shape);
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i)
    p[i] = static_cast<float>(lo + (hi - lo) * unit(draw(seed, stream, i).x));
  return t;
}

Tensor rand_normal(const Shape& shape, float mean, float std, uint64_t seed, uint64_t stream) {
  Tensor t = Tensor::empty(shape);
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) {  // Box-Muller on two uniforms of one draw
    const philox::U4 r = draw(seed, stream, i);
    const double z = std::sqrt(-2.0 * std::log(unit(r.x))) * std::cos(2.0 * M_PI * unit(r.y));
    p[i] = static_cast<float>(mean + std * z);
  }
  return t;
}

Tensor rand_int(const Shape& shape, int64_t n, uint64_t seed, uint64_t stream) {
  Tensor t = Tensor::empty(shape, DType::I64);
  int64_t* p = t.data<int64_t>();
  for (int64_t i = 0; i < t.numel(); ++i) {
    const philox::U4 r = draw(seed, stream, i);
    const uint64_t v = (uint64_t{r.x} << 32) | r.y;
    p[i] = static_cast<int64_t>(v % static_cast<uint64_t>(n));
  }
  return t;
}

uint64_t hash64(const char* s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; ++s) h = (h ^ static_cast<unsigned char>(*s)) * 1099511628211ull;
  return h;
}

}  // namespace biascka
