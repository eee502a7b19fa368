// The CUDA backend: every entry sets its GPU current and runs on that GPU's stream (engine/cuda/runtime.h),
// without host synchronisation. The kernels are our own (kernels/), convolutions cuDNN's
// (engine/ops/conv2d_cudnn.cpp), products cuBLAS's (engine/ops/linear_cublas.cpp).
#include "engine/cuda/backend.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>

#include "engine/allocator.h"
#include "engine/cuda/check.h"
#include "engine/cuda/graph.h"
#include "engine/cuda/runtime.h"
#include "engine/error.h"
#include "engine/ops/conv2d_impl.h"
#include "engine/ops/linear_cublas.h"
#include "kernels/kernels.h"

namespace biascka::cuda {

namespace {

// Batch norm's reduction scratch (kernels::batch_norm_scratch_doubles), from the device's caching
// allocator: returned to it when the call has queued its kernels, which stream order makes safe.
class Scratch {
 public:
  Scratch(int device, int64_t m, int64_t c)
      : device_(device), doubles_(kernels::batch_norm_scratch_doubles(m, c)) {
    if (doubles_ > 0) ptr_ = allocator(device).allocate(static_cast<size_t>(doubles_) * sizeof(double));
  }
  ~Scratch() {
    if (ptr_) allocator(device_).deallocate(ptr_);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  double* data() const { return static_cast<double*>(ptr_); }
  int64_t doubles() const { return doubles_; }

 private:
  int device_;
  int64_t doubles_;
  void* ptr_ = nullptr;
};

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(int index) : index_(index) {}
#include "engine/backend_overrides.inc"

 private:
  // The device's stream, with the device made current (the kernels and handles use the current device).
  cudaStream_t s() const {
    set_device(index_);
    return stream(index_);
  }
  int index_;
};

Device CudaBackend::device() const { return Device::cuda(index_); }

void CudaBackend::set_math_mode(MathMode mode) const { cuda::set_math_mode(index_, mode); }

MathMode CudaBackend::math_mode() const { return cuda::math_mode(index_); }

void* CudaBackend::allocate(size_t bytes) const { return allocator(index_).allocate(bytes); }

void CudaBackend::deallocate(void* p) const { allocator(index_).deallocate(p); }

void CudaBackend::synchronize() const { cuda::synchronize(index_); }

void CudaBackend::copy(void* dst, Device dst_dev, const void* src, Device src_dev, size_t bytes) const {
  cuda::copy(dst, dst_dev, src, src_dev, bytes);
}

bool CudaBackend::asynchronous() const { return true; }

std::unique_ptr<DeviceGraph> CudaBackend::make_graph() const { return std::make_unique<Graph>(index_); }

std::unique_ptr<DeviceUploader> CudaBackend::make_uploader() const {
  return std::make_unique<Uploader>(index_);
}

AllocatorStats CudaBackend::memory_stats() const { return allocator(index_).stats(); }

void CudaBackend::reset_peak_memory() const { allocator(index_).reset_peak(); }

void CudaBackend::release_cached_memory() const { allocator(index_).empty_cache(); }

void CudaBackend::fill(void* x, int64_t n, int elem_size, uint64_t bits) const {
  guard([&] { kernels::fill(x, n, elem_size, bits, s()); });
}

void CudaBackend::axpy(float* y, const float* x, int64_t n, float alpha) const {
  guard([&] { kernels::axpy(y, x, n, alpha, s()); });
}

void CudaBackend::add(float* out, const float* a, const float* b, int64_t n) const {
  guard([&] { kernels::add(out, a, b, n, s()); });
}

void CudaBackend::scale(float* out, const float* x, int64_t n, float alpha) const {
  guard([&] { kernels::scale(out, x, n, alpha, s()); });
}

void CudaBackend::relu_forward(float* y, const float* x, int64_t n) const {
  guard([&] { kernels::relu_forward(y, x, n, s()); });
}

void CudaBackend::relu_backward(float* gx, const float* gy, const float* y, int64_t n) const {
  guard([&] { kernels::relu_backward(gx, gy, y, n, s()); });
}

void CudaBackend::increment_i64(int64_t* counter, int64_t by) const {
  guard([&] { kernels::increment_i64(counter, by, s()); });
}

void CudaBackend::permute_nchw_nhwc(float* out, const float* in, int64_t n, int64_t c, int64_t hw,
                                    bool to_nhwc) const {
  guard([&] { kernels::permute_nchw_nhwc(out, in, n, c, hw, to_nhwc, s()); });
}

void CudaBackend::gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                       const float* b, int64_t ldb, float* c, int64_t ldc, bool accumulate) const {
  guard([&] { cublas_gemm(index_, ta, tb, m, n, k, a, lda, b, ldb, c, ldc, accumulate); });
}

void CudaBackend::broadcast_rows(float* y, const float* b, int64_t rows, int64_t cols) const {
  guard([&] { kernels::broadcast_rows(y, b, rows, cols, s()); });
}

void CudaBackend::column_sums(float* out, const float* x, int64_t rows, int64_t cols) const {
  guard([&] { kernels::column_sums(out, x, rows, cols, s()); });
}

void CudaBackend::conv2d_forward(const conv::Geometry& g, const float* x, const float* w, float* y) const {
  guard([&] { conv::cudnn_forward(index_, g, x, w, y); });
}

void CudaBackend::conv2d_backward_data(const conv::Geometry& g, const float* dy, const float* w,
                                       float* dx) const {
  guard([&] { conv::cudnn_backward_data(index_, g, dy, w, dx); });
}

void CudaBackend::conv2d_backward_weights(const conv::Geometry& g, const float* x, const float* dy,
                                          float* dw) const {
  guard([&] { conv::cudnn_backward_weights(index_, g, x, dy, dw); });
}

void CudaBackend::batch_norm_forward(const float* x, const float* gamma, const float* beta, float* y,
                                     float* mean, float* invstd, float* running_mean, float* running_var,
                                     int64_t m, int64_t c, bool training, float momentum, float eps) const {
  guard([&] {
    const Scratch scratch(index_, m, c);
    kernels::batch_norm_forward(x, gamma, beta, y, mean, invstd, running_mean, running_var, m, c, training,
                                momentum, eps, scratch.data(), scratch.doubles(), s());
  });
}

void CudaBackend::batch_norm_backward(const float* dy, const float* x, const float* gamma, const float* mean,
                                      const float* invstd, float* dx, float* dgamma, float* dbeta, int64_t m,
                                      int64_t c, bool training) const {
  guard([&] {
    const Scratch scratch(index_, m, c);
    kernels::batch_norm_backward(dy, x, gamma, mean, invstd, dx, dgamma, dbeta, m, c, training,
                                 scratch.data(), scratch.doubles(), s());
  });
}

void CudaBackend::max_pool2d_forward(const float* x, float* y, int32_t* argmax, int64_t n, int64_t h,
                                     int64_t w, int64_t c, int64_t oh, int64_t ow, int k, int stride,
                                     int pad) const {
  guard([&] { kernels::max_pool2d_forward(x, y, argmax, n, h, w, c, oh, ow, k, stride, pad, s()); });
}

void CudaBackend::max_pool2d_backward(const float* dy, const int32_t* argmax, float* dx, int64_t n, int64_t h,
                                      int64_t w, int64_t c, int64_t oh, int64_t ow, int k, int stride,
                                      int pad) const {
  guard([&] { kernels::max_pool2d_backward(dy, argmax, dx, n, h, w, c, oh, ow, k, stride, pad, s()); });
}

void CudaBackend::global_avg_pool_forward(const float* x, float* y, int64_t n, int64_t hw, int64_t c) const {
  guard([&] { kernels::global_avg_pool_forward(x, y, n, hw, c, s()); });
}

void CudaBackend::global_avg_pool_backward(const float* dy, float* dx, int64_t n, int64_t hw,
                                           int64_t c) const {
  guard([&] { kernels::global_avg_pool_backward(dy, dx, n, hw, c, s()); });
}

void CudaBackend::dropout_apply(const float* in, float* out, int64_t n, float p, uint64_t seed,
                                const int64_t* counter_end) const {
  guard([&] { kernels::dropout_apply(in, out, n, p, seed, counter_end, s()); });
}

void CudaBackend::softmax_forward(const float* z, float* y, int64_t rows, int64_t cols, bool log) const {
  guard([&] { kernels::softmax_forward(z, y, rows, cols, log, s()); });
}

void CudaBackend::softmax_backward(const float* gy, const float* y, float* gz, int64_t rows, int64_t cols,
                                   bool log) const {
  guard([&] { kernels::softmax_backward(gy, y, gz, rows, cols, log, s()); });
}

void CudaBackend::objective_loss_grad(ObjectiveKind kind, float sos_alpha, float sos_beta, const float* input,
                                      const int64_t* targets, int64_t rows, int64_t cols, float* grad,
                                      double* loss) const {
  guard([&] {
    kernels::objective_loss_grad(kind, sos_alpha, sos_beta, input, targets, rows, cols, grad, loss, s());
  });
}

void CudaBackend::accuracy_counts(const float* logits, const int64_t* targets, const int64_t* biases,
                                  int64_t rows, int64_t cols, int64_t* counts, int64_t* confusion) const {
  guard([&] { kernels::accuracy_counts(logits, targets, biases, rows, cols, counts, confusion, s()); });
}

void CudaBackend::record_scalar(const double* value, double* slots, int64_t* index) const {
  guard([&] { kernels::record_scalar(value, slots, index, s()); });
}

void CudaBackend::adam_step(const AdamTensor* tensors, int count, int64_t max_numel, int64_t* step,
                            const AdamHyper& h) const {
  guard([&] {
    kernels::adam_step(tensors, count, max_numel, step, h.lr, h.beta1, h.beta2, h.eps, h.weight_decay, s());
  });
}

}  // namespace

const Backend& backend(int device) {
  constexpr int kMaxDevices = 64;
  // Never destroyed: tensors freed during static destruction still return their memory through the table.
  static auto* tables = new std::array<std::unique_ptr<CudaBackend>, kMaxDevices>();
  static auto* mu = new std::mutex();
  BIASCKA_CHECK(device >= 0 && device < kMaxDevices, "cuda:", device, ": no such device");
  std::lock_guard<std::mutex> lock(*mu);
  if (!(*tables)[device]) (*tables)[device] = std::make_unique<CudaBackend>(device);
  return *(*tables)[device];
}

}  // namespace biascka::cuda
