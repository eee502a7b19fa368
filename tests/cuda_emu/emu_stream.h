#pragma once
// The seam between the emulated CUDA runtime (tests/cuda_emu/runtime.cpp) and the CPU test doubles of cuBLAS
// and cuDNN (tests/cuda_emu/cublas_double.cpp, cudnn_double.cpp). Test infrastructure only: linked into the
// -DBIASCKA_CUDA_EMULATION=ON build, never into the product.
//
// Device memory in the emulation is host memory, so a double computes on the pointers it is given; what it
// must not do is compute *now*: the call is put on its stream like a kernel, runs in that stream's order
// (after earlier work, after the events the stream waits on), and while the stream is being captured into
// a CUDA graph it is recorded instead, to run at every replay.
#include <cuda_runtime.h>

#include <functional>
#include <string>

namespace cuda_emu {

// Queues `work` on stream `s` (0 = the legacy default stream). `what` names the call in error messages
// (e.g. "cublasGemmEx"). Returns cudaErrorInvalidResourceHandle for a destroyed stream.
cudaError_t enqueue(cudaStream_t s, std::function<void()> work, std::string what);

// True when `p .. p + bytes` lies inside one live cudaMalloc allocation (the caching allocator's blocks are
// carved from those): the doubles reject host pointers and out-of-range operands the real library would
// fault on.
bool is_device_range(const void* p, size_t bytes);

}  // namespace cuda_emu
