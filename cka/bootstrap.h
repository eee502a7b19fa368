#pragma once
// Confidence intervals for minibatch CKA by a bootstrap over batches. Minibatch CKA is a ratio of sums over
// batches, CKA(a, b) = sum_t P_t(a, b) / sqrt(sum_t S_t(a) * sum_t S_t(b)) (accumulator.h). Treating the
// batches as independent draws from the data distribution (true when they are disjoint random subsets of
// i.i.d. samples; the last, shorter batch is one draw like the others), one replicate draws T of the T kept
// batches with replacement (counts c_t from a seeded generator, engine/random.h) and evaluates the same ratio
// with the weighted sums sum_t c_t P_t, sum_t c_t S_t. The interval of each cell is the percentile interval
// of its replicates: the (1 - level)/2 and (1 + level)/2 quantiles with numpy's default linear interpolation.
// All cells share each replicate's draw, so the intervals of one replicate set are consistent across pairs.
// Numerics: the weighted sums are float64, summed over the batches in order by one loop for pair and self
// values alike, so a layer against itself is exactly 1 in every replicate (sqrt(x * x) == x) and its interval
// is [1, 1]. A replicate whose self
// sums are not positive gives no value for the cell; a cell with no value in any replicate gets NaN.
#include <cstddef>
#include <cstdint>

#include "cka/backend.h"
#include "engine/tensor.h"

namespace biascka::cka {

struct BootstrapSpec {
  int64_t replicates = 1000;
  uint64_t seed = 0;
  double level = 0.95;
};

struct CkaIntervals {
  Tensor low, high;  // F64 [La, Lb], NaN where undefined
};

// The most replicates x cells a bootstrap resamples (its time grows as replicates x cells x (batches + a
// sort's log)); `biascka cka` skips the intervals beyond it, with a note (~450 layers at 1000 replicates).
inline constexpr double kMaxBootstrapWork = 2e8;
bool bootstrap_fits(int64_t replicates, size_t la, size_t lb);

// The intervals of the La x Lb CKA matrix whose kept batches are `h` (self_a and self_b filled for one model
// too, as MinibatchCka::batch_history gives them). Throws for fewer than one batch or replicate, or a level
// outside (0, 1).
CkaIntervals bootstrap_intervals(const BatchHistory& h, int64_t la, int64_t lb, const BootstrapSpec& spec);

}  // namespace biascka::cka
