#pragma once
// Grain sizes for the CKA loops (engine/parallel.h): a parallel chunk gets about a million elements of work
// (~0.5 ms serial), so a batch's small layers run on one thread. A parallel region costs microseconds on
// an idle machine but up to a scheduler time slice on a busy one, and a batch has four loops per layer.
#include <algorithm>
#include <cstdint>

namespace biascka::cka {

inline int64_t grain_for(int64_t work_per_item) {
  return std::max<int64_t>(1, (int64_t{1} << 20) / std::max<int64_t>(1, work_per_item));
}

}  // namespace biascka::cka
