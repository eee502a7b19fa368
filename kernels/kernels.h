#pragma once
// Launch functions for every CUDA kernel of biascka: plain C++ signatures (device pointers, sizes, the
// stream), so engine/, losses/ and cka/ call them without nvcc. Each kernel has a CPU twin in the op
// that calls it; tests/test_backend_ops.cpp checks every pair.
#include <cuda_runtime.h>

#include <cstdint>

namespace biascka::kernels {

// ---- elementwise.cu ----
// Sets n elements of `elem_size` bytes (1, 4 or 8) to the bit pattern `bits`.
void fill(void* x, int64_t n, int elem_size, uint64_t bits, cudaStream_t s);
void axpy(float* y, const float* x, int64_t n, float alpha, cudaStream_t s);  // y += alpha * x
void add(float* out, const float* a, const float* b, int64_t n, cudaStream_t s);
void scale(float* out, const float* x, int64_t n, float alpha, cudaStream_t s);
void relu_forward(float* y, const float* x, int64_t n, cudaStream_t s);
// gx = gy where y > 0, else 0 (y is relu's output)
void relu_backward(float* gx, const float* gy, const float* y, int64_t n, cudaStream_t s);
void increment_i64(int64_t* counter, int64_t by, cudaStream_t s);  // one thread: *counter += by
// [N, C, H, W] <-> [N, H, W, C]; to_nhwc selects the direction. Shapes are the NCHW ones.
void permute_nchw_nhwc(float* out, const float* in, int64_t n, int64_t c, int64_t hw, bool to_nhwc, cudaStream_t s);

// Row-broadcast and column sums for the linear layer: y[r, j] = b[j]; out[j] = sum_r x[r, j].
void broadcast_rows(float* y, const float* b, int64_t rows, int64_t cols, cudaStream_t s);
void column_sums(float* out, const float* x, int64_t rows, int64_t cols, cudaStream_t s);

// ---- batch_norm.cu ---- (CPU twins: engine/ops/batch_norm.cpp)
// x, y [m, c] (channels last). Training: batch mean and biased variance -> y; save_mean/save_invstd get
// them; running stats updated in place (momentum, unbiased variance). Eval: running stats normalise and
// are copied to save_mean / 1/sqrt(var + eps) to save_invstd.
void batch_norm_forward(const float* x, const float* gamma, const float* beta, float* y, float* save_mean,
                        float* save_invstd, float* running_mean, float* running_var, int64_t m, int64_t c,
                        bool training, float momentum, float eps, cudaStream_t s);
// dx, dgamma, dbeta may each be null (not wanted). training selects the batch-statistics formula.
void batch_norm_backward(const float* dy, const float* x, const float* gamma, const float* save_mean,
                         const float* save_invstd, float* dx, float* dgamma, float* dbeta, int64_t m, int64_t c,
                         bool training, cudaStream_t s);

// ---- pooling.cu ---- (CPU twins: engine/ops/pooling.cpp), NHWC
void max_pool2d_forward(const float* x, float* y, int32_t* argmax, int64_t n, int64_t h, int64_t w, int64_t c,
                        int64_t oh, int64_t ow, int k, int stride, int pad, cudaStream_t s);
// Gather form (each input pixel sums the windows that chose it, in window order): deterministic.
void max_pool2d_backward(const float* dy, const int32_t* argmax, float* dx, int64_t n, int64_t h, int64_t w,
                         int64_t c, int64_t oh, int64_t ow, int k, int stride, int pad, cudaStream_t s);
void global_avg_pool_forward(const float* x, float* y, int64_t n, int64_t hw, int64_t c, cudaStream_t s);
void global_avg_pool_backward(const float* dy, float* dx, int64_t n, int64_t hw, int64_t c, cudaStream_t s);

// ---- dropout.cu ---- (CPU twin: engine/ops/dropout.cpp): out = in * keep / (1 - p), keep from philox.h.
// Element i's mask is philox(seed, *counter_end - n + i): the counter lives on the device (advanced by
// increment_i64 before the forward call), so a captured CUDA graph draws new masks at every replay.
void dropout_apply(const float* in, float* out, int64_t n, float p, uint64_t seed, const int64_t* counter_end,
                   cudaStream_t s);

// ---- softmax.cu ---- (CPU twins: engine/ops/softmax.cpp), rows of [rows, cols]
void softmax_forward(const float* z, float* y, int64_t rows, int64_t cols, bool log, cudaStream_t s);
void softmax_backward(const float* gy, const float* y, float* gz, int64_t rows, int64_t cols, bool log,
                      cudaStream_t s);

// ---- objectives.cu ---- (CPU twin: losses/objectives.cpp cpu::objective_loss_grad)
// One launch: per row the loss and dL/dinput (divided by rows); *loss = mean over rows, summed in a fixed
// order in double. kind: 0 sce, 1 nll, 2 bce, 3 l1, 4 l2, 5 sos (losses::Kind).
void objective_loss_grad(int kind, float sos_alpha, float sos_beta, const float* input, const int64_t* targets,
                         int64_t rows, int64_t cols, float* grad, double* loss, cudaStream_t s);
// Adds to counts[0..3]: correct predictions (argmax of logits == target), bias-aligned samples
// (target == bias), correct aligned, correct conflicting. Integer atomics: exact and order-free.
void accuracy_counts(const float* logits, const int64_t* targets, const int64_t* biases, int64_t rows,
                     int64_t cols, int64_t* counts, cudaStream_t s);

// One thread: slots[*index] = *value; ++*index. Per-step losses land on the device without a sync, in a
// form a CUDA graph can replay (the index advances on the device).
void record_scalar(const double* value, double* slots, int64_t* index, cudaStream_t s);

// ---- adam.cu ---- (CPU twin: engine/adam.cpp)
struct AdamTensor {
  float* param;
  const float* grad;
  float* exp_avg;
  float* exp_avg_sq;
  int64_t numel;
};
// `tensors` is a device array of `count` entries, max_numel the largest numel. First *step += 1 (device
// int64), then every tensor gets torch.optim.Adam's update with t = *step (bias corrections in double).
void adam_step(const AdamTensor* tensors, int count, int64_t max_numel, int64_t* step, float lr, float beta1,
               float beta2, float eps, float weight_decay, cudaStream_t s);

}  // namespace biascka::kernels
