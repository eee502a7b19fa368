#include "engine/ops/metrics.h"

#include <cstdint>

#include "engine/backend.h"
#include "engine/ops/checks.h"

namespace biascka {

void accuracy_counts_(const Tensor& logits, const Tensor& targets, const Tensor& biases, Tensor& counts,
                      Tensor* confusion) {
  check_f32(logits, "accuracy_counts", "logits");
  BIASCKA_CHECK(logits.dim() == 2, "accuracy_counts: logits must be [B, C], got ", shape_str(logits.shape()));
  const int64_t rows = logits.size(0), cols = logits.size(1);
  for (const Tensor* t : {&targets, &biases}) {
    BIASCKA_CHECK(t->dtype() == DType::I64 && t->numel() == rows,
                  "accuracy_counts: targets and biases must be I64 [", rows, "]");
    check_same_device(logits, *t, "accuracy_counts");
  }
  BIASCKA_CHECK(counts.dtype() == DType::I64 && counts.numel() == 4,
                "accuracy_counts: counts must be I64 [4]");
  check_same_device(logits, counts, "accuracy_counts");
  if (confusion) {
    BIASCKA_CHECK(confusion->dtype() == DType::I64 && confusion->numel() == cols * cols,
                  "accuracy_counts: the confusion matrix must be I64 [", cols, ", ", cols, "]");
    check_same_device(logits, *confusion, "accuracy_counts");
  }
  backend(logits.device())
      .accuracy_counts(logits.data<float>(), targets.data<int64_t>(), biases.data<int64_t>(), rows, cols,
                       counts.data<int64_t>(), confusion ? confusion->data<int64_t>() : nullptr);
}

void record_scalar_(const Tensor& value, Tensor& slots, Tensor& index) {
  BIASCKA_CHECK(value.dtype() == DType::F64 && value.numel() == 1 && slots.dtype() == DType::F64 &&
                    index.dtype() == DType::I64 && index.numel() == 1,
                "record_scalar: value F64 [], slots F64 [N] and index I64 [] expected");
  check_same_device(value, slots, "record_scalar");
  check_same_device(value, index, "record_scalar");
  backend(value.device()).record_scalar(value.data<double>(), slots.data<double>(), index.data<int64_t>());
}

}  // namespace biascka
