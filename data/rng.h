#pragma once
// The data folder's own small deterministic generator (SplitMix64): shuffles, subsets and colour noise must
// be the same on every compiler and standard library, which std::shuffle and std::normal_distribution are
// not. Streams are derived from (seed, purpose, index) so parallel workers draw independently and any
// piece (one image's noise, one epoch's order) can be recomputed on its own.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <utility>
#include <vector>

namespace biascka::data {

inline uint64_t mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// A stream key from a seed and any number of integers (purpose tags, epoch, sample index...).
template <class... Ints>
uint64_t stream_key(uint64_t seed, Ints... parts) {
  uint64_t k = mix64(seed);
  ((k = mix64(k ^ static_cast<uint64_t>(parts))), ...);
  return k;
}

class Rng {
 public:
  explicit Rng(uint64_t key) : state_(key) {}
  uint64_t next() { return mix64(state_ += 0x9E3779B97F4A7C15ull); }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
  // Uniform in [0, n) without modulo bias (Lemire's multiply-shift with rejection).
  uint64_t below(uint64_t n) {
    for (;;) {
      const unsigned __int128 m = static_cast<unsigned __int128>(next()) * n;
      const uint64_t lo = static_cast<uint64_t>(m);
      if (lo >= n || lo >= (-n) % n) return static_cast<uint64_t>(m >> 64);
    }
  }
  double normal() {  // Box-Muller; one value per call keeps the stream position simple
    const double u1 = 1.0 - uniform(), u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
  template <class T>
  void shuffle(std::vector<T>& v) {  // Fisher-Yates
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[below(i)]);
  }

 private:
  uint64_t state_;
};

// 0..n-1 in an order fixed by key.
inline std::vector<int64_t> permutation(int64_t n, uint64_t key) {
  std::vector<int64_t> p(static_cast<size_t>(n));
  std::iota(p.begin(), p.end(), int64_t{0});
  Rng(key).shuffle(p);
  return p;
}

}  // namespace biascka::data
