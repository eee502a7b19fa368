#pragma once
// The aligned/conflicting accuracy of one sample, shared by the CPU twin (engine/ops/cpu/objectives.cpp) and
// the CUDA kernel (kernels/objectives.cu): the prediction is the first maximum of the logits (as
// torch.argmax), a sample is bias-aligned when its target equals its bias label.
#include <cstdint>

#include "kernels/hd.h"

namespace biascka::accuracy {

// Slots of the counts array: correct, aligned, correct aligned, correct conflicting.
enum Count : int { kCorrect = 0, kAligned = 1, kCorrectAligned = 2, kCorrectConflicting = 3, kCounts = 4 };

BIASCKA_HD int64_t first_argmax(const float* z, int64_t cols) {
  int64_t best = 0;
  for (int64_t c = 1; c < cols; ++c)
    if (z[c] > z[best]) best = c;
  return best;
}

// Which of the four counters this sample adds one to (bit k: counter k).
BIASCKA_HD unsigned counters_hit(int64_t prediction, int64_t target, int64_t bias) {
  const bool correct = prediction == target, aligned = target == bias;
  return (correct ? 1u << kCorrect : 0u) | (aligned ? 1u << kAligned : 0u) |
         (correct && aligned ? 1u << kCorrectAligned : 0u) |
         (correct && !aligned ? 1u << kCorrectConflicting : 0u);
}

}  // namespace biascka::accuracy
