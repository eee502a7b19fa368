#include "cka/estimator.h"

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

int64_t min_batch(Estimator e) { return e == Estimator::Biased ? 2 : 4; }

double hsic_scale(int64_t n, Estimator e) {
  BIASCKA_CHECK(n >= min_batch(e), "the ", estimator_name(e), " HSIC estimator needs at least ", min_batch(e),
                " samples per batch, got ", n);
  const double dn = static_cast<double>(n);
  return e == Estimator::Biased ? 1.0 / ((dn - 1) * (dn - 1)) : 1.0 / (dn * (dn - 3));
}

}  // namespace biascka::cka
