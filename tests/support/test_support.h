#pragma once
// What the test suites share: locating reference files (skipping when absent), GPU availability,
// tensor comparison with a readable report, and finite-difference gradient checks.
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/tensor.h"

namespace biascka::test {

// Path of a file under ../shared/reference (the CMake cache variable BIASCKA_REFERENCE_DIR), or "" when
// it is missing; use with BIASCKA_REQUIRE_REFERENCE.
std::string reference_path(const std::string& name);

#define BIASCKA_REQUIRE_REFERENCE(var, name)                                                \
  const std::string var = ::biascka::test::reference_path(name);                            \
  if (var.empty())                                                                          \
  GTEST_SKIP() << "reference file " << name << " not found under " << BIASCKA_REFERENCE_DIR \
               << " (configure with -DBIASCKA_REFERENCE_DIR=.../shared/reference)"

// Skips the test when this build or machine has no usable GPU, saying which.
#define BIASCKA_REQUIRE_GPU() \
  if (const std::string why_ = ::biascka::test::gpu_unavailable_reason(); !why_.empty()) GTEST_SKIP() << why_

std::string gpu_unavailable_reason();  // "" when a GPU can be used

// True in the CUDA emulation build (tests/cuda_emu), where kernels run on the CPU some 10^4 times slower than
// on a GPU: the GPU suites take smaller sizes there, still covering every kernel and variant.
constexpr bool emulated() {
#ifdef BIASCKA_CUDA_EMULATION
  return true;
#else
  return false;
#endif
}

// A fresh empty folder under the build tree for this test's outputs.
std::string temp_dir(const std::string& name);

// Runs f and returns the message of the biascka::Error it throws ("" when it throws none).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// max |a - b| <= atol + rtol * |b| elementwise; on failure reports the worst element.
::testing::AssertionResult all_close(const Tensor& a, const Tensor& b, double atol, double rtol);
double max_abs_diff(const Tensor& a, const Tensor& b);

// Central finite differences of f (a scalar function of the inputs) against autograd's gradients, in
// float64 over float32 evaluations: checks |analytic - numeric| <= atol + rtol * |numeric| for every
// element of every input (or `max_elems` sampled ones).
::testing::AssertionResult grad_check(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                                      std::vector<Tensor> inputs, double eps = 1e-2, double atol = 2e-3,
                                      double rtol = 2e-2, int64_t max_elems = 64);

}  // namespace biascka::test
