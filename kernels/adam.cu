// torch.optim.Adam over every parameter in one launch. CPU twin: engine/ops/cpu/adam.cpp.
// blockIdx.y picks the tensor, blockIdx.x strides over its elements. The step count is read from device
// memory after a one-thread kernel has incremented it, so nothing here depends on host state that changes
// between steps: the pair can be captured in a CUDA graph and replayed.
#include <cmath>

#include "kernels/common.cuh"
#include "kernels/error.h"
#include "kernels/kernels.h"
#include "kernels/launch.cuh"

namespace biascka::kernels {

namespace {

constexpr int kVec = 4;
constexpr int kBlocksPerSm = 2;  // blocks per tensor (before capping by its size): the largest tensors
                                 // (2.4M of ResNet18's 11.2M) get 2 per SM, the small ones a few

struct AdamConsts {
  float lr, beta1, beta2, eps, weight_decay;
};

// The twin's float arithmetic, in its order.
__device__ __forceinline__ void adam_element(float& p, float g, float& m, float& v, const AdamConsts& k,
                                             float step_size, float bc2_sqrt) {
  const float gi = g + k.weight_decay * p;
  m = m * k.beta1 + gi * (1.f - k.beta1);
  v = v * k.beta2 + (1.f - k.beta2) * gi * gi;
  const float denom = sqrtf(v) / bc2_sqrt + k.eps;
  p = p + (-step_size) * (m / denom);
}

__global__ void adam_kernel(const AdamTensor* tensors, const int64_t* step, AdamConsts k) {
  const AdamTensor t = tensors[blockIdx.y];
  const bool vec = aligned_to(16, t.param, t.grad, t.exp_avg, t.exp_avg_sq);
  const int64_t first = int64_t(blockIdx.x) * blockDim.x;
  // Blocks past this tensor's end leave now (block-uniform, before the barrier).
  if (first >= (vec ? (t.numel + kVec - 1) / kVec : t.numel)) return;

  // Bias corrections in double from the device step, once per block (the twin does them once per step).
  __shared__ float step_size, bc2_sqrt;
  if (threadIdx.x == 0) {
    const double n = static_cast<double>(*step);
    const double bc1 = 1.0 - pow(double(k.beta1), n), bc2 = 1.0 - pow(double(k.beta2), n);
    step_size = static_cast<float>(k.lr / bc1);
    bc2_sqrt = static_cast<float>(sqrt(bc2));
  }
  __syncthreads();
  const float ss = step_size, b2s = bc2_sqrt;

  const int64_t tid = first + threadIdx.x, stride = int64_t(gridDim.x) * blockDim.x;
  int64_t scalar_from = 0;
  if (vec) {
    const int64_t groups = t.numel / kVec;
    for (int64_t q = tid; q < groups; q += stride) {
      FloatVec<kVec> p = load_vec<kVec>(t.param + q * kVec), m = load_vec<kVec>(t.exp_avg + q * kVec),
                     v = load_vec<kVec>(t.exp_avg_sq + q * kVec);
      const FloatVec<kVec> g = load_vec<kVec>(t.grad + q * kVec);
#pragma unroll
      for (int e = 0; e < kVec; ++e) adam_element(p.v[e], g.v[e], m.v[e], v.v[e], k, ss, b2s);
      store_vec<kVec>(t.param + q * kVec, p);
      store_vec<kVec>(t.exp_avg + q * kVec, m);
      store_vec<kVec>(t.exp_avg_sq + q * kVec, v);
    }
    scalar_from = groups * kVec;
  }
  for (int64_t i = scalar_from + tid; i < t.numel; i += stride)
    adam_element(t.param[i], t.grad[i], t.exp_avg[i], t.exp_avg_sq[i], k, ss, b2s);
}

__global__ void adam_increment_kernel(int64_t* step) { *step += 1; }

}  // namespace

void adam_step(const AdamTensor* tensors, int count, int64_t max_numel, int64_t* step, float lr, float beta1,
               float beta2, float eps, float weight_decay, cudaStream_t s) {
  BIASCKA_KERNEL_CHECK(count >= 0 && count <= kMaxGridY, "kernels::adam_step: ", count, " tensors (at most ",
                       kMaxGridY, " per launch)");
  // The step counts even when no parameter has a gradient, as in the twin.
  launch("adam_step increment", adam_increment_kernel, 1, 1, 0, s, step);

  if (count == 0 || max_numel <= 0) return;
  // Enough blocks that the largest tensor is covered in a few strides; smaller tensors leave the extra
  // blocks idle (they return before touching memory).
  const int64_t need = (max_numel + int64_t(kThreads) * kVec - 1) / (int64_t(kThreads) * kVec);
  const unsigned gx = static_cast<unsigned>(std::clamp<int64_t>(need, 1, int64_t(sm_count()) * kBlocksPerSm));
  launch("adam_step", adam_kernel, dim3(gx, static_cast<unsigned>(count)), kThreads, 0, s, tensors, step,
         AdamConsts{lr, beta1, beta2, eps, weight_decay});
}

}  // namespace biascka::kernels
