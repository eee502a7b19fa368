#pragma once
// The device side of the CUDA emulation (test infrastructure, never the product). In the
// -DBIASCKA_CUDA_EMULATION=ON build every .cu file is compiled as C++ by the host compiler with this header
// force-included (cmake/CudaEmulation.cmake). It includes the real <cuda_runtime.h> for the types (dim3,
// float4, cudaStream_t, ...: those headers compile without nvcc, and leave __global__, __device__, __host__
// and __grid_constant__ empty) and then supplies what nvcc would: the built-in variables, __shared__, the
// barriers, warp intrinsics, atomics, fences, load intrinsics, bit casts, and the launch entry that
// kernels/launch.cuh calls.
//
// What is emulated (tests/cuda_emu/block.cpp runs it): a grid is run block after block; a block's threads are
// fibers on one OS thread that switch only at __syncthreads, __syncwarp and the warp collectives (shuffles,
// votes, the mma twin of kernels/ptx.cuh), so a missing barrier lets one warp run ahead of the others and
// read shared memory they have not written. Dynamic shared memory is a per-launch buffer filled with 0xff
// bytes (NaN as float or double, -1 as an integer) before each block, so reads before writes show.
//
// What is not: no memory model beyond sequential consistency (fences are plain fences, atomics are exact);
// blocks never run concurrently (a kernel that spins on another block's progress deadlocks here); static
// __shared__ variables are function-local statics, zero before the first block and left as the previous
// block left them (there is no way to find them all to poison them); no register or static shared memory
// limits, no __launch_bounds__ check, no timing, no texture or cooperative-group features. Warp collectives
// need every lane of the mask to call the same intrinsic (as sm_70+ requires); divergent or partial-warp
// collectives with different masks at once are reported as errors rather than emulated.
#include <cuda_runtime.h>

#include <math.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>

#include "tests/cuda_emu/tf32.h"

// ---- qualifiers the real headers leave undefined or empty for a host compiler ----
#undef __shared__
// Serialised execution (one block at a time, process-wide) makes a plain static the block's storage; ASan
// puts redzones around it, so an out-of-bounds shared index is a report.
#define __shared__ static
#ifndef __launch_bounds__
#define __launch_bounds__(...)
#endif

namespace cuda_emu {

// ---- what the scheduler sets for the fiber that runs ----
struct ThreadState {
  uint3 thread_idx;
  unsigned linear;  // x + y * bx + z * bx * by
};
struct BlockState {
  uint3 block_idx;
  dim3 grid_dim, block_dim;
  unsigned char* dynamic_smem;
};
extern __thread const ThreadState* t_thread;
extern __thread const BlockState* t_block;

// ---- block and warp synchronisation (block.cpp) ----
void sync_block();
[[noreturn]] void device_fault(const char* what);  // aborts the kernel: a sticky launch failure

// One warp-collective step: the calling lane deposits `in`, waits until every lane of `mask` has arrived
// at the same collective (`what` identifies it), the last to arrive runs `combine(in[32], out[32])` once,
// and each lane gets its out[lane]. Slots of lanes outside the mask are zero.
namespace detail {
constexpr size_t kSlotBytes = 64;
using Combine = void (*)(const unsigned char (*in)[kSlotBytes], unsigned char (*out)[kSlotBytes],
                         unsigned mask, const void* ctx);
void warp_step(unsigned mask, const char* what, const void* in, size_t in_bytes, void* out, size_t out_bytes,
               Combine combine, const void* ctx);
}  // namespace detail

template <class In, class Out, class F>
Out warp_collective(unsigned mask, const char* what, const In& in, const F& combine) {
  static_assert(sizeof(In) <= detail::kSlotBytes && sizeof(Out) <= detail::kSlotBytes, "slot too small");
  static_assert(std::is_trivially_copyable_v<In> && std::is_trivially_copyable_v<Out>);
  Out out{};
  detail::warp_step(
      mask, what, &in, sizeof(In), &out, sizeof(Out),
      [](const unsigned char(*ins)[detail::kSlotBytes], unsigned char(*outs)[detail::kSlotBytes], unsigned m,
         const void* ctx) {
        In a[32];
        Out b[32]{};
        for (int l = 0; l < 32; ++l) std::memcpy(&a[l], ins[l], sizeof(In));
        (*static_cast<const F*>(ctx))(a, b, m);
        for (int l = 0; l < 32; ++l) std::memcpy(outs[l], &b[l], sizeof(Out));
      },
      &combine);
  return out;
}

inline unsigned lane_id() { return t_thread->linear & 31u; }

// ---- kernel launches (runtime.cpp validates like the driver and queues the grid on the stream) ----
using ThreadBody = void (*)(const void* args);
cudaError_t launch_grid(const char* name, const void* func, dim3 grid, dim3 block, size_t dynamic_smem,
                        cudaStream_t stream, ThreadBody body, std::shared_ptr<const void> args);

template <class... P, class... A>
cudaError_t launch(const char* name, void (*kernel)(P...), dim3 grid, dim3 block, size_t dynamic_smem,
                   cudaStream_t stream, A&&... args) {
  // The arguments converted to the parameter types once, as the launch copies them into parameter space;
  // every thread then gets its own copy, as a by-value parameter.
  using Packed = std::tuple<void (*)(P...), std::decay_t<P>...>;
  auto packed = std::make_shared<const Packed>(kernel, std::decay_t<P>(std::forward<A>(args))...);
  return launch_grid(
      name, reinterpret_cast<const void*>(kernel), grid, block, dynamic_smem, stream,
      [](const void* p) {
        std::apply([](auto k, const auto&... x) { k(x...); }, *static_cast<const Packed*>(p));
      },
      std::move(packed));
}

}  // namespace cuda_emu

// ---- built-in variables ----
constexpr int warpSize = 32;
#define threadIdx (::cuda_emu::t_thread->thread_idx)
#define blockIdx (::cuda_emu::t_block->block_idx)
#define blockDim (::cuda_emu::t_block->block_dim)
#define gridDim (::cuda_emu::t_block->grid_dim)

// ---- barriers and fences ----
inline void __syncthreads() { ::cuda_emu::sync_block(); }
inline void __syncwarp(unsigned mask = 0xffffffffu) {
  struct None {};
  ::cuda_emu::warp_collective<None, None>(mask, "__syncwarp", None{}, [](const None*, None*, unsigned) {});
}
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
[[noreturn]] inline void __trap() { ::cuda_emu::device_fault("__trap()"); }

// ---- warp shuffles and votes ----
namespace cuda_emu::detail {
enum class ShuffleKind { Index, Up, Down, Xor };
template <class T>
struct ShuffleIn {
  T value;
  int arg;
};
template <class T>
T shuffle(ShuffleKind kind, const char* what, unsigned mask, T v, int arg, int width) {
  return warp_collective<ShuffleIn<T>, T>(mask, what, ShuffleIn<T>{v, arg},
                                          [kind, width](const ShuffleIn<T>* in, T* out, unsigned m) {
                                            for (int l = 0; l < 32; ++l) {
                                              if (!(m >> l & 1u)) continue;
                                              const int base = l / width * width, a = in[l].arg;
                                              int src = l;
                                              switch (kind) {
                                                case ShuffleKind::Index:
                                                  src = base + ((a % width) + width) % width;
                                                  break;
                                                case ShuffleKind::Up:
                                                  src = l - base >= a ? l - a : l;
                                                  break;
                                                case ShuffleKind::Down:
                                                  src = l - base + a < width ? l + a : l;
                                                  break;
                                                case ShuffleKind::Xor:
                                                  src = (l ^ a) < base + width ? l ^ a : l;
                                                  break;
                                              }
                                              if (!(m >> src & 1u))
                                                device_fault("warp shuffle reads a lane outside its mask");
                                              out[l] = in[src].value;
                                            }
                                          });
}
}  // namespace cuda_emu::detail

template <class T>
T __shfl_sync(unsigned mask, T v, int src, int width = 32) {
  return ::cuda_emu::detail::shuffle(::cuda_emu::detail::ShuffleKind::Index, "__shfl_sync", mask, v, src,
                                     width);
}
template <class T>
T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = 32) {
  return ::cuda_emu::detail::shuffle(::cuda_emu::detail::ShuffleKind::Up, "__shfl_up_sync", mask, v,
                                     static_cast<int>(delta), width);
}
template <class T>
T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32) {
  return ::cuda_emu::detail::shuffle(::cuda_emu::detail::ShuffleKind::Down, "__shfl_down_sync", mask, v,
                                     static_cast<int>(delta), width);
}
template <class T>
T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32) {
  return ::cuda_emu::detail::shuffle(::cuda_emu::detail::ShuffleKind::Xor, "__shfl_xor_sync", mask, v,
                                     lane_mask, width);
}
inline unsigned __ballot_sync(unsigned mask, int predicate) {
  return ::cuda_emu::warp_collective<int, unsigned>(mask, "__ballot_sync", predicate != 0,
                                                    [](const int* in, unsigned* out, unsigned m) {
                                                      unsigned b = 0;
                                                      for (int l = 0; l < 32; ++l)
                                                        if ((m >> l & 1u) && in[l]) b |= 1u << l;
                                                      for (int l = 0; l < 32; ++l) out[l] = b;
                                                    });
}
inline int __any_sync(unsigned mask, int predicate) { return __ballot_sync(mask, predicate) != 0; }
inline int __all_sync(unsigned mask, int predicate) { return __ballot_sync(mask, predicate) == mask; }

// ---- atomics (exact: blocks and threads never run at the same time) ----
namespace cuda_emu::detail {
template <class T, class F>
T atomic_update(T* p, F next) {
  const T old = *p;
  *p = next(old);
  return old;
}
}  // namespace cuda_emu::detail
template <class T>
T atomicAdd(T* p, T v) {
  return ::cuda_emu::detail::atomic_update(p, [v](T o) { return T(o + v); });
}
template <class T>
T atomicSub(T* p, T v) {
  return ::cuda_emu::detail::atomic_update(p, [v](T o) { return T(o - v); });
}
template <class T>
T atomicExch(T* p, T v) {
  return ::cuda_emu::detail::atomic_update(p, [v](T) { return v; });
}
template <class T>
T atomicMax(T* p, T v) {
  return ::cuda_emu::detail::atomic_update(p, [v](T o) { return o < v ? v : o; });
}
template <class T>
T atomicMin(T* p, T v) {
  return ::cuda_emu::detail::atomic_update(p, [v](T o) { return v < o ? v : o; });
}
template <class T>
T atomicCAS(T* p, T compare, T v) {
  return ::cuda_emu::detail::atomic_update(p, [compare, v](T o) { return o == compare ? v : o; });
}

// ---- loads through the read-only / L2 paths: plain loads here ----
template <class T>
T __ldg(const T* p) {
  return *p;
}
template <class T>
T __ldcg(const T* p) {
  return *p;
}
template <class T>
T __ldcs(const T* p) {
  return *p;
}

// ---- bit casts and math intrinsics ----
inline unsigned __float_as_uint(float x) {
  unsigned u;
  std::memcpy(&u, &x, 4);
  return u;
}
inline float __uint_as_float(unsigned u) {
  float x;
  std::memcpy(&x, &u, 4);
  return x;
}
inline int __float_as_int(float x) { return static_cast<int>(__float_as_uint(x)); }
inline float __int_as_float(int i) { return __uint_as_float(static_cast<unsigned>(i)); }
inline long long __double_as_longlong(double x) {
  long long u;
  std::memcpy(&u, &x, 8);
  return u;
}
inline double __longlong_as_double(long long u) {
  double x;
  std::memcpy(&x, &u, 8);
  return x;
}
inline float __fdividef(float a, float b) { return a / b; }
inline float __saturatef(float x) { return x < 0.f ? 0.f : (x > 1.f ? 1.f : x); }
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __ffs(int x) { return __builtin_ffs(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz(static_cast<unsigned>(x)); }
// CUDA's min/max overloads for mixed integer types: the usual arithmetic conversions.
template <class A, class B, class = std::enable_if_t<std::is_arithmetic_v<A> && std::is_arithmetic_v<B>>>
constexpr std::common_type_t<A, B> min(A a, B b) {
  using C = std::common_type_t<A, B>;
  return C(b) < C(a) ? C(b) : C(a);
}
template <class A, class B, class = std::enable_if_t<std::is_arithmetic_v<A> && std::is_arithmetic_v<B>>>
constexpr std::common_type_t<A, B> max(A a, B b) {
  using C = std::common_type_t<A, B>;
  return C(a) < C(b) ? C(b) : C(a);
}
