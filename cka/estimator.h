#pragma once
// The per-batch constants an estimator implies (the estimator and kernel themselves are options: options.h).
#include <cstdint>

#include "cka/options.h"

namespace biascka::cka {

// Smallest batch an estimator is defined on (biased: 2, unbiased: 4).
int64_t min_batch(Estimator e);
// The estimator's normalisation of the Frobenius product of two centred Grams: 1/(n-1)^2 or 1/(n(n-3)).
double hsic_scale(int64_t n, Estimator e);

}  // namespace biascka::cka
