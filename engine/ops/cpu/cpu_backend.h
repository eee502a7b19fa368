#pragma once
// The CPU's backend table (engine/backend.h). Each entry is the CPU twin of the CUDA entry of the same
// name, defined in the file of its topic in this folder: elementwise.cpp (and layout, linear helpers),
// conv2d.cpp (reference im2col + GEMM, or oneDNN: engine/ops/conv2d_onednn.cpp), batch_norm.cpp,
// pooling.cpp, dropout.cpp, softmax.cpp, objectives.cpp (objectives and accuracy), adam.cpp; the device
// context entries in backend.cpp. Loops parallelise over engine/parallel.h in a fixed split, so results do
// not depend on the thread count's timing.
#include <cstddef>
#include <cstdint>
#include <memory>

#include "engine/backend.h"

namespace biascka {

class CpuBackend final : public Backend {
 public:
#include "engine/backend_overrides.inc"
};

const CpuBackend& cpu_backend();

}  // namespace biascka
