#pragma once
// A stand-in for the emulated CUDA runtime's side of the seam (emu_stream.h), used ONLY by the standalone
// test of the cuBLAS/cuDNN doubles (test_cuda_emu_doubles): the real emulation build links the emulated
// runtime instead. Device memory is what device_alloc hands out; streams are tokens; queued work runs at
// once, or, while deferred, waits until run_queued (so a test can see that nothing computes in the call).
#include <cuda_runtime.h>

#include <cstddef>
#include <string>
#include <vector>

namespace cuda_emu::standalone {

// Device memory as the doubles see it (is_device_range); freed with device_free.
void* device_alloc(size_t bytes);
void device_free(void* p);

// Stream tokens: a destroyed one makes enqueue fail with cudaErrorInvalidResourceHandle. 0 always works.
cudaStream_t create_stream();
void destroy_stream(cudaStream_t s);

// While deferred, enqueue only records the work; run_queued runs it in order and returns how many ran.
void set_deferred(bool deferred);
size_t run_queued();
// The `what` of each queued item and the stream it went to, in order.
struct Queued {
  cudaStream_t stream;
  std::string what;
};
std::vector<Queued> queued();

}  // namespace cuda_emu::standalone
