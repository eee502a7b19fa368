#pragma once
// Launch functions for every CUDA kernel of biascka: plain C++ signatures (device pointers, sizes, the
// stream), so the CUDA backend (engine/cuda/backend.cpp) and cka/ call them without nvcc. Each kernel has a
// CPU twin, the CPU backend's entry of the same name (engine/ops/cpu/); tests/test_backend_ops.cpp checks
// every pair.
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/adam_tensor.h"
#include "kernels/objective_row.h"

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
void permute_nchw_nhwc(float* out, const float* in, int64_t n, int64_t c, int64_t hw, bool to_nhwc,
                       cudaStream_t s);

// Row-broadcast and column sums for the linear layer: y[r, j] = b[j]; out[j] = sum_r x[r, j].
void broadcast_rows(float* y, const float* b, int64_t rows, int64_t cols, cudaStream_t s);
void column_sums(float* out, const float* x, int64_t rows, int64_t cols, cudaStream_t s);

// ---- batch_norm.cu ---- (CPU twins: engine/ops/cpu/batch_norm.cpp)
// x, y [m, c] (channels last). Training: batch mean and biased variance -> y; save_mean/save_invstd get
// them; running stats updated in place (momentum, unbiased variance). Eval: running stats normalise and
// are copied to save_mean / 1/sqrt(var + eps) to save_invstd.
// scratch (scratch_doubles doubles, device memory not aliasing any argument) holds the multi-block
// reduction's partial sums; with less than batch_norm_scratch_doubles(m, c) (or none) one block per channel
// tile does all the work (exact, slow for large m).
int64_t batch_norm_scratch_doubles(int64_t m, int64_t c);
void batch_norm_forward(const float* x, const float* gamma, const float* beta, float* y, float* save_mean,
                        float* save_invstd, float* running_mean, float* running_var, int64_t m, int64_t c,
                        bool training, float momentum, float eps, double* scratch, int64_t scratch_doubles,
                        cudaStream_t s);
// dx, dgamma, dbeta may each be null (not wanted). training selects the batch-statistics formula.
void batch_norm_backward(const float* dy, const float* x, const float* gamma, const float* save_mean,
                         const float* save_invstd, float* dx, float* dgamma, float* dbeta, int64_t m,
                         int64_t c, bool training, double* scratch, int64_t scratch_doubles, cudaStream_t s);

// ---- pooling.cu ---- (CPU twins: engine/ops/cpu/pooling.cpp), NHWC
void max_pool2d_forward(const float* x, float* y, int32_t* argmax, int64_t n, int64_t h, int64_t w, int64_t c,
                        int64_t oh, int64_t ow, int k, int stride, int pad, cudaStream_t s);
// Gather form (each input pixel sums the windows that chose it, in window order): deterministic.
void max_pool2d_backward(const float* dy, const int32_t* argmax, float* dx, int64_t n, int64_t h, int64_t w,
                         int64_t c, int64_t oh, int64_t ow, int k, int stride, int pad, cudaStream_t s);
void global_avg_pool_forward(const float* x, float* y, int64_t n, int64_t hw, int64_t c, cudaStream_t s);
void global_avg_pool_backward(const float* dy, float* dx, int64_t n, int64_t hw, int64_t c, cudaStream_t s);

// ---- dropout.cu ---- (CPU twin: engine/ops/cpu/dropout.cpp): out = in * keep / (1 - p), keep from philox.h.
// Element i's mask is philox(seed, *counter_end - n + i): the counter lives on the device (advanced by
// increment_i64 before the forward call), so a captured CUDA graph draws new masks at every replay.
void dropout_apply(const float* in, float* out, int64_t n, float p, uint64_t seed, const int64_t* counter_end,
                   cudaStream_t s);

// ---- softmax.cu ---- (CPU twins: engine/ops/cpu/softmax.cpp), rows of [rows, cols]
void softmax_forward(const float* z, float* y, int64_t rows, int64_t cols, bool log, cudaStream_t s);
void softmax_backward(const float* gy, const float* y, float* gz, int64_t rows, int64_t cols, bool log,
                      cudaStream_t s);

// ---- objectives.cu ---- (CPU twins: engine/ops/cpu/objectives.cpp; per row kernels/objective_row.h)
// One launch: per row the loss and dL/dinput (divided by rows); *loss = mean over rows, summed in a fixed
// order in double.
void objective_loss_grad(ObjectiveKind kind, float sos_alpha, float sos_beta, const float* input,
                         const int64_t* targets, int64_t rows, int64_t cols, float* grad, double* loss,
                         cudaStream_t s);
// Adds to counts[0..3] (kernels/accuracy.h): correct predictions (argmax of logits == target), bias-aligned
// samples (target == bias), correct aligned, correct conflicting; and, when confusion is not null, one to
// confusion[target * cols + prediction] (targets outside [0, cols) are not counted there). Integer
// atomics: exact and order-free.
void accuracy_counts(const float* logits, const int64_t* targets, const int64_t* biases, int64_t rows,
                     int64_t cols, int64_t* counts, int64_t* confusion, cudaStream_t s);

// One thread: slots[*index] = *value; ++*index. Per-step losses land on the device without a sync, in a
// form a CUDA graph can replay (the index advances on the device).
void record_scalar(const double* value, double* slots, int64_t* index, cudaStream_t s);

// ---- adam.cu ---- (CPU twin: engine/ops/cpu/adam.cpp)
using AdamTensor = ::biascka::AdamTensor;  // kernels/adam_tensor.h
// `tensors` is a device array of `count` entries, max_numel the largest numel. First *step += 1 (device
// int64), then every tensor gets torch.optim.Adam's update with t = *step (bias corrections in double).
void adam_step(const AdamTensor* tensors, int count, int64_t max_numel, int64_t* step, float lr, float beta1,
               float beta2, float eps, float weight_decay, cudaStream_t s);

// ---- cka_gram.cu, cka_center.cu, cka_hsic.cu ---- (CPU twins: cka/gram.cpp column_means, centred_operands
// and linear_gram; cka/centering.cpp center_gram_packed; cka/hsic.cpp packed_products)
// One batch of several layers' activations (row-major [n, d_l] each) goes to their centred Grams, packed as
// in cka/centering.h (strict upper triangle row by row, then for the biased centring the diagonal / sqrt 2),
// as float rows of g, in three grouped launches over all the layers.
constexpr int kCkaMaxLayers = 80;  // layers per grouped launch (the parameter block stays under 4 KB)
constexpr int kCkaTile = 128;      // Gram tile edge
constexpr int kCkaTileK = 32;      // columns of X per k-tile

struct CkaGramLayer {
  const float* x;  // [n, d] row-major, device
  int64_t d;
  int64_t col_offset;         // this layer's column means start at mu + col_offset (a multiple of 4)
  int32_t item_offset;        // first Gram work item (tile x k-slice) of this layer
  int32_t splits;             // k-slices of the product: their partial tiles are summed in slice order
  int32_t k_tiles_per_split;  // k-tiles (of kCkaTileK columns) per slice
  int32_t ws_offset;          // first workspace slot (kCkaTile^2 floats) of this layer, when splits > 1
};

struct CkaGramBatch {
  CkaGramLayer layers[kCkaMaxLayers];
  int32_t count;     // layers in this launch
  int32_t items;     // Gram work items of all layers
  int32_t tiles_1d;  // ceil(n / kCkaTile)
  int32_t tiles;     // tiles_1d (tiles_1d + 1) / 2: the upper-triangle tiles
  int64_t n;
  int64_t ld;            // row stride of g, floats
  int64_t stats_stride;  // doubles per layer in `stats`: tiles * 2 * kCkaTile + 2 n
  int64_t total_cols;    // column means of all layers, padded: the last col_offset + padded d
  float* mu;             // column means
  float* g;              // row l: layer l's packed centred Gram
  float* workspace;      // partial tiles of split products
  int32_t* counters;  // per layer tiles + 1 counters, zero before the first launch; kernels leave them zero
  double* stats;      // per layer: each tile's row and column sums, the Gram's diagonal, the centring offsets
  bool unbiased;      // U-centring (else H K H)
  bool tf32;          // TF32 tensor-core products (else exact FP32)
};

// mu[col_offset + c] = float(mean over the n rows of x[:, c]), the mean summed in float64 (four interleaved
// partial sums, as the CPU twin column_means).
void cka_column_means(const CkaGramBatch& b, cudaStream_t s);
// Each layer's Gram of the centred operands a = x - mu (rounded to TF32 when b.tf32): the upper-triangle
// tiles, split over k where b.layers says so. Writes the Gram's strict upper triangle into g (and its
// diagonal after it for the biased centring), and the centring offsets m_i into stats, so that the centred
// Gram is K_ij - m_i - m_j. Deterministic: split partials are summed in a fixed order.
void cka_fused_gram(const CkaGramBatch& b, cudaStream_t s);
// g in place: K_ij - m_i - m_j (float64 arithmetic), and the biased diagonal (K_ii - 2 m_i) / sqrt 2.
void cka_center_packed(const CkaGramBatch& b, cudaStream_t s);
// The unfused path (benchmark baseline, one layer): a full symmetric n x n Gram k (both triangles) to its
// packed centred Gram g, with its row sums taken in float64; scratch holds n doubles.
void cka_center_dense(const float* k, int64_t n, bool unbiased, float* g, double* scratch, cudaStream_t s);

// HSIC sums. p holds `chunks` consecutive row-major ca x cb products of packed Gram rows over consecutive
// column ranges; out[(a0 + i) * ld + b0 + j] = scale * sum over chunks of p[c][i][j], summed in float64.
// symmetric: a block of one set of rows with itself, (i, j) and (j, i) both take the upper triangle's value;
// mirror: out[(b0 + j) * ld + a0 + i] gets the same value.
void cka_record_products(const float* p, int64_t chunks, int64_t ca, int64_t cb, double scale, double* out,
                         int64_t ld, int64_t a0, int64_t b0, bool symmetric, bool mirror, cudaStream_t s);
// out[r] = scale * sum_j g[r * ld + j]^2 over j < m, in float64.
void cka_row_dots(const float* g, int64_t rows, int64_t m, int64_t ld, double scale, double* out,
                  cudaStream_t s);
// out[r] = scale * sum_j a[r * lda + j] * b[r * ldb + j] over j < m, in float64 (the same kernel: with b == a
// and ldb == lda, cka_row_dots bit for bit).
void cka_row_products(const float* a, int64_t lda, const float* b, int64_t ldb, int64_t rows, int64_t m,
                      double scale, double* out, cudaStream_t s);
// dst[i] += src[i * src_stride] for i < count.
void cka_accumulate(double* dst, const double* src, int64_t count, int64_t src_stride, cudaStream_t s);

}  // namespace biascka::kernels
