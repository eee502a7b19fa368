#include "cka/estimator.h"

#include "engine/error.h"

namespace biascka::cka {

int64_t min_batch(Estimator e) { return e == Estimator::Biased ? 2 : 4; }

double hsic_scale(int64_t n, Estimator e) {
  BIASCKA_CHECK(n >= min_batch(e), "the ", estimator_name(e), " HSIC estimator needs at least ", min_batch(e),
                " samples per batch, got ", n);
  const double dn = static_cast<double>(n);
  return e == Estimator::Biased ? 1.0 / ((dn - 1) * (dn - 1)) : 1.0 / (dn * (dn - 3));
}

}  // namespace biascka::cka
