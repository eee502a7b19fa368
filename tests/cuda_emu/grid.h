#pragma once
// Between the emulated runtime (runtime.cpp: streams decide when a launch runs) and the grid runner
// (block.cpp: runs it). Test infrastructure only.
#include <cuda_runtime.h>

#include <memory>
#include <string>

#include "tests/cuda_emu/cuda_emu.h"

namespace cuda_emu {

struct Grid {
  std::string name;  // the kernel's name as the launch site gives it
  dim3 grid, block;
  size_t dynamic_smem = 0;
  ThreadBody body = nullptr;
  std::shared_ptr<const void> args;
};

// Runs every block of the grid to completion. Returns "" or, when the kernel faulted (a deadlock, a
// divergent barrier or warp collective, __trap()), the description of the fault; the grid is abandoned
// at the fault as a GPU abandons a failed kernel.
std::string run_grid(const Grid& g);

}  // namespace cuda_emu
