#pragma once
// Shared helpers for the .cu files: launch geometry, grid-stride loops, vector loads, dynamic shared
// memory, launch checks.
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

// Launch limits of every GPU since sm_30 (the driver rejects anything beyond them).
constexpr int64_t kMaxGridX = 2147483647;
constexpr int64_t kMaxGridY = 65535;  // also z
constexpr int kMaxBlockThreads = 1024;
constexpr int kMaxBlockZ = 64;
constexpr size_t kDefaultDynamicSmem = 48 << 10;  // more needs cudaFuncSetAttribute's opt-in

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

// The kernel's dynamic shared memory (the launch's dynamic_smem bytes, 16-byte aligned). Every kernel takes
// it from here rather than declaring its own extern __shared__ array: in the emulation build it is the
// launch's per-block buffer.
template <class T>
__device__ __forceinline__ T* dynamic_smem() {
#ifdef BIASCKA_CUDA_EMULATION
  return reinterpret_cast<T*>(::cuda_emu::t_block->dynamic_smem);
#else
  extern __shared__ __align__(16) unsigned char biascka_dynamic_smem[];
  return reinterpret_cast<T*>(biascka_dynamic_smem);
#endif
}

// Throws a kernels::KernelError naming the kernel when grid or block exceed the device limits above (dynamic
// shared memory beyond the opt-in is the runtime's to refuse: the opt-in is per kernel).
void check_launch_config(const char* kernel, dim3 grid, dim3 block);

// Reports a launch failure (bad configuration) at the call site as a kernels::KernelError (kernels/error.h);
// execution errors surface at the next synchronisation.
void check_launch(const char* kernel, const char* file, int line);

}  // namespace biascka::kernels
