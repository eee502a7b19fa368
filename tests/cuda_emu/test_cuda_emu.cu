// The CUDA emulation itself (tests/cuda_emu; emulation build only): that it catches what it is there to
// catch (a missing barrier, a sync inside a graph capture, a launch the driver would refuse, a consumer
// stream that does not wait, divergent barriers and warp collectives) and that its warp collectives and PTX
// twins compute what the hardware does.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/common.cuh"
#include "kernels/error.h"
#include "kernels/launch.cuh"
#include "kernels/ptx.cuh"

namespace biascka::kernels {
namespace {

std::vector<float> download(const float* d, size_t n) {
  std::vector<float> h(n);
  EXPECT_EQ(cudaMemcpy(h.data(), d, n * sizeof(float), cudaMemcpyDeviceToHost), cudaSuccess);
  return h;
}

float* device_floats(size_t n) {
  void* p = nullptr;
  EXPECT_EQ(cudaMalloc(&p, n * sizeof(float)), cudaSuccess);
  EXPECT_EQ(cudaMemset(p, 0, n * sizeof(float)), cudaSuccess);
  return static_cast<float*>(p);
}

// Warp 0 writes shared memory, warp 1 reads it.
template <bool kBarrier>
__global__ void handoff_kernel(float* out) {
  float* s = dynamic_smem<float>();
  if (threadIdx.x < 32) s[threadIdx.x] = static_cast<float>(threadIdx.x);
  if (kBarrier) __syncthreads();
  if (threadIdx.x >= 32) out[blockIdx.x * 32 + threadIdx.x - 32] = s[threadIdx.x - 32];
}

TEST(CudaEmulation, AMissingBarrierReadsPoisonAndTheBarrierFixesIt) {
  float* out = device_floats(64);
  for (bool barrier : {true, false}) {
    launch("handoff", barrier ? handoff_kernel<true> : handoff_kernel<false>, 2, 64, 32 * sizeof(float),
           nullptr, out);
    const std::vector<float> h = download(out, 64);
    int poisoned = 0;
    for (int i = 0; i < 64; ++i) {
      if (std::isnan(h[i]))
        ++poisoned;
      else
        EXPECT_EQ(h[i], float(i % 32));
    }
    // One of the two blocks runs the reading warp first.
    EXPECT_EQ(poisoned, barrier ? 0 : 32) << (barrier ? "with" : "without") << " the barrier";
  }
  cudaFree(out);
}

__global__ void shuffle_kernel(float* out) {
  const int lane = threadIdx.x;
  const float v = static_cast<float>(lane);
  out[lane] = __shfl_xor_sync(0xffffffffu, v, 5);
  out[32 + lane] = __shfl_down_sync(0xffffffffu, v, 3);
  out[64 + lane] = __shfl_up_sync(0xffffffffu, v, 2);
  out[96 + lane] = __shfl_sync(0xffffffffu, v, 7, 16);
  out[128 + lane] = static_cast<float>(__ballot_sync(0xffffffffu, lane % 3 == 0) == 0x49249249u);
}

TEST(CudaEmulation, WarpShufflesAndBallot) {
  float* out = device_floats(160);
  launch("shuffles", shuffle_kernel, 1, 32, 0, nullptr, out);
  const std::vector<float> h = download(out, 160);
  for (int l = 0; l < 32; ++l) {
    EXPECT_EQ(h[l], float(l ^ 5));
    EXPECT_EQ(h[32 + l], float(l + 3 < 32 ? l + 3 : l));
    EXPECT_EQ(h[64 + l], float(l >= 2 ? l - 2 : l));
    EXPECT_EQ(h[96 + l], float(l / 16 * 16 + 7));
    EXPECT_EQ(h[128 + l], 1.f);
  }
  cudaFree(out);
}

// Fragments loaded as the PTX ISA lays out mma.m16n8k8 TF32 (A row-major 16 x 8, B 8 x 8 as k x n), D stored.
__global__ void mma_kernel(const float* a, const float* b, const float* c, float* d) {
  const int lane = threadIdx.x, g = lane >> 2, t = lane & 3;
  const uint32_t fa[4] = {__float_as_uint(a[g * 8 + t]), __float_as_uint(a[(g + 8) * 8 + t]),
                          __float_as_uint(a[g * 8 + t + 4]), __float_as_uint(a[(g + 8) * 8 + t + 4])};
  const uint32_t fb[2] = {__float_as_uint(b[t * 8 + g]), __float_as_uint(b[(t + 4) * 8 + g])};
  float acc[4] = {c[g * 8 + 2 * t], c[g * 8 + 2 * t + 1], c[(g + 8) * 8 + 2 * t], c[(g + 8) * 8 + 2 * t + 1]};
  ptx::mma_m16n8k8_tf32(acc, fa, fb);
  d[g * 8 + 2 * t] = acc[0];
  d[g * 8 + 2 * t + 1] = acc[1];
  d[(g + 8) * 8 + 2 * t] = acc[2];
  d[(g + 8) * 8 + 2 * t + 1] = acc[3];
}

TEST(CudaEmulation, MmaTwinIsTheTf32ProductOfTheFragments) {
  std::vector<float> a(128), b(64), c(128);
  for (int i = 0; i < 128; ++i) a[i] = std::sin(0.37f * i) * 3.f;
  for (int i = 0; i < 64; ++i) b[i] = std::cos(0.91f * i);
  for (int i = 0; i < 128; ++i) c[i] = 0.25f * (i % 7);
  float* d_a = device_floats(128);
  float* d_b = device_floats(64);
  float* d_c = device_floats(128);
  float* d_d = device_floats(128);
  cudaMemcpy(d_a, a.data(), 512, cudaMemcpyHostToDevice);
  cudaMemcpy(d_b, b.data(), 256, cudaMemcpyHostToDevice);
  cudaMemcpy(d_c, c.data(), 512, cudaMemcpyHostToDevice);
  launch("mma", mma_kernel, 1, 32, 0, nullptr, d_a, d_b, d_c, d_d);
  const std::vector<float> d = download(d_d, 128);
  auto truncate = [](float x) {  // the tensor core reads the top 19 bits
    uint32_t u;
    std::memcpy(&u, &x, 4);
    u &= 0xffffe000u;
    std::memcpy(&x, &u, 4);
    return x;
  };
  for (int r = 0; r < 16; ++r)
    for (int n = 0; n < 8; ++n) {
      double want = c[r * 8 + n];
      for (int k = 0; k < 8; ++k) want += double(truncate(a[r * 8 + k])) * truncate(b[k * 8 + n]);
      EXPECT_NEAR(d[r * 8 + n], want, 1e-5) << r << ", " << n;  // float32 sums of 9 terms of size ~3
    }
  EXPECT_EQ(::cuda_emu::tf32_round(1.f + 0x1p-11f), 1.f + 0x1p-10f) << "a tie rounds away from zero";
  EXPECT_EQ(::cuda_emu::tf32_round(-1.f - 0x1p-11f), -1.f - 0x1p-10f);
  for (float* p : {d_a, d_b, d_c, d_d}) cudaFree(p);
}

__global__ void nothing_kernel(float* out) {
  if (out) out[threadIdx.x] = 1.f;
}

TEST(CudaEmulation, LaunchesTheDriverWouldRefuseAreErrors) {
  EXPECT_THROW(launch("too many threads", nothing_kernel, 1, 1025, 0, nullptr, nullptr), KernelError);
  EXPECT_THROW(launch("grid y", nothing_kernel, dim3(1, 65536), 32, 0, nullptr, nullptr), KernelError);
  try {
    launch("smem without opt-in", nothing_kernel, 1, 32, 64 << 10, nullptr, nullptr);
    FAIL() << "expected an error";
  } catch (const KernelError& e) {
    EXPECT_NE(std::string(e.what()).find("cudaFuncSetAttribute"), std::string::npos) << e.what();
  }
  void (*k)(float*) = nothing_kernel;
  ASSERT_EQ(cudaFuncSetAttribute(reinterpret_cast<const void*>(k),
                                 cudaFuncAttributeMaxDynamicSharedMemorySize, 64 << 10),
            cudaSuccess);
  launch("smem with opt-in", nothing_kernel, 1, 32, 64 << 10, nullptr, nullptr);
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
}

__global__ void fill_kernel(float* out, float v) { out[threadIdx.x] = v; }

TEST(CudaEmulation, AStreamThatDoesNotWaitSeesTheOldData) {
  cudaStream_t producer, consumer;
  ASSERT_EQ(cudaStreamCreateWithFlags(&producer, cudaStreamNonBlocking), cudaSuccess);
  ASSERT_EQ(cudaStreamCreateWithFlags(&consumer, cudaStreamNonBlocking), cudaSuccess);
  cudaEvent_t written;
  ASSERT_EQ(cudaEventCreateWithFlags(&written, cudaEventDisableTiming), cudaSuccess);
  float* src = device_floats(32);
  float* dst = device_floats(32);
  for (bool wait : {false, true}) {
    launch("fill", fill_kernel, 1, 32, 0, producer, src, wait ? 2.f : 1.f);
    ASSERT_EQ(cudaEventRecord(written, producer), cudaSuccess);
    if (wait) ASSERT_EQ(cudaStreamWaitEvent(consumer, written, 0), cudaSuccess);
    ASSERT_EQ(cudaMemcpyAsync(dst, src, 128, cudaMemcpyDeviceToDevice, consumer), cudaSuccess);
    ASSERT_EQ(cudaStreamSynchronize(consumer), cudaSuccess);
    EXPECT_EQ(download(dst, 32)[0], wait ? 2.f : 0.f) << (wait ? "with" : "without") << " the wait";
    ASSERT_EQ(cudaStreamSynchronize(producer), cudaSuccess);
  }
  cudaFree(src);
  cudaFree(dst);
  cudaEventDestroy(written);
  cudaStreamDestroy(producer);
  cudaStreamDestroy(consumer);
}

TEST(CudaEmulation, CaptureRecordsReplaysAndRejectsASync) {
  cudaStream_t s;
  ASSERT_EQ(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), cudaSuccess);
  float* out = device_floats(32);
  cudaGraph_t graph = nullptr;
  ASSERT_EQ(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), cudaSuccess);
  launch("fill", fill_kernel, 1, 32, 0, s, out, 3.f);
  ASSERT_EQ(cudaStreamEndCapture(s, &graph), cudaSuccess);
  EXPECT_EQ(download(out, 32)[0], 0.f) << "captured work does not run";
  cudaGraphExec_t exec = nullptr;
  ASSERT_EQ(cudaGraphInstantiate(&exec, graph, 0), cudaSuccess);
  ASSERT_EQ(cudaGraphLaunch(exec, s), cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
  EXPECT_EQ(download(out, 32)[31], 3.f) << "the replay runs it";
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);

  ASSERT_EQ(cudaStreamBeginCapture(s, cudaStreamCaptureModeRelaxed), cudaSuccess);
  EXPECT_EQ(cudaStreamSynchronize(s), cudaErrorStreamCaptureUnsupported);
  EXPECT_EQ(cudaStreamEndCapture(s, &graph), cudaErrorStreamCaptureInvalidated);
  EXPECT_EQ(graph, nullptr);
  ASSERT_EQ(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), cudaSuccess);
  void* p = nullptr;
  EXPECT_EQ(cudaMalloc(&p, 16), cudaErrorStreamCaptureUnsupported) << "unsafe in a global capture";
  EXPECT_EQ(cudaStreamEndCapture(s, &graph), cudaErrorStreamCaptureInvalidated);
  cudaGetLastError();
  cudaFree(out);
  cudaStreamDestroy(s);
}

__global__ void divergent_barrier_kernel(float*) {
  if (threadIdx.x < 32) return;
  __syncthreads();
}

__global__ void divergent_shuffle_kernel(float* out) {
  const float v =
      threadIdx.x < 16 ? __shfl_xor_sync(0xffffffffu, 1.f, 1) : __shfl_down_sync(0xffffffffu, 2.f, 1);
  out[threadIdx.x] = v;
}

// A faulted kernel is a sticky error for the whole process, so each runs in a child process.
void expect_fault(void (*kernel)(float*), const char* what) {
  EXPECT_EXIT(
      {
        float* out = device_floats(64);
        launch("faulty", kernel, 1, 64, 0, nullptr, out);
        const cudaError_t e = cudaDeviceSynchronize();
        std::fprintf(stderr, "%s\n", cudaGetErrorString(e));
        std::_Exit(e == cudaErrorLaunchFailure ? 0 : 1);  // no exit handlers (LeakSanitizer) in the child
      },
      ::testing::ExitedWithCode(0), what);
}

TEST(CudaEmulationDeathTest, DivergentBarriersAndWarpCollectivesFault) {
  expect_fault(divergent_barrier_kernel, "exited");
  expect_fault(divergent_shuffle_kernel, "divergent warp collective");
}

}  // namespace
}  // namespace biascka::kernels
