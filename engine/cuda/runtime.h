#pragma once
// The CUDA device context: per GPU one stream, one cuBLAS and one cuDNN handle, the caching allocator,
// a growable workspace and pinned host buffers. Created lazily on first use, owned here and nowhere else.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <cstddef>
#include <string>

#include "engine/allocator.h"
#include "engine/device.h"

namespace biascka::cuda {

int device_count();  // 0 when there is no driver or no GPU
std::string device_name(int device);
std::string versions();  // "CUDA runtime 13.0, driver 13.0, cuDNN 9.x, cuBLAS 13.x"

CachingAllocator& allocator(int device);
cudaStream_t stream(int device);  // the stream every op on that device runs on
cublasHandle_t cublas(int device);
// A second stream per GPU with its own cuBLAS handle bound to it, for work that overlaps the main stream (the
// CKA of one batch while the next forward pass runs). What it reads from the main stream it must first wait
// for (an event), and memory it frees may be handed to the main stream at once: wait before freeing.
cudaStream_t side_stream(int device);
cublasHandle_t side_cublas(int device);
cudnnHandle_t cudnn(int device);
void set_device(int device);
void synchronize(int device);
// The device's math mode for cuDNN and cuBLAS (TF32 until set otherwise).
void set_math_mode(int device, MathMode mode);
MathMode math_mode(int device);

// Copies between any pair of devices in stream order; device->host copies wait for completion.
void copy(void* dst, Device dst_dev, const void* src, Device src_dev, size_t bytes);

// A scratch buffer that grows to the largest size asked (cuDNN workspaces); valid until the next call.
void* workspace(int device, size_t bytes);

// Page-locked host memory for asynchronous host->device staging (the batch loader).
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  explicit PinnedBuffer(size_t bytes);
  ~PinnedBuffer();
  PinnedBuffer(PinnedBuffer&& o) noexcept;
  PinnedBuffer& operator=(PinnedBuffer&& o) noexcept;
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  void* data() const { return ptr_; }
  size_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace biascka::cuda
