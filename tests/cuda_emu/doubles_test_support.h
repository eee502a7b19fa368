#pragma once
// Helpers of the doubles' standalone test (test_cuda_emu_doubles): device buffers from the stand-in
// runtime, random data, deferred queues.
#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "tests/cuda_emu/test_doubles_standalone_stream.h"

namespace cuda_emu::testing {

// Floats in the stand-in's device memory (which is host memory, so tests read and write it directly).
class DeviceFloats {
 public:
  explicit DeviceFloats(size_t n)
      : n_(n), p_(static_cast<float*>(standalone::device_alloc(n * sizeof(float)))) {
    fill(0.f);
  }
  explicit DeviceFloats(const std::vector<float>& v) : DeviceFloats(v.size()) {
    if (!v.empty()) std::memcpy(p_, v.data(), v.size() * sizeof(float));
  }
  ~DeviceFloats() { standalone::device_free(p_); }
  DeviceFloats(const DeviceFloats&) = delete;
  DeviceFloats& operator=(const DeviceFloats&) = delete;

  float* get() const { return p_; }
  size_t size() const { return n_; }
  size_t bytes() const { return n_ * sizeof(float); }
  float& operator[](size_t i) const { return p_[i]; }
  std::vector<float> host() const { return std::vector<float>(p_, p_ + n_); }
  void fill(float v) const {
    for (size_t i = 0; i < n_; ++i) p_[i] = v;
  }

 private:
  size_t n_;
  float* p_;
};

inline std::vector<float> random_floats(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> v(n);
  for (float& x : v) x = u(gen);
  return v;
}

inline float nan_value() { return std::numeric_limits<float>::quiet_NaN(); }

// Queued work waits for run_queued while one of these lives.
struct Deferred {
  Deferred() { standalone::set_deferred(true); }
  ~Deferred() {
    standalone::run_queued();
    standalone::set_deferred(false);
  }
};

// A stream token for one test.
struct Stream {
  cudaStream_t s = standalone::create_stream();
  ~Stream() { standalone::destroy_stream(s); }
};

// |got - want| within `rel` of the scale of the terms that made `want` (sum of |products|, at least 1e-30).
inline ::testing::AssertionResult close(double got, double want, double scale, double rel) {
  if (std::abs(got - want) <= rel * std::max(scale, 1e-30)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "got " << got << ", want " << want << " (scale " << scale << ", rel " << rel << ")";
}

}  // namespace cuda_emu::testing
