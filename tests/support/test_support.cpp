#include "tests/support/test_support.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "engine/autograd.h"
#include "engine/device.h"

namespace biascka::test {

std::string reference_path(const std::string& name) {
  const std::filesystem::path p = std::filesystem::path(BIASCKA_REFERENCE_DIR) / name;
  return std::filesystem::exists(p) ? p.string() : std::string();
}

std::string gpu_unavailable_reason() {
  if (!cuda_compiled()) return "this build has no CUDA backend";
  if (cuda_device_count() == 0)
    return "no CUDA GPU on this machine (GPU parity tests run in scripts/gpu-check)";
  return "";
}

std::string temp_dir(const std::string& name) {
  namespace fs = std::filesystem;
  const fs::path p = fs::path(BIASCKA_BINARY_DIR) / "test_tmp" / name;
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  const std::vector<float> x = a.to_vector(), y = b.to_vector();
  double m = 0;
  for (size_t i = 0; i < x.size() && i < y.size(); ++i) m = std::max(m, std::fabs(double(x[i]) - y[i]));
  return m;
}

::testing::AssertionResult all_close(const Tensor& a, const Tensor& b, double atol, double rtol) {
  if (a.numel() != b.numel())
    return ::testing::AssertionFailure()
           << "sizes differ: " << shape_str(a.shape()) << " vs " << shape_str(b.shape());
  const std::vector<float> x = a.to_vector(), y = b.to_vector();
  size_t bad = 0, worst = 0;
  double worst_excess = -1;
  for (size_t i = 0; i < x.size(); ++i) {
    const double d = std::fabs(double(x[i]) - y[i]), tol = atol + rtol * std::fabs(double(y[i]));
    if (!(d <= tol)) {
      ++bad;
      if (d - tol > worst_excess || std::isnan(d)) {
        worst_excess = d - tol;
        worst = i;
      }
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << bad << " of " << x.size() << " elements differ beyond atol " << atol << " + rtol " << rtol
         << "; worst at flat index " << worst << ": " << x[worst] << " vs " << y[worst];
}

::testing::AssertionResult grad_check(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                                      std::vector<Tensor> inputs, double eps, double atol, double rtol,
                                      int64_t max_elems) {
  for (auto& t : inputs) {
    t.zero_grad();
    t.set_requires_grad(true);
  }
  Tensor out = f(inputs);
  if (out.numel() != 1) return ::testing::AssertionFailure() << "grad_check needs a scalar function";
  out.backward();
  std::ostringstream errors;
  int nerr = 0;
  for (size_t k = 0; k < inputs.size(); ++k) {
    Tensor x = inputs[k];
    const Tensor g = x.grad();
    if (!g.defined()) return ::testing::AssertionFailure() << "input " << k << " got no gradient";
    const std::vector<float> analytic = g.to_vector();
    const int64_t n = x.numel();
    const int64_t stride = std::max<int64_t>(1, n / max_elems);
    for (int64_t i = 0; i < n; i += stride) {
      NoGrad ng;
      float* p = x.data<float>();
      const float orig = p[i];
      p[i] = static_cast<float>(orig + eps);
      const double fp = f(inputs).item();
      p[i] = static_cast<float>(orig - eps);
      const double fm = f(inputs).item();
      p[i] = orig;
      const double numeric = (fp - fm) / (2 * eps);
      const double d = std::fabs(analytic[i] - numeric);
      if (!(d <= atol + rtol * std::fabs(numeric)) && nerr++ < 5)
        errors << "\n  input " << k << " element " << i << ": autograd " << analytic[i]
               << ", finite difference " << numeric;
    }
  }
  if (nerr == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << nerr << " gradient elements disagree:" << errors.str();
}

}  // namespace biascka::test
