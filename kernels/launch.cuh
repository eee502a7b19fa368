#pragma once
// The one way a kernel is launched: launch(name, kernel, grid, block, dynamic_smem, stream, args...). In the
// CUDA build it is the only <<<>>> of the project; in the emulation build (tests/cuda_emu) it hands the grid
// to the emulated runtime, which runs it when its stream gets there. In both it first checks the
// configuration against the device limits (so both builds reject the same launches with the same message),
// and afterwards reports a launch the runtime refused as a kernels::KernelError naming the kernel.
#include <cuda_runtime.h>

#include <utility>

#include "kernels/common.cuh"

namespace biascka::kernels {

template <class... P, class... A>
void launch(const char* name, void (*kernel)(P...), dim3 grid, dim3 block, size_t dynamic_smem,
            cudaStream_t s, A&&... args) {
  check_launch_config(name, grid, block);
#ifdef BIASCKA_CUDA_EMULATION
  ::cuda_emu::launch(name, kernel, grid, block, dynamic_smem, s, std::forward<A>(args)...);
#else
  // clang-format off
  kernel<<<grid, block, dynamic_smem, s>>>(std::forward<A>(args)...);
  // clang-format on
#endif
  check_launch(name, __FILE__, __LINE__);
}

}  // namespace biascka::kernels
