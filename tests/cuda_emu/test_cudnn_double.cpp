// The cuDNN double (cudnn_double.cpp) against naive loops written from cuDNN's definitions (gathers, where
// the double scatters), the three convolutions against each other by the adjoint identity, Find against
// the calls, its rejections against the documented statuses, and its stream behaviour against the
// stand-in runtime.
#include <cudnn.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tests/cuda_emu/doubles_test_support.h"
#include "tests/cuda_emu/tf32.h"

namespace cuda_emu::testing {
namespace {

enum class Dir { Forward, BackwardData, BackwardFilter };
const char* name(Dir d) {
  return d == Dir::Forward ? "forward" : d == Dir::BackwardData ? "backward data" : "backward filter";
}
constexpr Dir kDirs[] = {Dir::Forward, Dir::BackwardData, Dir::BackwardFilter};

// One convolution: input [n, c, h, w], filters [k, c, r, s], padding, strides, dilation, mode, layouts.
struct ConvCase {
  int n, c, h, w, k, r, s, pad_h, pad_w, u, v, dil_h, dil_w;
  cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
  cudnnTensorFormat_t x_format = CUDNN_TENSOR_NHWC, w_format = CUDNN_TENSOR_NHWC,
                      y_format = CUDNN_TENSOR_NHWC;

  int p() const { return (h + 2 * pad_h - ((r - 1) * dil_h + 1)) / u + 1; }
  int q() const { return (w + 2 * pad_w - ((s - 1) * dil_w + 1)) / v + 1; }
  size_t x_size() const { return static_cast<size_t>(n) * c * h * w; }
  size_t w_size() const { return static_cast<size_t>(k) * c * r * s; }
  size_t y_size() const { return static_cast<size_t>(n) * k * p() * q(); }
  bool winograd_shape() const { return r == 3 && s == 3 && u == 1 && v == 1 && dil_h == 1 && dil_w == 1; }
};

std::string describe(const ConvCase& cc) {
  auto f = [](cudnnTensorFormat_t t) { return t == CUDNN_TENSOR_NHWC ? "NHWC" : "NCHW"; };
  return "x " + std::to_string(cc.n) + "x" + std::to_string(cc.c) + "x" + std::to_string(cc.h) + "x" +
         std::to_string(cc.w) + " w " + std::to_string(cc.k) + "x" + std::to_string(cc.r) + "x" +
         std::to_string(cc.s) + " pad " + std::to_string(cc.pad_h) + "," + std::to_string(cc.pad_w) +
         " stride " + std::to_string(cc.u) + "," + std::to_string(cc.v) + " dilation " +
         std::to_string(cc.dil_h) + "," + std::to_string(cc.dil_w) +
         (cc.mode == CUDNN_CONVOLUTION ? " CONVOLUTION " : " CROSS_CORRELATION ") + f(cc.x_format) + "/" +
         f(cc.w_format) + "/" + f(cc.y_format);
}

// Offset of logical element (a, b, y, x) of a packed [A, B, Y, X] array stored as NCHW or NHWC.
size_t at(cudnnTensorFormat_t f, int B, int Y, int X, int a, int b, int y, int x) {
  if (f == CUDNN_TENSOR_NHWC) return ((static_cast<size_t>(a) * Y + y) * X + x) * B + b;
  return ((static_cast<size_t>(a) * B + b) * Y + y) * X + x;
}

// ---- References, from the definition y[n,k,p,q] = sum_{c,r,s} x[n,c,pu-ph+r dh,qv-pw+s dw] w[k,c,r',s'].
// ----

struct Operands {
  const std::vector<float>&x, &w, &y;  // y: the forward output's buffer, dy for the backward passes
};

double in(float v, bool tf32) { return tf32 ? tf32_round(v) : v; }

// The filter element tap (r, s) multiplies: rotated by 180 degrees in CUDNN_CONVOLUTION mode.
size_t filter_at(const ConvCase& cc, int k, int c, int r, int s) {
  if (cc.mode == CUDNN_CONVOLUTION) r = cc.r - 1 - r, s = cc.s - 1 - s;
  return at(cc.w_format, cc.c, cc.r, cc.s, k, c, r, s);
}

// Sum over the taps of one output element (n, k, p, q): f(c, r, s, ih, iw) for taps inside the image.
template <class F>
void taps(const ConvCase& cc, int p, int q, F&& f) {
  for (int c = 0; c < cc.c; ++c)
    for (int r = 0; r < cc.r; ++r)
      for (int s = 0; s < cc.s; ++s) {
        const int ih = p * cc.u - cc.pad_h + r * cc.dil_h, iw = q * cc.v - cc.pad_w + s * cc.dil_w;
        if (ih >= 0 && ih < cc.h && iw >= 0 && iw < cc.w) f(c, r, s, ih, iw);
      }
}

// What the direction's output buffer must hold after out = alpha * result + beta * out.
std::vector<float> reference(Dir d, const ConvCase& cc, const Operands& o, std::vector<float> out,
                             float alpha, float beta, bool tf32) {
  std::vector<double> acc(out.size(), 0.0);
  for (int n = 0; n < cc.n; ++n)
    for (int k = 0; k < cc.k; ++k)
      for (int p = 0; p < cc.p(); ++p)
        for (int q = 0; q < cc.q(); ++q) {
          const size_t yi = at(cc.y_format, cc.k, cc.p(), cc.q(), n, k, p, q);
          taps(cc, p, q, [&](int c, int r, int s, int ih, int iw) {
            const size_t xi = at(cc.x_format, cc.c, cc.h, cc.w, n, c, ih, iw), wi = filter_at(cc, k, c, r, s);
            if (d == Dir::Forward) acc[yi] += in(o.x[xi], tf32) * in(o.w[wi], tf32);
            if (d == Dir::BackwardData) acc[xi] += in(o.y[yi], tf32) * in(o.w[wi], tf32);
            if (d == Dir::BackwardFilter) acc[wi] += in(o.y[yi], tf32) * in(o.x[xi], tf32);
          });
        }
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<float>(beta == 0 ? alpha * acc[i] : alpha * acc[i] + beta * double{out[i]});
  return out;
}

double max_abs_difference(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(double{a[i]} - b[i]));
  return m;
}

// ---- The descriptors of one case, and the three calls and Finds in the (x, w, y) roles. ----

struct Perf {
  int algo;
  cudnnStatus_t status;
  float time;
  size_t memory;
  cudnnDeterminism_t determinism;
  cudnnMathType_t math;
};

class Conv {
 public:
  explicit Conv(const ConvCase& cc, cudnnMathType_t math = CUDNN_FMA_MATH) : cc_(cc) {
    EXPECT_EQ(cudnnCreate(&handle), CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(cudnnCreateTensorDescriptor(&x), CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(cudnnCreateTensorDescriptor(&y), CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(cudnnCreateFilterDescriptor(&w), CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(cudnnCreateConvolutionDescriptor(&conv), CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(cudnnSetTensor4dDescriptor(x, cc.x_format, CUDNN_DATA_FLOAT, cc.n, cc.c, cc.h, cc.w),
              CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(cudnnSetTensor4dDescriptor(y, cc.y_format, CUDNN_DATA_FLOAT, cc.n, cc.k, cc.p(), cc.q()),
              CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(cudnnSetFilter4dDescriptor(w, CUDNN_DATA_FLOAT, cc.w_format, cc.k, cc.c, cc.r, cc.s),
              CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(cudnnSetConvolution2dDescriptor(conv, cc.pad_h, cc.pad_w, cc.u, cc.v, cc.dil_h, cc.dil_w,
                                              cc.mode, CUDNN_DATA_FLOAT),
              CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(cudnnSetConvolutionMathType(conv, math), CUDNN_STATUS_SUCCESS);
  }
  ~Conv() {
    const cudnnStatus_t statuses[] = {conv ? cudnnDestroyConvolutionDescriptor(conv) : CUDNN_STATUS_SUCCESS,
                                      w ? cudnnDestroyFilterDescriptor(w) : CUDNN_STATUS_SUCCESS,
                                      y ? cudnnDestroyTensorDescriptor(y) : CUDNN_STATUS_SUCCESS,
                                      x ? cudnnDestroyTensorDescriptor(x) : CUDNN_STATUS_SUCCESS,
                                      handle ? cudnnDestroy(handle) : CUDNN_STATUS_SUCCESS};
    for (cudnnStatus_t s : statuses) EXPECT_EQ(s, CUDNN_STATUS_SUCCESS);
  }
  Conv(const Conv&) = delete;
  Conv& operator=(const Conv&) = delete;

  // The direction's call with data pointers in the roles x, w, y (dx, dw, dy for the backward passes).
  cudnnStatus_t call(Dir d, int algo, const void* xp, const void* wp, const void* yp, void* ws,
                     size_t ws_bytes, const float* alpha, const float* beta) const {
    switch (d) {
      case Dir::Forward:
        return cudnnConvolutionForward(handle, alpha, x, xp, w, wp, conv,
                                       static_cast<cudnnConvolutionFwdAlgo_t>(algo), ws, ws_bytes, beta, y,
                                       const_cast<void*>(yp));
      case Dir::BackwardData:
        return cudnnConvolutionBackwardData(handle, alpha, w, wp, y, yp, conv,
                                            static_cast<cudnnConvolutionBwdDataAlgo_t>(algo), ws, ws_bytes,
                                            beta, x, const_cast<void*>(xp));
      case Dir::BackwardFilter:
        break;
    }
    return cudnnConvolutionBackwardFilter(handle, alpha, x, xp, y, yp, conv,
                                          static_cast<cudnnConvolutionBwdFilterAlgo_t>(algo), ws, ws_bytes,
                                          beta, w, const_cast<void*>(wp));
  }

  cudnnStatus_t find(Dir d, const void* xp, const void* wp, const void* yp, void* ws, size_t ws_bytes,
                     std::vector<Perf>& out, int requested = 16) const {
    out.clear();
    switch (d) {
      case Dir::Forward:
        return collect<cudnnConvolutionFwdAlgoPerf_t>(requested, out, [&](auto* perf, int* n) {
          return cudnnFindConvolutionForwardAlgorithmEx(handle, x, xp, w, wp, conv, y, const_cast<void*>(yp),
                                                        requested, n, perf, ws, ws_bytes);
        });
      case Dir::BackwardData:
        return collect<cudnnConvolutionBwdDataAlgoPerf_t>(requested, out, [&](auto* perf, int* n) {
          return cudnnFindConvolutionBackwardDataAlgorithmEx(
              handle, w, wp, y, yp, conv, x, const_cast<void*>(xp), requested, n, perf, ws, ws_bytes);
        });
      case Dir::BackwardFilter:
        break;
    }
    return collect<cudnnConvolutionBwdFilterAlgoPerf_t>(requested, out, [&](auto* perf, int* n) {
      return cudnnFindConvolutionBackwardFilterAlgorithmEx(
          handle, x, xp, y, yp, conv, w, const_cast<void*>(wp), requested, n, perf, ws, ws_bytes);
    });
  }

  const ConvCase& cc() const { return cc_; }
  cudnnHandle_t handle = nullptr;
  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;

 private:
  template <class P, class F>
  static cudnnStatus_t collect(int requested, std::vector<Perf>& out, F&& call) {
    std::vector<P> perf(static_cast<size_t>(std::max(requested, 1)));
    int n = -1;
    const cudnnStatus_t s = call(perf.data(), &n);
    if (s != CUDNN_STATUS_SUCCESS) return s;
    for (int i = 0; i < n; ++i)
      out.push_back({static_cast<int>(perf[i].algo), perf[i].status, perf[i].time, perf[i].memory,
                     perf[i].determinism, perf[i].mathType});
    return s;
  }
  ConvCase cc_;
};

// Random operands of a case in device memory, the output role's buffer prefilled with `fill` (random when
// fill is 0).
struct Buffers {
  Buffers(const ConvCase& cc, uint32_t seed)
      : xv(random_floats(cc.x_size(), seed)),
        wv(random_floats(cc.w_size(), seed + 1)),
        yv(random_floats(cc.y_size(), seed + 2)),
        x(xv),
        w(wv),
        y(yv) {}
  const DeviceFloats& output(Dir d) const { return d == Dir::Forward ? y : d == Dir::BackwardData ? x : w; }
  std::vector<float>& output_values(Dir d) {
    return d == Dir::Forward ? yv : d == Dir::BackwardData ? xv : wv;
  }
  // Puts `v` into the direction's output buffer (and its host copy).
  void set_output(Dir d, float v) {
    output(d).fill(v);
    std::fill(output_values(d).begin(), output_values(d).end(), v);
  }
  std::vector<float> xv, wv, yv;
  DeviceFloats x, w, y;
};

const ConvCase kCases[] = {
    // n  c  h  w  k  r  s ph pw  u  v dh dw
    {2, 3, 7, 6, 4, 3, 3, 1, 1, 1, 1, 1, 1},    // the engine's 3x3 pad 1, NHWC
    {2, 5, 9, 8, 3, 3, 3, 1, 1, 2, 2, 1, 1},    // stride 2
    {1, 4, 6, 7, 5, 1, 1, 0, 0, 2, 2, 1, 1},    // 1x1 stride 2 (ResNet's downsample)
    {1, 3, 12, 11, 4, 7, 7, 3, 3, 2, 2, 1, 1},  // ResNet's 7x7 stem
    {2, 3, 9, 10, 2, 3, 2, 2, 1, 1, 2, 2, 1},   // dilation, a 3x2 filter, unequal padding and strides
    {1, 2, 5, 6, 3, 3, 3, 1, 0, 1, 1, 1, 1, CUDNN_CONVOLUTION},  // the rotated filter
    {2, 3, 7, 6, 4, 3, 3, 1, 1, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION, CUDNN_TENSOR_NCHW, CUDNN_TENSOR_NCHW,
     CUDNN_TENSOR_NCHW},
    {2, 3, 6, 5, 4, 3, 1, 0, 1, 1, 2, 1, 1, CUDNN_CONVOLUTION, CUDNN_TENSOR_NCHW, CUDNN_TENSOR_NHWC,
     CUDNN_TENSOR_NCHW},
    {1, 4, 5, 5, 2, 2, 3, 1, 1, 1, 1, 1, 2, CUDNN_CROSS_CORRELATION, CUDNN_TENSOR_NHWC, CUDNN_TENSOR_NCHW,
     CUDNN_TENSOR_NCHW},
};

constexpr size_t kWorkspaceBytes = size_t{1} << 20;

class CudnnCases : public ::testing::TestWithParam<ConvCase> {};

// Every algorithm Find offers, in each direction, against the reference: alpha/beta blending, and beta 0
// over NaN in the output.
TEST_P(CudnnCases, EveryAlgorithmMatchesTheDefinition) {
  const ConvCase& cc = GetParam();
  SCOPED_TRACE(describe(cc));
  Conv conv(cc);
  DeviceFloats ws(kWorkspaceBytes / 4);
  for (Dir d : kDirs) {
    SCOPED_TRACE(name(d));
    Buffers b(cc, 11);
    std::vector<Perf> perf;
    ASSERT_EQ(conv.find(d, b.x.get(), b.w.get(), b.y.get(), ws.get(), ws.bytes(), perf),
              CUDNN_STATUS_SUCCESS);
    for (const Perf& e : perf) {
      if (e.status != CUDNN_STATUS_SUCCESS) continue;
      SCOPED_TRACE("algo " + std::to_string(e.algo));
      for (const float beta : {0.5f, 0.f}) {
        Buffers o(cc, 21);
        if (beta == 0) o.set_output(d, nan_value());
        const float alpha = 1.5f;
        ASSERT_EQ(conv.call(d, e.algo, o.x.get(), o.w.get(), o.y.get(), ws.get(), e.memory, &alpha, &beta),
                  CUDNN_STATUS_SUCCESS);
        const auto want =
            reference(d, cc, {o.xv, o.wv, o.yv}, o.output_values(d), alpha, beta, /*tf32=*/false);
        const auto got = o.output(d).host();
        for (size_t i = 0; i < want.size(); ++i)
          ASSERT_TRUE(close(got[i], want[i], std::abs(want[i]) + 1e-6, 1e-6)) << "element " << i;
      }
    }
  }
}

// <conv(x, w), dy> = <x, backward_data(w, dy)> = <w, backward_filter(x, dy)>: the three calls agree on
// what the convolution is, whatever the reference says.
TEST_P(CudnnCases, TheGradientsAreTheAdjointsOfTheForward) {
  const ConvCase& cc = GetParam();
  SCOPED_TRACE(describe(cc));
  Conv conv(cc);
  const auto xv = random_floats(cc.x_size(), 31), wv = random_floats(cc.w_size(), 32),
             dyv = random_floats(cc.y_size(), 33);
  DeviceFloats x(xv), w(wv), dy(dyv), y(cc.y_size()), dx(cc.x_size()), dw(cc.w_size());
  const float one = 1.f, zero = 0.f;
  ASSERT_EQ(conv.call(Dir::Forward, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, x.get(), w.get(), y.get(),
                      nullptr, 0, &one, &zero),
            CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(conv.call(Dir::BackwardData, CUDNN_CONVOLUTION_BWD_DATA_ALGO_0, dx.get(), w.get(), dy.get(),
                      nullptr, 0, &one, &zero),
            CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(conv.call(Dir::BackwardFilter, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0, x.get(), dw.get(), dy.get(),
                      nullptr, 0, &one, &zero),
            CUDNN_STATUS_SUCCESS);
  auto dot = [](const DeviceFloats& a, const DeviceFloats& b, double& scale) {
    double s = 0;
    for (size_t i = 0; i < a.size(); ++i) s += double{a[i]} * b[i], scale += std::abs(double{a[i]} * b[i]);
    return s;
  };
  double scale = 0;
  const double ydy = dot(y, dy, scale), xdx = dot(x, dx, scale), wdw = dot(w, dw, scale);
  EXPECT_TRUE(close(xdx, ydy, scale, 1e-6));
  EXPECT_TRUE(close(wdw, ydy, scale, 1e-6));
}

// Find: at least one success, successes first and by time, workspace sizes the calls then require (one
// byte less is refused), FMA entries only under CUDNN_FMA_MATH, a tensor-core algorithm first under
// CUDNN_TENSOR_OP_MATH, Winograd only where it applies.
TEST_P(CudnnCases, FindReportsWhatTheCallsThenRequire) {
  const ConvCase& cc = GetParam();
  SCOPED_TRACE(describe(cc));
  DeviceFloats ws(kWorkspaceBytes / 4);
  for (cudnnMathType_t math : {CUDNN_FMA_MATH, CUDNN_TENSOR_OP_MATH}) {
    Conv conv(cc, math);
    for (Dir d : kDirs) {
      SCOPED_TRACE(std::string(name(d)) + (math == CUDNN_FMA_MATH ? " FMA" : " TENSOR_OP"));
      Buffers b(cc, 41);
      std::vector<Perf> perf;
      ASSERT_EQ(conv.find(d, b.x.get(), b.w.get(), b.y.get(), ws.get(), ws.bytes(), perf),
                CUDNN_STATUS_SUCCESS);
      ASSERT_EQ(perf.size(), d == Dir::BackwardData ? 3u : 4u);
      ASSERT_EQ(perf[0].status, CUDNN_STATUS_SUCCESS);
      EXPECT_EQ(perf[0].math, math == CUDNN_FMA_MATH ? CUDNN_FMA_MATH : CUDNN_TENSOR_OP_MATH);
      for (size_t i = 1; i < perf.size(); ++i) {
        if (perf[i].status != CUDNN_STATUS_SUCCESS) continue;
        EXPECT_EQ(perf[i - 1].status, CUDNN_STATUS_SUCCESS);
        EXPECT_LE(perf[i - 1].time, perf[i].time);
      }
      const float one = 1.f, zero = 0.f;
      for (const Perf& e : perf) {
        SCOPED_TRACE("algo " + std::to_string(e.algo));
        const bool winograd =
            (d == Dir::Forward && e.algo == CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED) ||
            (d == Dir::BackwardData && e.algo == CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED) ||
            (d == Dir::BackwardFilter && e.algo == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD_NONFUSED);
        EXPECT_EQ(e.status,
                  winograd && !cc.winograd_shape() ? CUDNN_STATUS_NOT_SUPPORTED : CUDNN_STATUS_SUCCESS);
        if (math == CUDNN_FMA_MATH) {
          EXPECT_EQ(e.math, CUDNN_FMA_MATH);
        }
        const bool atomics = d != Dir::Forward && (e.algo == 0 || (d == Dir::BackwardFilter && e.algo == 3));
        EXPECT_EQ(e.determinism, atomics ? CUDNN_NON_DETERMINISTIC : CUDNN_DETERMINISTIC);
        if (e.status != CUDNN_STATUS_SUCCESS) continue;
        EXPECT_EQ(conv.call(d, e.algo, b.x.get(), b.w.get(), b.y.get(), ws.get(), e.memory, &one, &zero),
                  CUDNN_STATUS_SUCCESS);
        if (e.memory > 0) {
          EXPECT_EQ(
              conv.call(d, e.algo, b.x.get(), b.w.get(), b.y.get(), ws.get(), e.memory - 1, &one, &zero),
              CUDNN_STATUS_BAD_PARAM);
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, CudnnCases, ::testing::ValuesIn(kCases));

// ---- Math types: TF32 exactly when the algorithm uses tensor cores and the math type permits it. ----

TEST(CudnnDouble, Tf32RoundsTheInputsOfTensorCoreAlgorithmsOnly) {
  const ConvCase cc = kCases[0];
  DeviceFloats ws(kWorkspaceBytes / 4);
  struct Expectation {
    cudnnMathType_t math;
    int algo;
    bool tf32;
  } expectations[] = {
      {CUDNN_TENSOR_OP_MATH, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM, true},
      {CUDNN_DEFAULT_MATH, CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED, true},  // DEFAULT permits TF32
      {CUDNN_TENSOR_OP_MATH, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, false},   // an FMA-only algorithm
      {CUDNN_FMA_MATH, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM, false},
  };
  for (const Expectation& e : expectations) {
    SCOPED_TRACE(::testing::Message() << "math " << e.math << " algo " << e.algo);
    Conv conv(cc, e.math);
    Buffers b(cc, 51);
    const float one = 1.f, zero = 0.f;
    ASSERT_EQ(
        conv.call(Dir::Forward, e.algo, b.x.get(), b.w.get(), b.y.get(), ws.get(), ws.bytes(), &one, &zero),
        CUDNN_STATUS_SUCCESS);
    const auto got = b.y.host();
    const auto want = reference(Dir::Forward, cc, {b.xv, b.wv, b.yv}, b.yv, 1.f, 0.f, e.tf32);
    const auto other = reference(Dir::Forward, cc, {b.xv, b.wv, b.yv}, b.yv, 1.f, 0.f, !e.tf32);
    EXPECT_LT(max_abs_difference(got, want), 1e-6);
    EXPECT_GT(max_abs_difference(got, other), 1e-5);  // random inputs are not TF32 values
  }
}

// ---- Find runs on the caller's buffers, in stream order. ----

TEST(CudnnDouble, FindRunsTheFastestAlgorithmOnTheCallersBuffersWhenTheStreamRuns) {
  const ConvCase cc = kCases[0];
  for (Dir d : kDirs) {
    SCOPED_TRACE(name(d));
    Conv conv(cc, CUDNN_TENSOR_OP_MATH);
    Buffers b(cc, 61);
    b.set_output(d, nan_value());
    DeviceFloats ws(kWorkspaceBytes / 4);
    std::vector<Perf> perf;
    {
      Deferred deferred;
      ASSERT_EQ(conv.find(d, b.x.get(), b.w.get(), b.y.get(), ws.get(), ws.bytes(), perf),
                CUDNN_STATUS_SUCCESS);
      ASSERT_EQ(standalone::queued().size(), 1u);
      EXPECT_TRUE(std::isnan(b.output(d)[0]));  // nothing computed yet
      EXPECT_EQ(ws[0], 0.f);
    }
    const auto want = reference(d, cc, {b.xv, b.wv, b.yv}, b.output_values(d), 1.f, 0.f, /*tf32=*/true);
    EXPECT_LT(max_abs_difference(b.output(d).host(), want), 1e-6);
    size_t used = 0;
    for (const Perf& e : perf)
      if (e.status == CUDNN_STATUS_SUCCESS) used = std::max(used, e.memory);
    ASSERT_GT(used, 0u);
    EXPECT_TRUE(std::isnan(ws[used / 4 - 1]));  // the algorithms' scratch
    EXPECT_EQ(ws[used / 4], 0.f);               // and no further
  }
}

TEST(CudnnDouble, FindMarksAlgorithmsThatDoNotFitTheWorkspace) {
  const ConvCase cc = kCases[0];
  Conv conv(cc, CUDNN_TENSOR_OP_MATH);
  Buffers b(cc, 71);
  for (Dir d : kDirs) {
    std::vector<Perf> perf;
    ASSERT_EQ(conv.find(d, b.x.get(), b.w.get(), b.y.get(), nullptr, 0, perf), CUDNN_STATUS_SUCCESS);
    ASSERT_EQ(perf[0].status, CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(perf[0].memory, 0u);
    for (const Perf& e : perf)
      EXPECT_EQ(e.status, e.memory == 0 ? CUDNN_STATUS_SUCCESS : CUDNN_STATUS_ALLOC_FAILED)
          << name(d) << e.algo;
    ASSERT_EQ(conv.find(d, b.x.get(), b.w.get(), b.y.get(), nullptr, 0, perf, 1), CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(perf.size(), 1u);
  }
}

// ---- Stream order for the calls. ----

TEST(CudnnDouble, NothingComputesBeforeTheStreamRuns) {
  const ConvCase cc = kCases[1];
  Buffers b(cc, 81);
  b.set_output(Dir::Forward, -3.f);
  Stream stream;
  {
    Deferred deferred;
    auto conv = std::make_unique<Conv>(cc);
    ASSERT_EQ(cudnnSetStream(conv->handle, stream.s), CUDNN_STATUS_SUCCESS);
    float alpha = 2.f, beta = 1.f;
    ASSERT_EQ(conv->call(Dir::Forward, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, b.x.get(), b.w.get(),
                         b.y.get(), nullptr, 0, &alpha, &beta),
              CUDNN_STATUS_SUCCESS);
    alpha = beta = 100.f;  // read at the call
    conv.reset();          // descriptors and handle gone before the stream runs
    const auto q = standalone::queued();
    ASSERT_EQ(q.size(), 1u);
    EXPECT_EQ(q[0].stream, stream.s);
    EXPECT_EQ(q[0].what, "cudnnConvolutionForward");
    EXPECT_EQ(b.y[0], -3.f);
  }
  const auto want = reference(Dir::Forward, cc, {b.xv, b.wv, b.yv}, b.yv, 2.f, 1.f, false);
  EXPECT_LT(max_abs_difference(b.y.host(), want), 1e-6);
}

// ---- Rejections: the documented status, and nothing queued. ----

class CudnnRejects : public ::testing::Test {
 protected:
  void expect(cudnnStatus_t want, Dir d, const void* xp, const void* wp, const void* yp, void* ws,
              size_t bytes, int algo = 0, const float* alpha = &one) {
    Deferred deferred;
    EXPECT_EQ(conv.call(d, algo, xp, wp, yp, ws, bytes, alpha, &zero), want) << name(d);
    EXPECT_EQ(standalone::queued().size(), want == CUDNN_STATUS_SUCCESS ? 1u : 0u) << name(d);
  }
  void expect_all(cudnnStatus_t forward_status, cudnnStatus_t backward_status) {
    for (Dir d : kDirs)
      expect(d == Dir::Forward ? forward_status : backward_status, d, b.x.get(), b.w.get(), b.y.get(),
             nullptr, 0);
  }
  static constexpr float one = 1.f, zero = 0.f;
  const ConvCase cc = kCases[0];
  Conv conv{cc};
  Buffers b{cc, 91};
};

// The bug the emulated suites must catch: a descriptor whose padding does not give the output the caller
// allocated. cuDNN: NOT_SUPPORTED for the forward call, BAD_PARAM for the backward ones.
TEST_F(CudnnRejects, PaddingThatDoesNotGiveTheOutputSize) {
  ASSERT_EQ(
      cudnnSetConvolution2dDescriptor(conv.conv, 0, 1, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
      CUDNN_STATUS_SUCCESS);
  expect_all(CUDNN_STATUS_NOT_SUPPORTED, CUDNN_STATUS_BAD_PARAM);
  std::vector<Perf> perf;
  EXPECT_EQ(conv.find(Dir::Forward, b.x.get(), b.w.get(), b.y.get(), nullptr, 0, perf),
            CUDNN_STATUS_NOT_SUPPORTED);
  EXPECT_EQ(conv.find(Dir::BackwardData, b.x.get(), b.w.get(), b.y.get(), nullptr, 0, perf),
            CUDNN_STATUS_BAD_PARAM);
}

TEST_F(CudnnRejects, ChannelOrBatchCountsThatDoNotMatch) {
  ASSERT_EQ(cudnnSetFilter4dDescriptor(conv.w, CUDNN_DATA_FLOAT, cc.w_format, cc.k, cc.c + 1, cc.r, cc.s),
            CUDNN_STATUS_SUCCESS);
  expect_all(CUDNN_STATUS_BAD_PARAM, CUDNN_STATUS_BAD_PARAM);
  ASSERT_EQ(cudnnSetFilter4dDescriptor(conv.w, CUDNN_DATA_FLOAT, cc.w_format, cc.k, cc.c, cc.r, cc.s),
            CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(cudnnSetTensor4dDescriptor(conv.y, cc.y_format, CUDNN_DATA_FLOAT, cc.n, cc.k + 1, cc.p(), cc.q()),
            CUDNN_STATUS_SUCCESS);
  expect_all(CUDNN_STATUS_BAD_PARAM, CUDNN_STATUS_BAD_PARAM);
  ASSERT_EQ(cudnnSetTensor4dDescriptor(conv.y, cc.y_format, CUDNN_DATA_FLOAT, cc.n - 1, cc.k, cc.p(), cc.q()),
            CUDNN_STATUS_SUCCESS);
  expect_all(CUDNN_STATUS_BAD_PARAM, CUDNN_STATUS_BAD_PARAM);
}

TEST_F(CudnnRejects, FilterLargerThanThePaddedInput) {
  ASSERT_EQ(
      cudnnSetConvolution2dDescriptor(conv.conv, 1, 1, 1, 1, 5, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
      CUDNN_STATUS_SUCCESS);  // (3 - 1) * 5 + 1 = 11 rows > 7 + 2
  expect_all(CUDNN_STATUS_BAD_PARAM, CUDNN_STATUS_BAD_PARAM);
}

TEST_F(CudnnRejects, WorkspacesTooSmallMissingOrNotDevice) {
  // GEMM's im2col workspace: 4 P Q C R S bytes.
  const size_t need = 4u * cc.p() * cc.q() * cc.c * cc.r * cc.s;
  DeviceFloats ws(need / 4);
  const int gemm = CUDNN_CONVOLUTION_FWD_ALGO_GEMM;
  expect(CUDNN_STATUS_SUCCESS, Dir::Forward, b.x.get(), b.w.get(), b.y.get(), ws.get(), need, gemm);
  expect(CUDNN_STATUS_BAD_PARAM, Dir::Forward, b.x.get(), b.w.get(), b.y.get(), ws.get(), need - 1, gemm);
  expect(CUDNN_STATUS_BAD_PARAM, Dir::Forward, b.x.get(), b.w.get(), b.y.get(), nullptr, need, gemm);
  expect(CUDNN_STATUS_EXECUTION_FAILED, Dir::Forward, b.x.get(), b.w.get(), b.y.get(), ws.get(), need + 4,
         gemm);
  std::vector<float> host(need / 4);
  expect(CUDNN_STATUS_EXECUTION_FAILED, Dir::Forward, b.x.get(), b.w.get(), b.y.get(), host.data(), need,
         gemm);
  // The part of the workspace an algorithm uses must not be an operand.
  DeviceFloats big(cc.y_size() + need / 4);
  expect(CUDNN_STATUS_BAD_PARAM, Dir::Forward, b.x.get(), b.w.get(), big.get(), big.get() + cc.y_size() - 1,
         need, gemm);
}

TEST_F(CudnnRejects, OperandsThatAreNullHostShortOrOverlapping) {
  std::vector<float> host(cc.x_size() + cc.w_size() + cc.y_size());
  DeviceFloats short_w(cc.w_size() - 1);
  for (Dir d : kDirs) {
    expect(CUDNN_STATUS_BAD_PARAM, d, nullptr, b.w.get(), b.y.get(), nullptr, 0);
    expect(CUDNN_STATUS_EXECUTION_FAILED, d, b.x.get(), b.w.get(), host.data(), nullptr, 0);
    expect(CUDNN_STATUS_EXECUTION_FAILED, d, b.x.get(), short_w.get(), b.y.get(), nullptr, 0);
  }
  DeviceFloats both(cc.x_size() + cc.y_size());
  expect(CUDNN_STATUS_BAD_PARAM, Dir::Forward, both.get(), b.w.get(), both.get() + cc.x_size() - 1, nullptr,
         0);
  expect(CUDNN_STATUS_BAD_PARAM, Dir::BackwardFilter, b.x.get(), b.x.get() + 1, b.y.get(), nullptr, 0);
  expect(CUDNN_STATUS_BAD_PARAM, Dir::Forward, b.x.get(), b.w.get(), b.y.get(), nullptr, 0, 0, nullptr);
}

TEST_F(CudnnRejects, AlgorithmsThatAreNotEnumerantsOrDoNotApply) {
  expect(CUDNN_STATUS_BAD_PARAM, Dir::Forward, b.x.get(), b.w.get(), b.y.get(), nullptr, 0, 99);
  expect(CUDNN_STATUS_BAD_PARAM, Dir::BackwardData, b.x.get(), b.w.get(), b.y.get(), nullptr, 0, -1);
  expect(CUDNN_STATUS_NOT_SUPPORTED, Dir::Forward, b.x.get(), b.w.get(), b.y.get(), nullptr, 0,
         CUDNN_CONVOLUTION_FWD_ALGO_FFT);
  Conv one_by_one(kCases[2]);
  Buffers o(kCases[2], 92);
  DeviceFloats ws(kWorkspaceBytes / 4);
  Deferred deferred;
  EXPECT_EQ(one_by_one.call(Dir::Forward, CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED, o.x.get(), o.w.get(),
                            o.y.get(), ws.get(), ws.bytes(), &one, &zero),
            CUDNN_STATUS_NOT_SUPPORTED);
  EXPECT_TRUE(standalone::queued().empty());
}

TEST_F(CudnnRejects, DataTypes) {
  ASSERT_EQ(cudnnSetTensor4dDescriptor(conv.x, cc.x_format, CUDNN_DATA_DOUBLE, cc.n, cc.c, cc.h, cc.w),
            CUDNN_STATUS_SUCCESS);
  expect_all(CUDNN_STATUS_BAD_PARAM, CUDNN_STATUS_BAD_PARAM);  // x double, w and y float
  ASSERT_EQ(cudnnSetTensor4dDescriptor(conv.y, cc.y_format, CUDNN_DATA_DOUBLE, cc.n, cc.k, cc.p(), cc.q()),
            CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(cudnnSetFilter4dDescriptor(conv.w, CUDNN_DATA_DOUBLE, cc.w_format, cc.k, cc.c, cc.r, cc.s),
            CUDNN_STATUS_SUCCESS);
  expect_all(CUDNN_STATUS_NOT_SUPPORTED, CUDNN_STATUS_NOT_SUPPORTED);  // all double: not implemented
  Conv half_compute(cc);
  ASSERT_EQ(cudnnSetConvolution2dDescriptor(half_compute.conv, 1, 1, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION,
                                            CUDNN_DATA_HALF),
            CUDNN_STATUS_SUCCESS);
  Deferred deferred;
  EXPECT_EQ(half_compute.call(Dir::Forward, 0, b.x.get(), b.w.get(), b.y.get(), nullptr, 0, &one, &zero),
            CUDNN_STATUS_NOT_SUPPORTED);
}

TEST_F(CudnnRejects, HandlesDescriptorsAndStreamsThatDoNotExist) {
  cudnnTensorDescriptor_t unset = nullptr;
  ASSERT_EQ(cudnnCreateTensorDescriptor(&unset), CUDNN_STATUS_SUCCESS);
  std::swap(unset, conv.y);
  expect_all(CUDNN_STATUS_BAD_PARAM, CUDNN_STATUS_BAD_PARAM);  // created, never set
  std::swap(unset, conv.y);
  ASSERT_EQ(cudnnDestroyTensorDescriptor(unset), CUDNN_STATUS_SUCCESS);
  std::swap(unset, conv.y);
  expect_all(CUDNN_STATUS_BAD_PARAM, CUDNN_STATUS_BAD_PARAM);  // destroyed
  std::swap(unset, conv.y);

  cudnnHandle_t gone = nullptr;
  ASSERT_EQ(cudnnCreate(&gone), CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(cudnnDestroy(gone), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(cudnnDestroy(gone), CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(cudnnSetStream(gone, nullptr), CUDNN_STATUS_BAD_PARAM);
  std::swap(gone, conv.handle);
  expect_all(CUDNN_STATUS_BAD_PARAM, CUDNN_STATUS_BAD_PARAM);
  std::swap(gone, conv.handle);

  cudaStream_t s = standalone::create_stream();
  ASSERT_EQ(cudnnSetStream(conv.handle, s), CUDNN_STATUS_SUCCESS);
  standalone::destroy_stream(s);
  expect_all(CUDNN_STATUS_EXECUTION_FAILED, CUDNN_STATUS_EXECUTION_FAILED);
}

TEST_F(CudnnRejects, FindArguments) {
  cudnnConvolutionFwdAlgoPerf_t perf[4];
  int n = 0;
  Deferred deferred;
  EXPECT_EQ(cudnnFindConvolutionForwardAlgorithmEx(conv.handle, conv.x, b.x.get(), conv.w, b.w.get(),
                                                   conv.conv, conv.y, b.y.get(), 0, &n, perf, nullptr, 0),
            CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(
      cudnnFindConvolutionForwardAlgorithmEx(conv.handle, conv.x, b.x.get(), conv.w, b.w.get(), conv.conv,
                                             conv.y, b.y.get(), 4, nullptr, perf, nullptr, 0),
      CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(cudnnFindConvolutionForwardAlgorithmEx(conv.handle, conv.x, b.x.get(), conv.w, b.w.get(),
                                                   conv.conv, conv.y, b.y.get(), 4, &n, nullptr, nullptr, 0),
            CUDNN_STATUS_BAD_PARAM);
  std::vector<float> host(cc.y_size());
  EXPECT_EQ(cudnnFindConvolutionForwardAlgorithmEx(conv.handle, conv.x, b.x.get(), conv.w, b.w.get(),
                                                   conv.conv, conv.y, host.data(), 4, &n, perf, nullptr, 0),
            CUDNN_STATUS_EXECUTION_FAILED);
  EXPECT_TRUE(standalone::queued().empty());
}

TEST(CudnnDescriptors, SettersRejectWhatCudnnRejects) {
  cudnnTensorDescriptor_t t = nullptr;
  cudnnFilterDescriptor_t f = nullptr;
  cudnnConvolutionDescriptor_t c = nullptr;
  ASSERT_EQ(cudnnCreateTensorDescriptor(&t), CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(cudnnCreateFilterDescriptor(&f), CUDNN_STATUS_SUCCESS);
  ASSERT_EQ(cudnnCreateConvolutionDescriptor(&c), CUDNN_STATUS_SUCCESS);
  const auto nhwc = CUDNN_TENSOR_NHWC;
  const auto fl = CUDNN_DATA_FLOAT;
  EXPECT_EQ(cudnnSetTensor4dDescriptor(t, nhwc, fl, 2, 3, 4, 5), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(cudnnSetTensor4dDescriptor(t, nhwc, fl, 0, 3, 4, 5), CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(cudnnSetTensor4dDescriptor(t, nhwc, fl, 2, -3, 4, 5), CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(cudnnSetTensor4dDescriptor(t, static_cast<cudnnTensorFormat_t>(7), fl, 2, 3, 4, 5),
            CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(cudnnSetTensor4dDescriptor(t, CUDNN_TENSOR_NCHW_VECT_C, fl, 2, 4, 4, 5), CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(cudnnSetTensor4dDescriptor(t, nhwc, static_cast<cudnnDataType_t>(99), 2, 3, 4, 5),
            CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(cudnnSetTensor4dDescriptor(t, nhwc, fl, 1024, 1024, 64, 64), CUDNN_STATUS_NOT_SUPPORTED);  // 2^32
  EXPECT_EQ(cudnnSetFilter4dDescriptor(f, fl, nhwc, 4, 3, 3, 3), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(cudnnSetFilter4dDescriptor(f, fl, nhwc, 4, 3, 0, 3), CUDNN_STATUS_BAD_PARAM);
  const auto cc = CUDNN_CROSS_CORRELATION;
  EXPECT_EQ(cudnnSetConvolution2dDescriptor(c, 1, 1, 1, 1, 1, 1, cc, fl), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(cudnnSetConvolution2dDescriptor(c, -1, 1, 1, 1, 1, 1, cc, fl), CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(cudnnSetConvolution2dDescriptor(c, 1, 1, 0, 1, 1, 1, cc, fl), CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(cudnnSetConvolution2dDescriptor(c, 1, 1, 1, 1, 1, 0, cc, fl), CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(cudnnSetConvolution2dDescriptor(c, 1, 1, 1, 1, 1, 1, static_cast<cudnnConvolutionMode_t>(2), fl),
            CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(cudnnSetConvolutionMathType(c, static_cast<cudnnMathType_t>(7)), CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(cudnnSetConvolutionMathType(c, CUDNN_TENSOR_OP_MATH), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(cudnnCreateTensorDescriptor(nullptr), CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(cudnnDestroyTensorDescriptor(nullptr), CUDNN_STATUS_SUCCESS);  // documented no-op
  EXPECT_EQ(cudnnDestroyTensorDescriptor(t), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(cudnnDestroyTensorDescriptor(t), CUDNN_STATUS_BAD_PARAM);  // twice
  EXPECT_EQ(cudnnSetTensor4dDescriptor(t, nhwc, fl, 2, 3, 4, 5), CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(cudnnDestroyFilterDescriptor(f), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(cudnnDestroyConvolutionDescriptor(c), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(cudnnSetConvolutionMathType(c, CUDNN_FMA_MATH), CUDNN_STATUS_BAD_PARAM);
}

TEST(CudnnDouble, VersionAndStatusNames) {
  EXPECT_EQ(cudnnGetVersion(), static_cast<size_t>(CUDNN_VERSION));
  EXPECT_STREQ(cudnnGetErrorString(CUDNN_STATUS_SUCCESS), "CUDNN_STATUS_SUCCESS");
  EXPECT_STREQ(cudnnGetErrorString(CUDNN_STATUS_BAD_PARAM), "CUDNN_STATUS_BAD_PARAM");
  EXPECT_STREQ(cudnnGetErrorString(CUDNN_STATUS_NOT_SUPPORTED), "CUDNN_STATUS_NOT_SUPPORTED");
  EXPECT_STREQ(cudnnGetErrorString(static_cast<cudnnStatus_t>(12345)), "CUDNN_UNKNOWN_STATUS");
}

// ---- ResNet18 at 28x28 (batch 2, the ImageNet stem): every conv layer, the engine's call sequence. ----

// Find each direction under TF32 as engine/ops/conv2d_cudnn.cpp does, run the chosen algorithm with
// exactly the workspace Find reported, and check the three results by the adjoint identity.
TEST(CudnnDouble, Resnet18ConvLayersAt28Pixels) {
  struct Layer {
    int c, h, k, r, stride, pad, count;
  };
  const Layer layers[] = {{3, 28, 64, 7, 2, 3, 1},   {64, 7, 64, 3, 1, 1, 4},   {64, 7, 128, 3, 2, 1, 1},
                          {64, 7, 128, 1, 2, 0, 1},  {128, 4, 128, 3, 1, 1, 3}, {128, 4, 256, 3, 2, 1, 1},
                          {128, 4, 256, 1, 2, 0, 1}, {256, 2, 256, 3, 1, 1, 3}, {256, 2, 512, 3, 2, 1, 1},
                          {256, 2, 512, 1, 2, 0, 1}, {512, 1, 512, 3, 1, 1, 3}};
  const size_t find_workspace = size_t{8} << 20;
  DeviceFloats search(find_workspace / 4);
  for (const Layer& l : layers)
    for (int rep = 0; rep < l.count; ++rep) {
      const ConvCase cc{2, l.c, l.h, l.h, l.k, l.r, l.r, l.pad, l.pad, l.stride, l.stride, 1, 1};
      SCOPED_TRACE(describe(cc));
      Conv conv(cc, CUDNN_TENSOR_OP_MATH);
      Buffers b(cc, 100 + rep);
      DeviceFloats y(cc.y_size()), dx(cc.x_size()), dw(cc.w_size());
      const DeviceFloats* outputs[] = {&y, &dx, &dw};
      for (Dir d : kDirs) {
        const int i = static_cast<int>(d);
        const void* xp = d == Dir::BackwardData ? dx.get() : b.x.get();
        const void* wp = d == Dir::BackwardFilter ? dw.get() : b.w.get();
        const void* yp = d == Dir::Forward ? y.get() : b.y.get();
        std::vector<Perf> perf;
        ASSERT_EQ(conv.find(d, xp, wp, yp, search.get(), find_workspace, perf), CUDNN_STATUS_SUCCESS);
        ASSERT_EQ(cudnnSetConvolutionMathType(conv.conv, perf[0].math), CUDNN_STATUS_SUCCESS);
        DeviceFloats ws((perf[0].memory + 3) / 4);
        const float one = 1.f, zero = 0.f;
        ASSERT_EQ(conv.call(d, perf[0].algo, xp, wp, yp, perf[0].memory ? ws.get() : nullptr, perf[0].memory,
                            &one, &zero),
                  CUDNN_STATUS_SUCCESS);
        ASSERT_EQ(cudnnSetConvolutionMathType(conv.conv, CUDNN_TENSOR_OP_MATH), CUDNN_STATUS_SUCCESS);
        ASSERT_FALSE(std::isnan(outputs[i]->host()[0]));
      }
      // TF32 inputs: each side's products carry ~2^-11 relative rounding of both factors.
      double scale = 0, ydy = 0, xdx = 0, wdw = 0;
      for (size_t i = 0; i < y.size(); ++i)
        ydy += double{y[i]} * b.y[i], scale += std::abs(double{y[i]} * b.y[i]);
      for (size_t i = 0; i < dx.size(); ++i) xdx += double{b.x[i]} * dx[i];
      for (size_t i = 0; i < dw.size(); ++i) wdw += double{b.w[i]} * dw[i];
      EXPECT_TRUE(close(xdx, ydy, scale, 4e-3));
      EXPECT_TRUE(close(wdw, ydy, scale, 4e-3));
    }
}

}  // namespace
}  // namespace cuda_emu::testing
