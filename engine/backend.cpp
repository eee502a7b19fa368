#include "engine/backend.h"

#include <string>

#include "engine/allocator.h"
#include "engine/error.h"
#include "engine/ops/cpu/cpu_backend.h"
#ifdef BIASCKA_WITH_CUDA
#include "engine/cuda/backend.h"
#include "engine/cuda/runtime.h"
#endif

namespace biascka {

bool cuda_compiled() {
#ifdef BIASCKA_WITH_CUDA
  return true;
#else
  return false;
#endif
}

int cuda_device_count() {
#ifdef BIASCKA_WITH_CUDA
  return cuda::device_count();
#else
  return 0;
#endif
}

std::string cuda_versions() {
#ifdef BIASCKA_WITH_CUDA
  return cuda::versions();
#else
  return "";
#endif
}

std::string cuda_device_name(int index) {
#ifdef BIASCKA_WITH_CUDA
  return cuda::device_name(index);
#else
  fail("cuda:", index, ": this build of biascka has no CUDA backend");
#endif
}

// The one place that knows which tables this build has.
const Backend& backend(Device d) {
  if (d.is_cpu()) return cpu_backend();
#ifdef BIASCKA_WITH_CUDA
  return cuda::backend(d.index);
#else
  fail("device ", d.str(), ": this build of biascka has no CUDA backend");
#endif
}

void set_math_mode(Device d, MathMode mode) { backend(d).set_math_mode(mode); }
MathMode math_mode(Device d) { return backend(d).math_mode(); }
bool device_is_asynchronous(Device d) { return backend(d).asynchronous(); }
AllocatorStats device_memory_stats(Device d) { return backend(d).memory_stats(); }
void reset_peak_memory(Device d) { backend(d).reset_peak_memory(); }

}  // namespace biascka
