// The CPU's objective and metric entries (twins of kernels/objectives.cu): rows in order, each through
// the arithmetic both devices share (kernels/objective_row.h, kernels/accuracy.h).
#include <cstdint>

#include "engine/error.h"
#include "engine/ops/cpu/cpu_backend.h"
#include "kernels/accuracy.h"
#include "kernels/objective_row.h"

namespace biascka {

// The row losses are summed in row order in double; *loss is their mean.
void CpuBackend::objective_loss_grad(ObjectiveKind kind, float sos_alpha, float sos_beta, const float* input,
                                     const int64_t* targets, int64_t rows, int64_t cols, float* grad,
                                     double* loss) const {
  double total = 0;
  const double inv_b = 1.0 / static_cast<double>(rows);
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t y = targets[r];
    BIASCKA_CHECK(y >= 0 && y < cols, "objective: target ", y, " of sample ", r, " is outside [0, ", cols,
                  ")");
    total += objective_math::row_loss_grad(kind, sos_alpha, sos_beta, input + r * cols, y, cols, inv_b,
                                           grad + r * cols);
  }
  *loss = total / static_cast<double>(rows);
}

void CpuBackend::accuracy_counts(const float* logits, const int64_t* targets, const int64_t* biases,
                                 int64_t rows, int64_t cols, int64_t* counts, int64_t* confusion) const {
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t best = accuracy::first_argmax(logits + r * cols, cols), t = targets[r];
    const unsigned hit = accuracy::counters_hit(best, t, biases[r]);
    for (int k = 0; k < accuracy::kCounts; ++k) counts[k] += (hit >> k) & 1u;
    if (confusion && t >= 0 && t < cols) ++confusion[t * cols + best];
  }
}

void CpuBackend::record_scalar(const double* value, double* slots, int64_t* index) const {
  slots[*index] = *value;
  ++*index;
}

}  // namespace biascka
