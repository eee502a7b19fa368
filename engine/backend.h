#pragma once
// The backend seam (ggml's backend switch, ATen's dispatch stubs): one table of entry points per device
// type. backend(Device) returns the CPU table (engine/ops/cpu/) or the CUDA one of that GPU
// (engine/cuda/backend.cpp: our kernels/ launchers, cuDNN, cuBLAS); in a build without CUDA asking for a
// GPU's table is a one-line error. The ops of engine/ops and engine/adam.cpp check their arguments, make
// their outputs and call the table; nothing above engine/ asks which device it is on.
//
// Entries take raw pointers on the table's device, sizes and flags, and run in that device's order (the
// CUDA entries on the device's one stream, without host synchronisation, so a step can be captured as a
// CUDA graph). Each CUDA entry is the twin of the CPU entry of the same name; tests/test_backend_ops.cpp
// runs every entry of every present device against the CPU's.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "engine/allocator.h"
#include "engine/device.h"
#include "engine/ops/conv2d_impl.h"
#include "kernels/adam_tensor.h"
#include "kernels/objective_row.h"

namespace biascka {

// A captured sequence of a device's work, replayed with one launch (CUDA graphs).
class DeviceGraph {
 public:
  virtual ~DeviceGraph() = default;
  // Runs body() once under capture; its work is recorded, not executed: replay() runs it.
  virtual void capture(const std::function<void()>& body) = 0;
  virtual void replay() = 0;
};

// Host-to-device copies that return before the device has the bytes (pinned staging buffers, copies in
// the device's order). The source may be reused as soon as upload returns.
class DeviceUploader {
 public:
  virtual ~DeviceUploader() = default;
  virtual void upload(void* device_dst, const void* host_src, size_t bytes) = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Device device() const = 0;

  // ---- the device context ----
  // Math of cuDNN convolutions and cuBLAS products: TF32 tensor cores or exact FP32. The CPU is always exact.
  virtual void set_math_mode(MathMode mode) const = 0;
  virtual MathMode math_mode() const = 0;
  // The device's memory (its caching allocator) and the end of its queue.
  virtual void* allocate(size_t bytes) const = 0;
  virtual void deallocate(void* p) const = 0;
  virtual void synchronize() const = 0;
  // bytes > 0 between this device and the host or another device of its type; returns when host memory
  // involved may be reused.
  virtual void copy(void* dst, Device dst_dev, const void* src, Device src_dev, size_t bytes) const = 0;
  // True when reading a result back waits for queued work (the GPU); false when work is done on return.
  virtual bool asynchronous() const = 0;
  // Null where the device has no such thing: the caller runs eagerly / uses host memory as it is.
  virtual std::unique_ptr<DeviceGraph> make_graph() const = 0;
  virtual std::unique_ptr<DeviceUploader> make_uploader() const = 0;
  virtual AllocatorStats memory_stats() const = 0;
  virtual void reset_peak_memory() const = 0;
  virtual void release_cached_memory() const = 0;

  // ---- elementwise, layout ----
  // Sets n elements of elem_size bytes (1, 4 or 8) to the bit pattern `bits`.
  virtual void fill(void* x, int64_t n, int elem_size, uint64_t bits) const = 0;
  virtual void axpy(float* y, const float* x, int64_t n, float alpha) const = 0;  // y += alpha * x
  virtual void add(float* out, const float* a, const float* b, int64_t n) const = 0;
  virtual void scale(float* out, const float* x, int64_t n, float alpha) const = 0;
  virtual void relu_forward(float* y, const float* x, int64_t n) const = 0;
  // gx = gy where y > 0, else 0 (y is relu's output)
  virtual void relu_backward(float* gx, const float* gy, const float* y, int64_t n) const = 0;
  virtual void increment_i64(int64_t* counter, int64_t by) const = 0;  // *counter += by
  // [N, C, H, W] <-> [N, H, W, C]; shapes are the NCHW ones.
  virtual void permute_nchw_nhwc(float* out, const float* in, int64_t n, int64_t c, int64_t hw,
                                 bool to_nhwc) const = 0;

  // ---- linear ----
  // Row-major C[m, n] = op(A) op(B) (+ C when accumulate).
  virtual void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                    const float* b, int64_t ldb, float* c, int64_t ldc, bool accumulate) const = 0;
  // y[r, j] = b[j]; out[j] = sum_r x[r, j].
  virtual void broadcast_rows(float* y, const float* b, int64_t rows, int64_t cols) const = 0;
  virtual void column_sums(float* out, const float* x, int64_t rows, int64_t cols) const = 0;

  // ---- convolution (engine/ops/conv2d_impl.h's geometry; channels-last) ----
  virtual void conv2d_forward(const conv::Geometry& g, const float* x, const float* w, float* y) const = 0;
  virtual void conv2d_backward_data(const conv::Geometry& g, const float* dy, const float* w,
                                    float* dx) const = 0;
  virtual void conv2d_backward_weights(const conv::Geometry& g, const float* x, const float* dy,
                                       float* dw) const = 0;

  // ---- batch norm over [m, c] channels-last ----
  // Training: batch statistics normalise, mean/invstd saved, running statistics updated in place
  // (momentum, unbiased variance). Eval: running statistics normalise and are saved as mean/invstd.
  virtual void batch_norm_forward(const float* x, const float* gamma, const float* beta, float* y,
                                  float* mean, float* invstd, float* running_mean, float* running_var,
                                  int64_t m, int64_t c, bool training, float momentum, float eps) const = 0;
  // dx, dgamma, dbeta may each be null (not wanted).
  virtual void batch_norm_backward(const float* dy, const float* x, const float* gamma, const float* mean,
                                   const float* invstd, float* dx, float* dgamma, float* dbeta, int64_t m,
                                   int64_t c, bool training) const = 0;

  // ---- pooling, NHWC ----
  // argmax: per output element the input pixel (ih * W + iw) that won; ties to the first in scan order,
  // NaN wins (PyTorch). Backward gathers over the windows in order: deterministic.
  virtual void max_pool2d_forward(const float* x, float* y, int32_t* argmax, int64_t n, int64_t h, int64_t w,
                                  int64_t c, int64_t oh, int64_t ow, int k, int stride, int pad) const = 0;
  virtual void max_pool2d_backward(const float* dy, const int32_t* argmax, float* dx, int64_t n, int64_t h,
                                   int64_t w, int64_t c, int64_t oh, int64_t ow, int k, int stride,
                                   int pad) const = 0;
  virtual void global_avg_pool_forward(const float* x, float* y, int64_t n, int64_t hw, int64_t c) const = 0;
  virtual void global_avg_pool_backward(const float* dy, float* dx, int64_t n, int64_t hw,
                                        int64_t c) const = 0;

  // ---- dropout: out = in * keep / (1 - p), element i's keep from philox(seed, *counter_end - n + i) ----
  virtual void dropout_apply(const float* in, float* out, int64_t n, float p, uint64_t seed,
                             const int64_t* counter_end) const = 0;

  // ---- softmax over the rows of [rows, cols] (log: log-softmax) ----
  virtual void softmax_forward(const float* z, float* y, int64_t rows, int64_t cols, bool log) const = 0;
  virtual void softmax_backward(const float* gy, const float* y, float* gz, int64_t rows, int64_t cols,
                                bool log) const = 0;

  // ---- objectives and metrics ----
  // Per row the loss and dL/dinput (divided by rows, kernels/objective_row.h); *loss = mean over rows.
  virtual void objective_loss_grad(ObjectiveKind kind, float sos_alpha, float sos_beta, const float* input,
                                   const int64_t* targets, int64_t rows, int64_t cols, float* grad,
                                   double* loss) const = 0;
  // Adds to counts[0..3] (kernels/accuracy.h) and, when not null, to confusion[target * cols + prediction].
  virtual void accuracy_counts(const float* logits, const int64_t* targets, const int64_t* biases,
                               int64_t rows, int64_t cols, int64_t* counts, int64_t* confusion) const = 0;
  // slots[*index] = *value; ++*index (a per-step value recorded in the device's order).
  virtual void record_scalar(const double* value, double* slots, int64_t* index) const = 0;

  // ---- Adam: ++*step, then torch.optim.Adam's update of every tensor of the table (in device memory) ----
  virtual void adam_step(const AdamTensor* tensors, int count, int64_t max_numel, int64_t* step,
                         const AdamHyper& h) const = 0;
};

// The table of `d`'s device type (of that GPU for CUDA).
const Backend& backend(Device d);

}  // namespace biascka
