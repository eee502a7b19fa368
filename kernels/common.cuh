#pragma once
// Shared helpers for the .cu files: launch geometry, grid-stride loops, vector loads, launch checks.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

namespace biascka::kernels {

constexpr int kThreads = 256;

// Blocks for a grid-stride loop over n items: enough to fill the GPU, capped because the loop covers the
// rest.
inline unsigned blocks_for(int64_t n, int threads = kThreads) {
  return static_cast<unsigned>(std::clamp<int64_t>((n + threads - 1) / threads, 1, 1 << 20));
}

// Multiprocessors of the current GPU (cached per device; no synchronisation, safe during graph capture).
int sm_count();

// The largest grid y/z dimension.
constexpr int64_t kMaxGridY = 65535;

#define BIASCKA_GRID_STRIDE(i, n)                                           \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (n); \
       i += int64_t(gridDim.x) * blockDim.x)

// True when every pointer is aligned for `bytes`-wide vector accesses.
template <class... P>
__host__ __device__ inline bool aligned_to(int bytes, const P*... p) {
  return ((reinterpret_cast<uintptr_t>(p) % bytes == 0) && ...);
}

// V consecutive elements moved as one access (the address must be aligned to V * sizeof(T) bytes).
template <class T, int V>
struct alignas(sizeof(T) * V) Vec {
  T v[V];
};
template <int V>
using FloatVec = Vec<float, V>;

template <int V, class T>
__device__ __forceinline__ Vec<T, V> load_vec(const T* p) {
  return *reinterpret_cast<const Vec<T, V>*>(p);
}

template <int V, class T>
__device__ __forceinline__ void store_vec(T* p, const Vec<T, V>& x) {
  *reinterpret_cast<Vec<T, V>*>(p) = x;
}

// Reports a launch failure (bad configuration) at the call site as a biascka::Error; execution errors
// surface at the next synchronisation.
void check_launch(const char* kernel, const char* file, int line);
#define BIASCKA_KERNEL_LAUNCHED(name) ::biascka::kernels::check_launch(name, __FILE__, __LINE__)

}  // namespace biascka::kernels
