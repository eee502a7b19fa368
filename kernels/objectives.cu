// The six objectives as one fused kernel each (a switch on `kind`, uniform across the launch), and the
// training-time accuracy counters. The per-row arithmetic is kernels/objective_row.h and the per-sample
// counting kernels/accuracy.h, shared with the CPU twins (engine/ops/cpu/objectives.cpp).
#include "kernels/accuracy.h"
#include "kernels/common.cuh"
#include "kernels/kernels.h"
#include "kernels/launch.cuh"

namespace biascka::kernels {

namespace {

constexpr int kObjThreads = 256;

// A single block walks all rows (batches are at most a few thousand rows of ~10 classes), then reduces
// the row losses in a fixed tree order: deterministic, and the mean lands on the device without a sync.
__global__ void objective_kernel(ObjectiveKind kind, float alpha, float beta, const float* in,
                                 const int64_t* targets, int64_t rows, int64_t cols, float* grad,
                                 double* loss_out) {
  __shared__ double partial[kObjThreads];
  const double inv_b = 1.0 / static_cast<double>(rows);
  double acc = 0;
  for (int64_t r = threadIdx.x; r < rows; r += blockDim.x) {
    int64_t y = targets[r];
    if (y < 0 || y >= cols) y = 0;  // out-of-range targets are rejected on the host before training
    acc += objective_math::row_loss_grad(kind, alpha, beta, in + r * cols, y, cols, inv_b, grad + r * cols);
  }
  partial[threadIdx.x] = acc;
  __syncthreads();
  for (int w = blockDim.x / 2; w > 0; w /= 2) {
    if (threadIdx.x < w) partial[threadIdx.x] += partial[threadIdx.x + w];
    __syncthreads();
  }
  if (threadIdx.x == 0) *loss_out = partial[0] * inv_b;
}

__global__ void accuracy_kernel(const float* logits, const int64_t* targets, const int64_t* biases,
                                int64_t rows, int64_t cols, unsigned long long* counts,
                                unsigned long long* confusion) {
  BIASCKA_GRID_STRIDE(r, rows) {
    const int64_t best = accuracy::first_argmax(logits + r * cols, cols), t = targets[r];
    const unsigned hit = accuracy::counters_hit(best, t, biases[r]);
    for (int k = 0; k < accuracy::kCounts; ++k)
      if (hit & (1u << k)) atomicAdd(&counts[k], 1ull);
    if (confusion && t >= 0 && t < cols) atomicAdd(&confusion[t * cols + best], 1ull);
  }
}

__global__ void record_scalar_kernel(const double* value, double* slots, int64_t* index) {
  slots[*index] = *value;
  ++*index;
}

}  // namespace

void record_scalar(const double* value, double* slots, int64_t* index, cudaStream_t s) {
  launch("record_scalar", record_scalar_kernel, 1, 1, 0, s, value, slots, index);
}

void objective_loss_grad(ObjectiveKind kind, float sos_alpha, float sos_beta, const float* input,
                         const int64_t* targets, int64_t rows, int64_t cols, float* grad, double* loss,
                         cudaStream_t s) {
  launch("objective_loss_grad", objective_kernel, 1, kObjThreads, 0, s, kind, sos_alpha, sos_beta, input,
         targets, rows, cols, grad, loss);
}

void accuracy_counts(const float* logits, const int64_t* targets, const int64_t* biases, int64_t rows,
                     int64_t cols, int64_t* counts, int64_t* confusion, cudaStream_t s) {
  if (rows == 0) return;
  launch("accuracy_counts", accuracy_kernel, blocks_for(rows), kThreads, 0, s, logits, targets, biases, rows,
         cols, reinterpret_cast<unsigned long long*>(counts),
         reinterpret_cast<unsigned long long*>(confusion));
}

}  // namespace biascka::kernels
