// Convolutions on the GPU through cuDNN's descriptor API (cudnnConvolutionForward and the two backward
// calls). Why this API and not the graph API: it is still supported in cuDNN 9, it covers the three
// convolutions we need with per-shape algorithm search (cudnnFind*AlgorithmEx, PyTorch's
// cudnn.benchmark) and an explicit math type, and it needs ~200 lines instead of a graph builder. The graph
// API would let us fuse BN-statistics or ReLU epilogues into the convolution (Hopper's runtime-compiled
// engines); that is the next step if profiles show the elementwise kernels matter.
//
// Layouts: activations NHWC; filters are kept [O, C, kH, kW] (PyTorch's) in the parameters and
// transposed to [O, kH, kW, C] around each call (a few microseconds) because cuDNN's tensor-core NHWC
// kernels want filters in NHWC too.
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <tuple>

#include "engine/allocator.h"
#include "engine/cuda/check.h"
#include "engine/cuda/runtime.h"
#include "engine/ops/conv2d.h"
#include "engine/ops/conv2d_impl.h"
#include "kernels/kernels.h"

namespace biascka::conv {
namespace {

// Scratch for the one-time algorithm search; the search's buffer is freed afterwards and the persistent
// workspace grows only to what the chosen algorithms need (peak memory stays close to PyTorch's).
constexpr size_t kFindWorkspace = size_t{512} << 20;

struct Key {
  int device, kind;
  int64_t n, h, w, c, o, kh, kw, stride, pad;
  bool tf32;
  bool operator<(const Key& k) const {
    return std::tie(device, kind, n, h, w, c, o, kh, kw, stride, pad, tf32) <
           std::tie(k.device, k.kind, k.n, k.h, k.w, k.c, k.o, k.kh, k.kw, k.stride, k.pad, k.tf32);
  }
};

struct Plan {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  int algo = 0;
  size_t workspace = 0;
};

std::mutex g_mu;
std::map<Key, Plan> g_plans;

// A device buffer from the caching allocator, returned on scope exit (stream-ordered reuse is safe).
struct Scratch {
  int device;
  void* p;
  Scratch(int d, size_t bytes) : device(d), p(cuda::allocator(d).allocate(bytes)) {}
  ~Scratch() { cuda::allocator(device).deallocate(p); }
  float* f() const { return static_cast<float*>(p); }
};

// The fastest result the search ran successfully. Without TF32 (the search ran with CUDNN_FMA_MATH on the
// descriptor) a tensor-op result, TF32 or converted, is skipped; the plan runs the one taken with FMA math.
template <class Perf>
const Perf& pick(const Perf* perf, int count, bool tf32, const char* what) {
  for (int i = 0; i < count; ++i) {
    if (perf[i].status != CUDNN_STATUS_SUCCESS) continue;
    if (!tf32 && perf[i].mathType != CUDNN_FMA_MATH && perf[i].mathType != CUDNN_DEFAULT_MATH) continue;
    return perf[i];
  }
  fail("cuDNN found no usable ", what, " algorithm");
}

Plan& plan(int device, int kind, const Geometry& g, const float* x, const float* w, float* y) {
  const bool tf32 = cuda::math_mode(device) == MathMode::Tf32;
  const Key key{device, kind, g.n, g.h, g.w, g.c, g.o, g.kh, g.kw, g.stride, g.pad, tf32};
  std::lock_guard<std::mutex> lock(g_mu);
  auto it = g_plans.find(key);
  if (it != g_plans.end()) return it->second;
  Plan p;
  BIASCKA_CUDNN_CHECK(cudnnCreateTensorDescriptor(&p.x));
  BIASCKA_CUDNN_CHECK(cudnnCreateTensorDescriptor(&p.y));
  BIASCKA_CUDNN_CHECK(cudnnCreateFilterDescriptor(&p.w));
  BIASCKA_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&p.conv));
  BIASCKA_CUDNN_CHECK(
      cudnnSetTensor4dDescriptor(p.x, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, g.n, g.c, g.h, g.w));
  BIASCKA_CUDNN_CHECK(
      cudnnSetTensor4dDescriptor(p.y, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, g.n, g.o, g.oh, g.ow));
  BIASCKA_CUDNN_CHECK(
      cudnnSetFilter4dDescriptor(p.w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NHWC, g.o, g.c, g.kh, g.kw));
  BIASCKA_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(p.conv, g.pad, g.pad, g.stride, g.stride, 1, 1,
                                                      CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  BIASCKA_CUDNN_CHECK(cudnnSetConvolutionMathType(p.conv, tf32 ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH));
  cudnnHandle_t h = cuda::cudnn(device);
  const Scratch search(device, kFindWorkspace);
  void* ws = search.p;
  const size_t ws_bytes = kFindWorkspace;
  int found = 0;
  constexpr int kMax = 16;
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
  // The search runs every candidate on the real buffers (their contents are rewritten right after).
  if (kind == 0) {
    cudnnConvolutionFwdAlgoPerf_t perf[kMax];
    BIASCKA_CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithmEx(h, p.x, x, p.w, w, p.conv, p.y, y, kMax,
                                                               &found, perf, ws, ws_bytes));
    const auto& best = pick(perf, found, tf32, "forward convolution");
    p.algo = best.algo;
    p.workspace = best.memory;
    math = best.mathType;
  } else if (kind == 1) {  // x is dx, y is dy
    cudnnConvolutionBwdDataAlgoPerf_t perf[kMax];
    BIASCKA_CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithmEx(
        h, p.w, w, p.y, y, p.conv, p.x, const_cast<float*>(x), kMax, &found, perf, ws, ws_bytes));
    const auto& best = pick(perf, found, tf32, "backward-data convolution");
    p.algo = best.algo;
    p.workspace = best.memory;
    math = best.mathType;
  } else {  // w is dw
    cudnnConvolutionBwdFilterAlgoPerf_t perf[kMax];
    BIASCKA_CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithmEx(
        h, p.x, x, p.y, y, p.conv, p.w, const_cast<float*>(w), kMax, &found, perf, ws, ws_bytes));
    const auto& best = pick(perf, found, tf32, "backward-filter convolution");
    p.algo = best.algo;
    p.workspace = best.memory;
    math = best.mathType;
  }
  // With TF32 the math type the search timed; without it FMA explicitly, never CUDNN_DEFAULT_MATH, which
  // lets cuDNN use TF32 tensor cores on sm_80 and newer (--no-tf32 promises exact FP32).
  BIASCKA_CUDNN_CHECK(cudnnSetConvolutionMathType(p.conv, tf32 ? math : CUDNN_FMA_MATH));
  return g_plans.emplace(key, p).first->second;
}

// [O, C, kH, kW] <-> [O, kH, kW, C]: the NCHW<->NHWC permutation with N = O.
void permute_filter(const Geometry& g, float* out, const float* in, bool to_hwc, cudaStream_t s) {
  kernels::permute_nchw_nhwc(out, in, g.o, g.c, g.kh * g.kw, to_hwc, s);
}

}  // namespace

void cudnn_forward(int device, const Geometry& g, const float* x, const float* w, float* y) {
  cuda::set_device(device);
  cudaStream_t s = cuda::stream(device);
  Scratch wt(device, sizeof(float) * g.o * g.c * g.kh * g.kw);
  permute_filter(g, wt.f(), w, true, s);
  const Plan& p = plan(device, 0, g, x, wt.f(), y);
  const float one = 1.f, zero = 0.f;
  void* ws = p.workspace ? cuda::workspace(device, p.workspace) : nullptr;
  BIASCKA_CUDNN_CHECK(cudnnConvolutionForward(cuda::cudnn(device), &one, p.x, x, p.w, wt.f(), p.conv,
                                              static_cast<cudnnConvolutionFwdAlgo_t>(p.algo), ws, p.workspace,
                                              &zero, p.y, y));
}

void cudnn_backward_data(int device, const Geometry& g, const float* dy, const float* w, float* dx) {
  cuda::set_device(device);
  cudaStream_t s = cuda::stream(device);
  Scratch wt(device, sizeof(float) * g.o * g.c * g.kh * g.kw);
  permute_filter(g, wt.f(), w, true, s);
  const Plan& p = plan(device, 1, g, dx, wt.f(), const_cast<float*>(dy));
  const float one = 1.f, zero = 0.f;
  void* ws = p.workspace ? cuda::workspace(device, p.workspace) : nullptr;
  BIASCKA_CUDNN_CHECK(cudnnConvolutionBackwardData(cuda::cudnn(device), &one, p.w, wt.f(), p.y, dy, p.conv,
                                                   static_cast<cudnnConvolutionBwdDataAlgo_t>(p.algo), ws,
                                                   p.workspace, &zero, p.x, dx));
}

void cudnn_backward_weights(int device, const Geometry& g, const float* x, const float* dy, float* dw) {
  cuda::set_device(device);
  cudaStream_t s = cuda::stream(device);
  Scratch dwt(device, sizeof(float) * g.o * g.c * g.kh * g.kw);
  const Plan& p = plan(device, 2, g, x, dwt.f(), const_cast<float*>(dy));
  const float one = 1.f, zero = 0.f;
  void* ws = p.workspace ? cuda::workspace(device, p.workspace) : nullptr;
  BIASCKA_CUDNN_CHECK(cudnnConvolutionBackwardFilter(cuda::cudnn(device), &one, p.x, x, p.y, dy, p.conv,
                                                     static_cast<cudnnConvolutionBwdFilterAlgo_t>(p.algo), ws,
                                                     p.workspace, &zero, p.w, dwt.f()));
  permute_filter(g, dw, dwt.f(), false, s);
}

}  // namespace biascka::conv
