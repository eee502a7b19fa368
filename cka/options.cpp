#include "cka/options.h"

#include "engine/error.h"

namespace biascka::cka {

Estimator parse_estimator(const std::string& s) {
  if (s == "biased") return Estimator::Biased;
  if (s == "unbiased") return Estimator::Unbiased;
  fail("unknown CKA estimator '", s, "' (expected biased or unbiased)");
}

const char* estimator_name(Estimator e) { return e == Estimator::Biased ? "biased" : "unbiased"; }

Kernel parse_kernel(const std::string& s) {
  if (s == "linear") return Kernel::Linear;
  if (s == "rbf") return Kernel::Rbf;
  fail("unknown CKA kernel '", s, "' (expected linear or rbf)");
}

const char* kernel_name(Kernel k) { return k == Kernel::Linear ? "linear" : "rbf"; }

}  // namespace biascka::cka
