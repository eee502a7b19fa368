// The six objectives as one fused kernel each (a switch on `kind`, uniform across the launch), and the
// training-time accuracy counters. CPU twin: losses/objectives.cpp.
#include "kernels/common.cuh"
#include "kernels/kernels.h"
#include "kernels/launch.cuh"

namespace biascka::kernels {

namespace {

constexpr int kObjThreads = 256;
enum Kind { kSce = 0, kNll = 1, kBce = 2, kL1 = 3, kL2 = 4, kSos = 5 };

// One row: writes dL/dz (scaled by inv_b) and returns the row's loss. Same arithmetic as the CPU twin.
__device__ double row_loss_grad(int kind, float alpha, float beta, const float* z, int64_t y, int64_t cols,
                                double inv_b, float* dz) {
  double loss = 0;
  if (kind == kNll) {
    for (int64_t c = 0; c < cols; ++c) dz[c] = c == y ? static_cast<float>(-inv_b) : 0.f;
    return -double(z[y]);
  }
  if (kind == kBce || kind == kSos) {
    const double inv_c = 1.0 / static_cast<double>(cols);
    for (int64_t c = 0; c < cols; ++c) {
      const double v = z[c];
      if (kind == kBce) {
        const double t = c == y ? 1.0 : 0.0;
        loss += (fmax(v, 0.0) - v * t + log1p(exp(-fabs(v)))) * inv_c;
        const double sig = v >= 0 ? 1.0 / (1.0 + exp(-v)) : exp(v) / (1.0 + exp(v));
        dz[c] = static_cast<float>((sig - t) * inv_c * inv_b);
      } else if (c == y) {
        loss += alpha * (v - beta) * (v - beta) * inv_c;
        dz[c] = static_cast<float>(2.0 * alpha * (v - beta) * inv_c * inv_b);
      } else {
        loss += v * v * inv_c;
        dz[c] = static_cast<float>(2.0 * v * inv_c * inv_b);
      }
    }
    return loss;
  }
  // softmax family: sce, l1, l2. Two passes over the row; p recomputed instead of stored (cols is small).
  double mx = z[0];
  for (int64_t c = 1; c < cols; ++c) mx = fmax(mx, double(z[c]));
  double s = 0;
  for (int64_t c = 0; c < cols; ++c) s += exp(double(z[c]) - mx);
  const double lse = mx + log(s);
  if (kind == kSce) {
    for (int64_t c = 0; c < cols; ++c)
      dz[c] = static_cast<float>((exp(double(z[c]) - lse) - (c == y)) * inv_b);
    return lse - z[y];
  }
  double gp = 0;
  for (int64_t c = 0; c < cols; ++c) {
    const double p = exp(double(z[c]) - lse), d = (c == y ? 1.0 : 0.0) - p;
    const double g = kind == kL1 ? (d > 0 ? -1.0 : d < 0 ? 1.0 : 0.0) : -2.0 * d;
    loss += kind == kL1 ? fabs(d) : d * d;
    gp += g * p;
  }
  for (int64_t c = 0; c < cols; ++c) {
    const double p = exp(double(z[c]) - lse), d = (c == y ? 1.0 : 0.0) - p;
    const double g = kind == kL1 ? (d > 0 ? -1.0 : d < 0 ? 1.0 : 0.0) : -2.0 * d;
    dz[c] = static_cast<float>(p * (g - gp) * inv_b);
  }
  return loss;
}

// A single block walks all rows (batches are at most a few thousand rows of ~10 classes), then reduces
// the row losses in a fixed tree order: deterministic, and the mean lands on the device without a sync.
__global__ void objective_kernel(int kind, float alpha, float beta, const float* in, const int64_t* targets,
                                 int64_t rows, int64_t cols, float* grad, double* loss_out) {
  __shared__ double partial[kObjThreads];
  const double inv_b = 1.0 / static_cast<double>(rows);
  double acc = 0;
  for (int64_t r = threadIdx.x; r < rows; r += blockDim.x) {
    int64_t y = targets[r];
    if (y < 0 || y >= cols) y = 0;  // out-of-range targets are rejected on the host before training
    acc += row_loss_grad(kind, alpha, beta, in + r * cols, y, cols, inv_b, grad + r * cols);
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
                                int64_t rows, int64_t cols, unsigned long long* counts) {
  BIASCKA_GRID_STRIDE(r, rows) {
    const float* z = logits + r * cols;
    int64_t best = 0;
    for (int64_t c = 1; c < cols; ++c)
      if (z[c] > z[best]) best = c;  // first maximum, as torch.argmax
    const bool correct = best == targets[r];
    const bool aligned = targets[r] == biases[r];
    if (correct) atomicAdd(&counts[0], 1ull);
    if (aligned) atomicAdd(&counts[1], 1ull);
    if (correct && aligned) atomicAdd(&counts[2], 1ull);
    if (correct && !aligned) atomicAdd(&counts[3], 1ull);
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

void objective_loss_grad(int kind, float sos_alpha, float sos_beta, const float* input,
                         const int64_t* targets, int64_t rows, int64_t cols, float* grad, double* loss,
                         cudaStream_t s) {
  launch("objective_loss_grad", objective_kernel, 1, kObjThreads, 0, s, kind, sos_alpha, sos_beta, input,
         targets, rows, cols, grad, loss);
}

void accuracy_counts(const float* logits, const int64_t* targets, const int64_t* biases, int64_t rows,
                     int64_t cols, int64_t* counts, cudaStream_t s) {
  if (rows == 0) return;
  launch("accuracy_counts", accuracy_kernel, blocks_for(rows), kThreads, 0, s, logits, targets, biases, rows,
         cols, reinterpret_cast<unsigned long long*>(counts));
}

}  // namespace biascka::kernels
