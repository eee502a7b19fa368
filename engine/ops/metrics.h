#pragma once
// Training and evaluation metrics kept on the device (no host synchronisation per step): the
// aligned/conflicting accuracy counts and per-step scalars. One metric, its CPU and CUDA entries sharing
// kernels/accuracy.h.
#include "engine/tensor.h"

namespace biascka {

// logits [B, C] F32, targets and biases I64 [B], all on one device. Adds to counts (I64 [4]: correct,
// aligned, correct aligned, correct conflicting) and, when `confusion` is given, to confusion (I64 [C, C],
// row = target, column = prediction). Predictions are the first maximum of each row (torch.argmax).
void accuracy_counts_(const Tensor& logits, const Tensor& targets, const Tensor& biases, Tensor& counts,
                      Tensor* confusion = nullptr);
// slots[index] = value; ++index (value F64 [], slots F64 [N], index I64 [], one device).
void record_scalar_(const Tensor& value, Tensor& slots, Tensor& index);

}  // namespace biascka
