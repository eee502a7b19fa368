#pragma once
// CKA's device entries (CUDA builds only), the launchers of kernels/cka_*.cu for cka/backend_cuda.cpp, so
// that cka/ reaches our kernels only through the engine:
// - CkaGramBuilder, the per-layer step: one batch's layers, each a device F32 [n, d_l] matrix, to their
//   packed centred Grams (cka/centering.h's layout) as float rows, in three launches over all the layers
//   (kernels/cka_gram.cu, cka_center.cu): column means; the fused Gram (column centring folded into its
//   loads, upper-triangle tiles only, split over d where the tiles alone would not fill the GPU, the centring
//   offsets from its epilogue); the centring in place. TF32 tensor cores or exact FP32 as the device's math
//   mode says (engine/device.h), like cuDNN and cuBLAS.
// - the HSIC steps: chunked pair products recorded into the batch's matrix, row self-products, sums.
// - DeviceArena: device memory that grows on demand.
// Errors of the kernels come back as biascka::Error.
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace biascka::cuda {

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
  // g + l * ld (n >= 2; ld at least the packed length, cka::packed_size), queued on `stream`: U-centred
  // when `unbiased`, else H K H. Grams of the centred features, TF32 products when the device's math mode is
  // TF32. Returns the flops of the products as a symmetric product counts them, n (n + 1) d per layer.
  double build(const std::vector<const float*>& x, const std::vector<int64_t>& d, int64_t n, bool unbiased,
               float* g, int64_t ld, cudaStream_t stream, cudaEvent_t product_begin = nullptr,
               cudaEvent_t product_end = nullptr);

  // Tests: k-tiles per slice of the split products (0: chosen to fill the GPU), to exercise split-K on
  // small shapes.
  int64_t k_tiles_per_split = 0;

 private:
  int device_;
  int sms_ = 1;
  DeviceArena mu_, workspace_, counters_, stats_;
};

// HSIC sums on `stream` (kernels/kernels.h states them): out[(a0 + i) * ld + b0 + j] = scale * the float64
// sum over `chunks` row-major ca x cb partial products p; symmetric: the upper triangle's value on both
// sides; mirror: also written at (b0 + j, a0 + i).
void cka_record_products(const float* p, int64_t chunks, int64_t ca, int64_t cb, double scale, double* out,
                         int64_t ld, int64_t a0, int64_t b0, bool symmetric, bool mirror,
                         cudaStream_t stream);
// out[r] = scale * sum_j g[r * ld + j]^2 over j < m, in float64.
void cka_row_dots(const float* g, int64_t rows, int64_t m, int64_t ld, double scale, double* out,
                  cudaStream_t stream);
// out[r] = scale * sum_j a[r * lda + j] * b[r * ldb + j] over j < m, in float64: the CKA of a layer's Grams
// at two times (b == a: cka_row_dots bit for bit).
void cka_row_products(const float* a, int64_t lda, const float* b, int64_t ldb, int64_t rows, int64_t m,
                      double scale, double* out, cudaStream_t stream);
// dst[i] += src[i * src_stride] for i < count.
void cka_accumulate(double* dst, const double* src, int64_t count, int64_t src_stride, cudaStream_t stream);

}  // namespace biascka::cuda
