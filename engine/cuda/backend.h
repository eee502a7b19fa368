#pragma once
// The CUDA backend table of one GPU (engine/backend.h): the kernels/ launchers, cuDNN and cuBLAS on the
// device's stream, and the device context of engine/cuda/runtime.h.
#include "engine/backend.h"

namespace biascka::cuda {
const Backend& backend(int device);
}  // namespace biascka::cuda
