// `biascka info`: what this build has and what this machine offers.
#include <cstdio>
#include <string>
#include <thread>

#include "apps/commands.h"
#include "engine/device.h"
#include "engine/gemm.h"
#include "engine/ops/conv2d.h"
#include "engine/parallel.h"

namespace biascka::app {

void add_info_command(CLI::App& root) {
  auto* cmd =
      root.add_subcommand("info",
                          "Print build options, BLAS, oneDNN, CUDA/cuDNN versions and the GPUs found.\n"
                          "Example: biascka info");
  cmd->callback([] {
    std::printf("biascka %s\n", BIASCKA_VERSION);
    std::printf("  compiler      : %s\n", __VERSION__);
    std::printf("  CPU threads   : %d (of %u hardware)\n", cpu_threads(),
                std::thread::hardware_concurrency());
    std::printf("  BLAS          : %s\n", blas_name());
    std::printf("  CPU conv      : %s\n", onednn_available()
                                              ? ("oneDNN " + onednn_version()).c_str()
                                              : "reference im2col + GEMM (no oneDNN in this build)");
    if (!cuda_compiled()) {
      std::printf("  CUDA backend  : not built\n");
      return;
    }
    std::printf("  CUDA backend  : built for sm_%s\n", BIASCKA_CUDA_ARCHS);
    std::printf("  CUDA versions : %s\n", cuda_versions().c_str());
    const int n = cuda_device_count();
    std::printf("  GPUs found    : %d\n", n);
    for (int i = 0; i < n; ++i) std::printf("    cuda:%d %s\n", i, cuda_device_name(i).c_str());
  });
}

}  // namespace biascka::app
