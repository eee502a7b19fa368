#pragma once
// The per-layer step of CKA on a GPU (CUDA builds only): one batch's layers, each a device F32 [n, d_l]
// matrix, to their packed centred Grams (centering.h's layout) as float rows, in three launches over all the
// layers (kernels/cka_gram.cu, cka_center.cu): column means; the fused Gram (column centring folded into its
// loads, TF32 tensor cores or exact FP32, upper-triangle tiles only, split over d where the tiles alone would
// not fill the GPU, the centring offsets from its epilogue); the centring in place.
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "cka/estimator.h"

namespace biascka::cka {

// Device memory from the device's caching allocator that grows on demand. Growing first waits for `stream`
// (the old block may still be in use there) since the allocator may hand the old block to another stream.
class DeviceArena {
 public:
  explicit DeviceArena(int device = 0) : device_(device) {}
  ~DeviceArena();
  DeviceArena(const DeviceArena&) = delete;
  DeviceArena& operator=(const DeviceArena&) = delete;
  // At least `bytes`; returns true when the block is new (its contents undefined).
  bool reserve(size_t bytes, cudaStream_t stream);
  template <class T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }
  size_t bytes() const { return bytes_; }

 private:
  int device_;
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

class CudaGramBuilder {
 public:
  explicit CudaGramBuilder(int device);

  // Writes the packed centred Gram of layer l (x[l]: device pointer to row-major [n, d[l]] floats) into
  // g + l * ld (packed_size(n, e) floats), queued on `stream`. Grams of the centred features
  // (kernels::cka_column_means), TF32 products when `tf32`. Returns the flops of the products as a symmetric
  // product counts them, n (n + 1) d per layer.
  double build(const std::vector<const float*>& x, const std::vector<int64_t>& d, int64_t n, Estimator e,
               bool tf32, float* g, int64_t ld, cudaStream_t stream, cudaEvent_t product_begin = nullptr,
               cudaEvent_t product_end = nullptr);

  // Tests: k-tiles per slice of the split products (0: chosen to fill the GPU), to exercise split-K on
  // small shapes.
  int64_t k_tiles_per_split = 0;

 private:
  int device_;
  int sms_ = 1;
  DeviceArena mu_, workspace_, counters_, stats_;
};

}  // namespace biascka::cka
