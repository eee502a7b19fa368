// Every backend table (engine/backend.h) against the CPU's, in the manner of ggml's test-backend-ops: the
// same inputs go through each op on the CPU and on every other device present (each GPU, or the emulated
// one), forward outputs and the gradients autograd returns for a random upstream gradient are compared;
// the table entries no op here reaches (objectives, metrics, counters, the device context) are called
// directly. Then the whole ResNet18 (logits, running statistics, gradients, Adam) and CUDA-graph capture of
// the kernel launchers. Every test needs a GPU and skips without one.
//
// Tolerances, by kind of op:
// - Exact (tolerance 0): ops whose kernel does the CPU twin's float operations in the same order with no
//   multiply-add to fuse: add, relu, scale, fill, layout permutes, max-pool (argmax, ties and NaN rules,
//   gather backward), global average pool (sequential sum), dropout (Philox mask, one multiply).
// - One-rounding ops (softmax, add_, Adam): the twin's arithmetic, but nvcc and g++ may fuse a multiply and
//   an add differently and CUDA's double exp/pow differ from glibc's by an ulp; results differ by a few
//   float ulps, so rtol 1e-6 (~8 ulps) plus an atol for values near zero.
// - Reductions (batch norm, bias sums): double sums in another order, rounded to float: mean and invstd
//   agree to ~1 ulp; y = x * scale + shift inherits that (rtol 1e-5 and atol 1e-5 of the output's scale).
//   dx = k1 dy - k2 xhat - k3 cancels, so its tolerance is relative to the largest term (1e-5 of max|dx|
//   + rtol 1e-4); dgamma/dbeta are sums of m terms, compared at 1e-5 of their scale.
// - Products (conv2d, linear) with TF32 off: float32 sums of K <= 4608 products in cuDNN's/cuBLAS's order
//   against the CPU GEMM's; rounding grows like sqrt(K) * 2^-24 of the operands' scale, ~5e-6 relative to
//   the output's largest value, so atol 1e-4 * max|ref| (20x margin) + rtol 1e-4. A wrong pad or stride
//   moves outputs by O(max|ref|).
// - Products with TF32 on: operands rounded to 10-bit mantissas (2^-11 ~ 5e-4 relative per product), so
//   1e-2 * max|ref| + rtol 1e-2, the margin PyTorch's own TF32 tests use.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "engine/adam.h"
#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/error.h"
#include "engine/io/safetensors.h"
#include "engine/ops/batch_norm.h"
#include "engine/ops/conv2d.h"
#include "engine/ops/dropout.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/layout.h"
#include "engine/ops/linear.h"
#include "engine/ops/pooling.h"
#include "engine/ops/softmax.h"
#include "engine/random.h"
#include "models/resnet18.h"
#include "tests/support/test_support.h"

#ifdef BIASCKA_WITH_CUDA
#include "engine/cuda/check.h"
#include "engine/cuda/runtime.h"
#include "kernels/kernels.h"
#endif

namespace biascka {
namespace {

const Device kCpu = Device::cpu();
const Device kGpu = Device::cuda(0);

// Every device present besides the CPU: each has its backend table, checked against the CPU's.
std::vector<Device> other_devices() {
  std::vector<Device> out;
  for (int i = 0; i < cuda_device_count(); ++i) out.push_back(Device::cuda(i));
  return out;
}

void set_math_everywhere(MathMode mode) {
  for (Device d : other_devices()) set_math_mode(d, mode);
}

double max_abs(const Tensor& t) {
  double m = 0;
  for (float v : t.to_vector()) m = std::max(m, double(std::fabs(v)));
  return m;
}

// all_close with atol scaled by the reference's largest magnitude (tensors of any scale).
::testing::AssertionResult close_scaled(const Tensor& got, const Tensor& want, double atol_rel, double rtol) {
  return test::all_close(got, want, atol_rel * max_abs(want) + 1e-30, rtol);
}

::testing::AssertionResult bit_identical(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype())
    return ::testing::AssertionFailure()
           << "shapes/dtypes differ: " << shape_str(a.shape()) << " vs " << shape_str(b.shape());
  const Tensor x = a.to(kCpu), y = b.to(kCpu);
  const size_t es = dtype_size(x.dtype());
  const char* p = static_cast<const char*>(x.raw_data());
  const char* q = static_cast<const char*>(y.raw_data());
  for (int64_t i = 0; i < x.numel(); ++i)
    if (std::memcmp(p + i * es, q + i * es, es) != 0)
      return ::testing::AssertionFailure() << "first difference at flat index " << i << " of " << x.numel();
  return ::testing::AssertionSuccess();
}

Tensor rnd(const Shape& s, uint64_t seed, float lo = -2.f, float hi = 2.f) {
  return rand_uniform(s, lo, hi, seed);
}

using OpFn = std::function<Tensor(const std::vector<Tensor>&)>;

struct OpRun {
  Tensor out;
  std::vector<Tensor> grads;  // per input, undefined when not differentiable
};

// Runs f on copies of `inputs` on `dev` (those marked in `diff` require grad), backpropagates `gy` and
// returns the output and the gradients, on the CPU.
OpRun run_op(const OpFn& f, const std::vector<Tensor>& inputs, const std::vector<bool>& diff,
             const Tensor& gy, Device dev) {
  std::vector<Tensor> in;
  for (size_t i = 0; i < inputs.size(); ++i) {
    Tensor t = inputs[i].to(dev).clone();
    if (i < diff.size() && diff[i]) t.set_requires_grad(true);
    in.push_back(t);
  }
  OpRun r;
  Tensor out = f(in);
  r.out = out.to(kCpu);
  if (gy.defined()) {
    out.backward(gy.to(dev));
    for (size_t i = 0; i < in.size(); ++i)
      r.grads.push_back(i < diff.size() && diff[i] && in[i].grad().defined() ? in[i].grad().to(kCpu)
                                                                             : Tensor());
  }
  return r;
}

struct Tol {
  double atol_rel = 0, rtol = 0;  // atol is atol_rel * max|reference|; both 0: bit-identical
};

::testing::AssertionResult matches(const Tensor& got, const Tensor& want, Tol tol) {
  if (tol.atol_rel == 0 && tol.rtol == 0) return bit_identical(got, want);
  return close_scaled(got, want, tol.atol_rel, tol.rtol);
}

// The op on the CPU and on every other device; output and every gradient compared.
void check_op(const std::string& name, const OpFn& f, const std::vector<Tensor>& inputs,
              const std::vector<bool>& diff, Tol out_tol, Tol grad_tol, uint64_t seed = 7) {
  SCOPED_TRACE(name);
  Tensor gy;
  {
    NoGrad ng;
    std::vector<Tensor> probe;
    for (const auto& t : inputs) probe.push_back(t.clone());
    const Tensor o = f(probe);
    bool any = false;
    for (bool d : diff) any = any || d;
    if (any) gy = rnd(o.shape(), seed, -1.f, 1.f);
  }
  const OpRun c = run_op(f, inputs, diff, gy, kCpu);
  for (Device dev : other_devices()) {
    SCOPED_TRACE(dev.str());
    const OpRun g = run_op(f, inputs, diff, gy, dev);
    EXPECT_TRUE(matches(g.out, c.out, out_tol)) << name << " output";
    for (size_t i = 0; i < c.grads.size(); ++i) {
      if (!c.grads[i].defined()) continue;
      ASSERT_TRUE(g.grads[i].defined()) << name << ": no CUDA gradient for input " << i;
      EXPECT_TRUE(matches(g.grads[i], c.grads[i], grad_tol)) << name << " gradient of input " << i;
    }
  }
}

constexpr Tol kExact{0, 0};
constexpr Tol kUlps{1e-7, 1e-6};
constexpr Tol kFp32Product{1e-4, 1e-4};
constexpr Tol kTf32Product{1e-2, 1e-2};

// TF32 off for every test here unless a test turns it on; restored afterwards.
class BackendOps : public ::testing::Test {
 protected:
  void SetUp() override {
    BIASCKA_REQUIRE_GPU();
    set_math_everywhere(MathMode::Exact);
  }
  void TearDown() override { set_math_everywhere(MathMode::Tf32); }
};

// ---- elementwise and layout ----

// Under the emulation (tests/cuda_emu) the large shapes shrink in their batch dimension only.
int64_t batch(int64_t device, int64_t emulated) { return test::emulated() ? emulated : device; }

TEST_F(BackendOps, AddReluScale) {
  for (const Shape& s : {Shape{batch(512, 16), 14, 14, 64}, Shape{3, 5, 7, 3}, Shape{1}}) {
    const Tensor a = rnd(s, 1), b = rnd(s, 2);
    check_op(
        detail::concat("add ", shape_str(s)), [](const auto& in) { return add(in[0], in[1]); }, {a, b},
        {true, true}, kExact, kExact);
    check_op(
        detail::concat("relu ", shape_str(s)), [](const auto& in) { return relu(in[0]); }, {a}, {true},
        kExact, kExact);
    check_op(
        detail::concat("scale ", shape_str(s)), [](const auto& in) { return scale(in[0], -0.37f); }, {a},
        {true}, kExact, kExact);
  }
}

TEST_F(BackendOps, AxpyInPlace) {
  const Tensor x = rnd({100003}, 3), y = rnd({100003}, 4);
  Tensor yc = y.clone(), yg = y.to(kGpu);
  add_(yc, x, 0.3f);
  add_(yg, x.to(kGpu), 0.3f);
  // y + alpha * x may be fused into one multiply-add on either side: an ulp.
  EXPECT_TRUE(close_scaled(yg, yc, kUlps.atol_rel, kUlps.rtol));
}

TEST_F(BackendOps, FillEveryDtype) {
  for (DType dt : {DType::F32, DType::F64, DType::I64, DType::I32, DType::U8}) {
    for (double v : {0.0, -1.5, 3.0, 255.0}) {
      if (dt == DType::U8 && v < 0) continue;
      Tensor c = Tensor::zeros({1029}, dt, kCpu), g = Tensor::zeros({1029}, dt, kGpu);
      fill_(c, v);
      fill_(g, v);
      EXPECT_TRUE(bit_identical(g, c)) << dtype_name(dt) << " " << v;
    }
  }
}

TEST_F(BackendOps, LayoutPermutes) {
  for (const Shape& s : {Shape{8, 64, 14, 14}, Shape{3, 5, 7, 6}, Shape{2, 3, 224, 224}}) {
    const Tensor x = rnd(s, 5);
    EXPECT_TRUE(bit_identical(nchw_to_nhwc(x.to(kGpu)), nchw_to_nhwc(x))) << shape_str(s);
    EXPECT_TRUE(bit_identical(nhwc_to_nchw(x.to(kGpu)), nhwc_to_nchw(x))) << shape_str(s);
  }
}

// ---- convolution and linear ----

struct ConvCase {
  Shape x;
  int64_t out, k;
  int stride, pad;
};

// ResNet18's convolutions: the 7x7/2 stem (28 px), a 3x3 stage-1 conv, a strided 3x3 and its 1x1
// downsample, and a stage-4 conv at 224 px's spatial size.
const std::vector<ConvCase> kConvCases = {
    {{8, 28, 28, 3}, 64, 7, 2, 3},  {{16, 7, 7, 64}, 64, 3, 1, 1},  {{16, 7, 7, 64}, 128, 3, 2, 1},
    {{16, 7, 7, 64}, 128, 1, 2, 0}, {{4, 7, 7, 256}, 512, 3, 1, 1}, {{3, 9, 11, 5}, 6, 3, 2, 1},
};

void check_convs(Tol tol) {
  for (const auto& cc : kConvCases) {
    const Tensor x = rnd(cc.x, 11);
    const float std = std::sqrt(2.f / float(cc.x[3] * cc.k * cc.k));  // He scale: outputs O(1)
    const Tensor w = rand_normal({cc.out, cc.x[3], cc.k, cc.k}, 0.f, std, 12);
    const Conv2dOptions opt{cc.stride, cc.pad};
    check_op(
        detail::concat("conv2d x", shape_str(cc.x), " w", shape_str(w.shape())),
        [opt](const auto& in) { return conv2d(in[0], in[1], opt); }, {x, w}, {true, true}, tol, tol);
  }
}

TEST_F(BackendOps, Conv2dFp32) { check_convs(kFp32Product); }

TEST_F(BackendOps, Conv2dTf32) {
  set_math_everywhere(MathMode::Tf32);
  check_convs(kTf32Product);
}

void check_linears(Tol tol) {
  // fc of ResNet18 (512 -> 10, 512 -> 2) and a wide one (K = 2048).
  for (auto [n, in, out] :
       {std::tuple<int64_t, int64_t, int64_t>{512, 512, 10}, {64, 512, 2}, {37, 2048, 33}}) {
    const Tensor x = rnd({n, in}, 21, 0.f, 2.f), w = rnd({out, in}, 22, -0.05f, 0.05f), b = rnd({out}, 23);
    check_op(
        detail::concat("linear ", n, "x", in, "->", out),
        [](const auto& v) { return linear(v[0], v[1], v[2]); }, {x, w, b}, {true, true, true}, tol, tol);
  }
}

TEST_F(BackendOps, LinearFp32) { check_linears(kFp32Product); }

TEST_F(BackendOps, LinearTf32) {
  set_math_everywhere(MathMode::Tf32);
  check_linears(kTf32Product);
}

// ---- batch norm ----

// Train and eval, forward and backward, running statistics, on ResNet18's shapes (the 28 px stem at
// batch 512, stage 4 at 1x1, the 224 px stem at batch 16) and on odd ones that take the kernels' other
// paths (channels not a multiple of 4, one block per tile for few rows).
TEST_F(BackendOps, BatchNorm) {
  const std::vector<Shape> shapes = {{batch(512, 64), 14, 14, 64},
                                     {512, 1, 1, 512},
                                     {batch(16, 2), 112, 112, 64},
                                     {batch(64, 16), 7, 7, 512},
                                     {2, 3, 3, 6},
                                     {3, 5, 7, 12},
                                     {33, 64},
                                     {2, 5}};
  for (const Shape& s : shapes) {
    const int64_t c = s.back();
    // Channels with different means and scales, so centring errors would show.
    Tensor x = rnd(s, 31);
    {
      std::vector<float> v = x.to_vector();
      for (size_t i = 0; i < v.size(); ++i) v[i] = v[i] * (1.f + 0.05f * (i % c)) + 0.3f * float(i % c);
      x = Tensor::from_vector(v, s);
    }
    const Tensor gamma = rnd({c}, 32, 0.5f, 1.5f), beta = rnd({c}, 33);
    const Tensor rm0 = rnd({c}, 34, -0.1f, 0.1f), rv0 = rnd({c}, 35, 0.5f, 2.f);
    for (bool training : {true, false}) {
      SCOPED_TRACE(shape_str(s) + (training ? " train" : " eval"));
      Tensor rm_c = rm0.clone(), rv_c = rv0.clone(), rm_g = rm0.to(kGpu).clone(), rv_g = rv0.to(kGpu).clone();
      const BatchNormOptions opt{training, 0.1f, 1e-5f};
      const OpFn f = [&](const std::vector<Tensor>& in) {  // each device's own running statistics
        const bool gpu = in[0].device().is_cuda();
        return batch_norm(in[0], in[1], in[2], gpu ? rm_g : rm_c, gpu ? rv_g : rv_c, opt);
      };
      const Tensor gy = rnd(s, 36, -1.f, 1.f);
      const OpRun rc = run_op(f, {x, gamma, beta}, {true, true, true}, gy, kCpu);
      const OpRun rg = run_op(f, {x, gamma, beta}, {true, true, true}, gy, kGpu);
      EXPECT_TRUE(close_scaled(rg.out, rc.out, 1e-5, 1e-5)) << "y";
      EXPECT_TRUE(close_scaled(rg.grads[0], rc.grads[0], 1e-5, 1e-4)) << "dx";
      EXPECT_TRUE(close_scaled(rg.grads[1], rc.grads[1], 1e-5, 1e-5)) << "dgamma";
      EXPECT_TRUE(close_scaled(rg.grads[2], rc.grads[2], 1e-5, 1e-5)) << "dbeta";
      // Running stats: (1 - momentum) r + momentum * stat in double, rounded once.
      EXPECT_TRUE(test::all_close(rm_g, rm_c, 1e-7, 1e-6)) << "running_mean";
      EXPECT_TRUE(test::all_close(rv_g, rv_c, 1e-7, 1e-6)) << "running_var";
      if (!training) {
        EXPECT_TRUE(bit_identical(rm_g, rm0)) << "eval must not touch running_mean";
        EXPECT_TRUE(bit_identical(rv_g, rv0)) << "eval must not touch running_var";
      }
    }
  }
}

// The gradient-subset paths of the backward kernel (dx only, dgamma/dbeta only), through the kernel
// directly against the op's full CPU gradients.
#ifdef BIASCKA_WITH_CUDA
TEST_F(BackendOps, BatchNormBackwardSubsets) {
  for (const Shape& s : {Shape{4096, 64}, Shape{33, 12}, Shape{300, 6}}) {
    const int64_t m = s[0], c = s[1];
    const Tensor x = rnd(s, 41), gamma = rnd({c}, 42, 0.5f, 1.5f), beta = rnd({c}, 43), gy = rnd(s, 44);
    for (bool training : {true, false}) {
      SCOPED_TRACE(shape_str(s) + (training ? " train" : " eval"));
      Tensor rm = Tensor::zeros({c}), rv = Tensor::full({c}, 1.0);
      const OpRun full = run_op(
          [&](const auto& in) {
            return batch_norm(in[0], in[1], in[2], rm, rv, {training, 0.1f, 1e-5f});
          },
          {x, gamma, beta}, {true, true, true}, gy, kCpu);
      // mean/invstd as the forward saves them, from the CPU.
      Tensor mean = Tensor::empty({c}), invstd = Tensor::empty({c}), y = Tensor::empty(s);
      {
        std::vector<float> xv = x.to_vector(), mu(c, 0.f), is(c, 0.f);
        if (training) {
          std::vector<double> s1(c, 0), s2(c, 0);
          for (int64_t r = 0; r < m; ++r)
            for (int64_t j = 0; j < c; ++j) {
              s1[j] += xv[r * c + j];
              s2[j] += double(xv[r * c + j]) * xv[r * c + j];
            }
          for (int64_t j = 0; j < c; ++j) {
            const double mu_d = s1[j] / m, var = std::max(0.0, s2[j] / m - mu_d * mu_d);
            mu[j] = float(mu_d);
            is[j] = float(1.0 / std::sqrt(var + 1e-5f));
          }
        } else {
          for (int64_t j = 0; j < c; ++j) is[j] = float(1.0 / std::sqrt(1.0 + 1e-5f));
        }
        mean = Tensor::from_vector(mu, {c});
        invstd = Tensor::from_vector(is, {c});
      }
      const Tensor dy_g = gy.to(kGpu), x_g = x.to(kGpu), gamma_g = gamma.to(kGpu), mean_g = mean.to(kGpu),
                   invstd_g = invstd.to(kGpu);
      for (int mask = 1; mask < 8; ++mask) {
        Tensor dx = Tensor::full(s, 7.0, DType::F32, kGpu), dg = Tensor::full({c}, 7.0, DType::F32, kGpu),
               db = Tensor::full({c}, 7.0, DType::F32, kGpu);
        cuda::set_device(0);
        Tensor scratch = Tensor::empty({std::max<int64_t>(kernels::batch_norm_scratch_doubles(m, c), 1)},
                                       DType::F64, kGpu);
        kernels::batch_norm_backward(
            dy_g.data<float>(), x_g.data<float>(), gamma_g.data<float>(), mean_g.data<float>(),
            invstd_g.data<float>(), (mask & 1) ? dx.data<float>() : nullptr,
            (mask & 2) ? dg.data<float>() : nullptr, (mask & 4) ? db.data<float>() : nullptr, m, c, training,
            scratch.data<double>(), scratch.numel(), cuda::stream(0));
        if (mask & 1) {
          EXPECT_TRUE(close_scaled(dx, full.grads[0], 1e-5, 1e-4)) << "dx, mask " << mask;
        }
        if (mask & 2) {
          EXPECT_TRUE(close_scaled(dg, full.grads[1], 1e-5, 1e-5)) << "dgamma, mask " << mask;
        }
        if (mask & 4) {
          EXPECT_TRUE(close_scaled(db, full.grads[2], 1e-5, 1e-5)) << "dbeta, mask " << mask;
        }
        if (!(mask & 2)) {
          EXPECT_EQ(dg.to_vector()[0], 7.f) << "dgamma written though not asked for";
        }
        if (!(mask & 4)) {
          EXPECT_EQ(db.to_vector()[0], 7.f) << "dbeta written though not asked for";
        }
      }
    }
  }
}
#endif

// ---- pooling ----

TEST_F(BackendOps, MaxPool) {
  struct Case {
    Shape s;
    MaxPoolOptions opt;
    bool ties;
  };
  // ResNet18's 3x3/2/1 after the stem at 28 px (batch 512) and 224 px (batch 8), with ties (rounded
  // values: the first in scan order must win) and NaNs (they win, as in PyTorch); odd shapes for the
  // scalar path; a 2x2/2 pool.
  const std::vector<Case> cases = {{{batch(512, 32), 14, 14, 64}, {3, 2, 1}, false},
                                   {{batch(8, 2), 112, 112, 64}, {3, 2, 1}, false},
                                   {{4, 14, 14, 64}, {3, 2, 1}, true},
                                   {{3, 9, 7, 5}, {3, 2, 1}, true},
                                   {{2, 8, 8, 8}, {2, 2, 0}, true},
                                   {{2, 7, 7, 12}, {3, 1, 1}, true}};
  for (const auto& cs : cases) {
    std::vector<float> v = rnd(cs.s, 51, -3.f, 3.f).to_vector();
    if (cs.ties)
      for (auto& e : v) e = std::round(e);
    v[3] = NAN;
    v[v.size() / 2] = NAN;
    const Tensor x = Tensor::from_vector(v, cs.s);
    const MaxPoolOptions opt = cs.opt;
    check_op(
        detail::concat("max_pool2d ", shape_str(cs.s)),
        [opt](const auto& in) { return max_pool2d(in[0], opt); }, {x}, {true}, kExact, kExact);
  }
}

TEST_F(BackendOps, GlobalAvgPool) {
  for (const Shape& s : {Shape{512, 1, 1, 512}, Shape{64, 7, 7, 512}, Shape{3, 5, 4, 7}})
    check_op(
        detail::concat("global_avg_pool ", shape_str(s)),
        [](const auto& in) { return global_avg_pool(in[0]); }, {rnd(s, 61)}, {true}, kExact, kExact);
}

// ---- dropout, softmax ----

TEST_F(BackendOps, DropoutMaskBitIdentical) {
  for (auto [n, seed, offset] :
       {std::tuple<int64_t, uint64_t, uint64_t>{512 * 512, 42, 0}, {1001, 7, (1ull << 32) - 5}}) {
    const Tensor x = rnd({n}, 71);
    check_op(
        detail::concat("dropout n=", n),
        [seed, offset](const auto& in) { return dropout(in[0], 0.4f, true, seed, offset); }, {x}, {true},
        kExact, kExact);
  }
}

TEST_F(BackendOps, SoftmaxAndLogSoftmax) {
  for (const Shape& s : {Shape{512, 10}, Shape{64, 2}, Shape{7, 1000}, Shape{5, 1}}) {
    const Tensor z = rnd(s, 81, -8.f, 8.f);
    check_op(
        detail::concat("softmax ", shape_str(s)), [](const auto& in) { return softmax(in[0]); }, {z}, {true},
        kUlps, kUlps);
    check_op(
        detail::concat("log_softmax ", shape_str(s)), [](const auto& in) { return log_softmax(in[0]); }, {z},
        {true}, kUlps, kUlps);
  }
}

// ---- Adam ----

// Three steps over tensors of ResNet18's sizes (the largest conv, the stem, BN vectors, fc) and odd
// sizes (vector-load tails), one parameter without a gradient (left alone on both devices).
TEST_F(BackendOps, AdamSteps) {
  const std::vector<Shape> shapes = {{512, 512, 3, 3}, {64, 3, 7, 7}, {64},  {10, 512}, {10},
                                     {1001},           {3},           {7, 5}};
  NamedTensors pc, pg;
  for (size_t i = 0; i < shapes.size(); ++i) {
    Tensor p = rnd(shapes[i], 100 + i, -0.5f, 0.5f);
    Tensor g = rnd(shapes[i], 200 + i, -1e-2f, 1e-2f);
    Tensor a = p.clone(), b = p.to(kGpu).clone();
    a.set_requires_grad(true);
    b.set_requires_grad(true);
    if (i != 4) {  // {10}: no gradient
      a.set_grad(g.clone());
      b.set_grad(g.to(kGpu).clone());
    }
    pc.emplace_back(detail::concat("p", i), a);
    pg.emplace_back(detail::concat("p", i), b);
  }
  Adam oc(pc), og(pg);
  for (int step = 0; step < 3; ++step) {
    oc.step();
    og.step();
  }
  EXPECT_EQ(og.steps(), 3);
  EXPECT_EQ(oc.steps(), 3);
  const NamedTensors sc = oc.state(), sg = og.state();
  ASSERT_EQ(sc.size(), sg.size());
  for (size_t i = 0; i < pc.size(); ++i)
    EXPECT_TRUE(test::all_close(pg[i].second, pc[i].second, 1e-7, 1e-6)) << "param " << pc[i].first;
  for (size_t i = 0; i + 1 < sc.size(); ++i)
    EXPECT_TRUE(close_scaled(sg[i].second, sc[i].second, 1e-6, 1e-5)) << sc[i].first;
  EXPECT_TRUE(bit_identical(pg[4].second, pc[4].second)) << "a parameter without gradient changed";
}

// ---- table entries no op above reaches: objectives, metrics, counters, the device context ----

// Every device's objective_loss_grad (all six objectives), accuracy_counts (with and without the confusion
// matrix), record_scalar and increment_i64 against the CPU's. The objectives share their per-row
// arithmetic (kernels/objective_row.h): the gradients differ only by the devices' exp/log (an ulp of a
// double, rounded to float: kUlps); the loss is a double mean (1e-12 relative). Counts are integers: exact.
TEST_F(BackendOps, EveryOtherEntryAgainstCpu) {
  const int64_t rows = 67, cols = 10;
  std::vector<float> zv = rnd({rows, cols}, 301, -6.f, 6.f).to_vector();
  for (int64_t c = 0; c < cols; ++c) zv[5 * cols + c] = 1.f;  // a row of ties: the first maximum wins
  const Tensor z = Tensor::from_vector(zv, {rows, cols});
  const Tensor t = rand_int({rows}, cols, 302), b = rand_int({rows}, cols, 303);
  const Backend& cpu = backend(kCpu);
  EXPECT_FALSE(cpu.asynchronous());
  EXPECT_EQ(cpu.make_graph(), nullptr);
  EXPECT_EQ(cpu.math_mode(), MathMode::Exact);
  for (Device dev : other_devices()) {
    SCOPED_TRACE(dev.str());
    const Backend& be = backend(dev);
    EXPECT_EQ(be.device(), dev);
    EXPECT_TRUE(be.asynchronous());
    EXPECT_NE(be.make_graph(), nullptr);
    EXPECT_NE(be.make_uploader(), nullptr);
    be.set_math_mode(MathMode::Tf32);
    EXPECT_EQ(be.math_mode(), MathMode::Tf32);
    be.set_math_mode(MathMode::Exact);
    EXPECT_EQ(be.math_mode(), MathMode::Exact);
    const Tensor zd = z.to(dev), td = t.to(dev), bd = b.to(dev);
    for (ObjectiveKind kind : {ObjectiveKind::Sce, ObjectiveKind::Nll, ObjectiveKind::Bce, ObjectiveKind::L1,
                               ObjectiveKind::L2, ObjectiveKind::Sos}) {
      SCOPED_TRACE(static_cast<int>(kind));
      Tensor gc = Tensor::empty({rows, cols}), gd = Tensor::empty({rows, cols}, DType::F32, dev);
      Tensor lc = Tensor::empty({}, DType::F64), ld = Tensor::empty({}, DType::F64, dev);
      cpu.objective_loss_grad(kind, 1.5f, 0.5f, z.data<float>(), t.data<int64_t>(), rows, cols,
                              gc.data<float>(), lc.data<double>());
      be.objective_loss_grad(kind, 1.5f, 0.5f, zd.data<float>(), td.data<int64_t>(), rows, cols,
                             gd.data<float>(), ld.data<double>());
      EXPECT_TRUE(close_scaled(gd, gc, kUlps.atol_rel, kUlps.rtol)) << "gradient";
      EXPECT_NEAR(ld.item(), lc.item(), 1e-12 * std::fabs(lc.item())) << "loss";
    }
    for (bool with_confusion : {false, true}) {
      Tensor cc = Tensor::full({4}, 3.0, DType::I64), cd = Tensor::full({4}, 3.0, DType::I64, dev);
      Tensor mc = Tensor::zeros({cols, cols}, DType::I64), md = Tensor::zeros({cols, cols}, DType::I64, dev);
      cpu.accuracy_counts(z.data<float>(), t.data<int64_t>(), b.data<int64_t>(), rows, cols,
                          cc.data<int64_t>(), with_confusion ? mc.data<int64_t>() : nullptr);
      be.accuracy_counts(zd.data<float>(), td.data<int64_t>(), bd.data<int64_t>(), rows, cols,
                         cd.data<int64_t>(), with_confusion ? md.data<int64_t>() : nullptr);
      EXPECT_TRUE(bit_identical(cd, cc)) << "counts, confusion " << with_confusion;
      EXPECT_TRUE(bit_identical(md, mc)) << "confusion matrix";
    }
    Tensor value = Tensor::full({}, 2.5, DType::F64, dev), slots = Tensor::zeros({3}, DType::F64, dev),
           index = Tensor::full({}, 1.0, DType::I64, dev), counter = Tensor::full({}, 40.0, DType::I64, dev);
    be.record_scalar(value.data<double>(), slots.data<double>(), index.data<int64_t>());
    be.increment_i64(counter.data<int64_t>(), 2);
    const Tensor sh = slots.to(kCpu);
    EXPECT_EQ(std::vector<double>(sh.data<double>(), sh.data<double>() + 3),
              (std::vector<double>{0.0, 2.5, 0.0}));
    EXPECT_EQ(index.item(), 2.0);
    EXPECT_EQ(counter.item(), 42.0);
  }
}

// ---- CUDA graphs: the launchers do no host synchronisation and no allocation ----

#ifdef BIASCKA_WITH_CUDA
// Captures one training step's worth of kernel launches (batch-norm forward and backward on both the
// multi-block and the fused path, max-pool, dropout, softmax, Adam) into a graph with the strictest
// capture mode (any synchronisation or allocation inside a launcher invalidates the capture), replays
// it twice, and checks that the replay reproduces eager launches bit for bit (the kernels are
// deterministic) and that Adam's device step counter advanced on every replay.
TEST_F(BackendOps, LaunchersAreGraphCapturable) {
  cuda::set_device(0);
  cudaStream_t s = cuda::stream(0);
  const int64_t n = 8, hw = 14, c = 64, m = n * hw * hw;
  auto gpu = [](const Tensor& t) { return t.to(kGpu); };
  const Tensor x = gpu(rnd({m, c}, 91)), gamma = gpu(rnd({c}, 92)), beta = gpu(rnd({c}, 93));
  const Tensor xs = gpu(rnd({2, 6}, 94)), gamma6 = gpu(rnd({6}, 95)), beta6 = gpu(rnd({6}, 96));
  Tensor p = gpu(rnd({1000}, 97)), g = gpu(rnd({1000}, 98)), ma = Tensor::zeros({1000}, DType::F32, kGpu),
         va = Tensor::zeros({1000}, DType::F32, kGpu), step = Tensor::zeros({}, DType::I64, kGpu);
  const kernels::AdamTensor at{p.data<float>(), g.data<float>(), ma.data<float>(), va.data<float>(), 1000};
  Tensor table = Tensor::empty({int64_t(sizeof at)}, DType::U8, kGpu);
  // On the kernels' stream: a plain cudaMemcpy from pageable memory may return before its DMA lands.
  BIASCKA_CUDA_CHECK(cudaMemcpyAsync(table.raw_data(), &at, sizeof at, cudaMemcpyHostToDevice, s));
  BIASCKA_CUDA_CHECK(cudaStreamSynchronize(s));

  struct Outputs {
    Tensor y, mean, invstd, rmean, rvar, dx, dgamma, dbeta;  // batch norm [m, c], multi-block path
    Tensor ys, means, invstds, rmeans, rvars;                // batch norm [2, 6], fused path
    Tensor pool, argmax, drop, logp;
  };
  auto make = [&] {
    auto f = [](const Shape& sh, double v = 0.0) { return Tensor::full(sh, v, DType::F32, kGpu); };
    return Outputs{
        f({m, c}), f({c}),       f({c}),      f({c}),          f({c}, 1.0),
        f({m, c}), f({c}),       f({c}),      f({2, 6}),       f({6}),
        f({6}),    f({6}),       f({6}, 1.0), f({n, 7, 7, c}), Tensor::zeros({n, 7, 7, c}, DType::I32, kGpu),
        f({m, c}), f({m / 8, 8})};
  };
  // The batch norms' reduction scratch, allocated before capture (the launchers allocate nothing).
  const Tensor scratch =
      Tensor::empty({std::max<int64_t>(kernels::batch_norm_scratch_doubles(m, c), 1)}, DType::F64, kGpu);
  const Tensor scratch6 =
      Tensor::empty({std::max<int64_t>(kernels::batch_norm_scratch_doubles(2, 6), 1)}, DType::F64, kGpu);
  // The dropout counter's end position: the mask starts at 17 (the counter is advanced before a forward).
  const Tensor counter = Tensor::full({}, 17.0 + static_cast<double>(m * c), DType::I64, Device::cuda());
  auto launch = [&](Outputs& o) {
    auto F = [](Tensor& t) { return t.data<float>(); };
    kernels::batch_norm_forward(x.data<float>(), gamma.data<float>(), beta.data<float>(), F(o.y), F(o.mean),
                                F(o.invstd), F(o.rmean), F(o.rvar), m, c, true, 0.1f, 1e-5f,
                                scratch.data<double>(), scratch.numel(), s);
    kernels::batch_norm_backward(x.data<float>(), x.data<float>(), gamma.data<float>(), F(o.mean),
                                 F(o.invstd), F(o.dx), F(o.dgamma), F(o.dbeta), m, c, true,
                                 scratch.data<double>(), scratch.numel(), s);
    kernels::batch_norm_forward(xs.data<float>(), gamma6.data<float>(), beta6.data<float>(), F(o.ys),
                                F(o.means), F(o.invstds), F(o.rmeans), F(o.rvars), 2, 6, true, 0.1f, 1e-5f,
                                scratch6.data<double>(), scratch6.numel(), s);
    kernels::max_pool2d_forward(F(o.y), F(o.pool), o.argmax.data<int32_t>(), n, hw, hw, c, 7, 7, 3, 2, 1, s);
    kernels::dropout_apply(F(o.y), F(o.drop), m * c, 0.4f, 5, counter.data<int64_t>(), s);
    kernels::softmax_forward(F(o.y), F(o.logp), m / 8, 8, true, s);
    kernels::adam_step(static_cast<const kernels::AdamTensor*>(table.raw_data()), 1, 1000,
                       step.data<int64_t>(), 1e-3f, 0.9f, 0.999f, 1e-8f, 1e-5f, s);
  };
  Outputs eager = make(), replay = make();
  launch(eager);  // also warms up whatever the launchers cache (the SM count)
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  BIASCKA_CUDA_CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
  launch(replay);
  BIASCKA_CUDA_CHECK(cudaStreamEndCapture(s, &graph));
  BIASCKA_CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
  BIASCKA_CUDA_CHECK(cudaGraphLaunch(exec, s));
  BIASCKA_CUDA_CHECK(cudaGraphLaunch(exec, s));
  BIASCKA_CUDA_CHECK(cudaStreamSynchronize(s));
  BIASCKA_CUDA_CHECK(cudaGraphExecDestroy(exec));
  BIASCKA_CUDA_CHECK(cudaGraphDestroy(graph));
  EXPECT_EQ(step.item(), 3.0) << "Adam's device step must advance on every replay";
  launch(eager);  // running statistics: two updates on each side now
  const std::vector<std::pair<const char*, Tensor Outputs::*>> fields = {
      {"y", &Outputs::y},
      {"mean", &Outputs::mean},
      {"invstd", &Outputs::invstd},
      {"running_mean", &Outputs::rmean},
      {"running_var", &Outputs::rvar},
      {"dx", &Outputs::dx},
      {"dgamma", &Outputs::dgamma},
      {"dbeta", &Outputs::dbeta},
      {"fused y", &Outputs::ys},
      {"fused mean", &Outputs::means},
      {"fused invstd", &Outputs::invstds},
      {"fused running_mean", &Outputs::rmeans},
      {"fused running_var", &Outputs::rvars},
      {"max_pool", &Outputs::pool},
      {"argmax", &Outputs::argmax},
      {"dropout", &Outputs::drop},
      {"log_softmax", &Outputs::logp}};
  for (const auto& [name, field] : fields) EXPECT_TRUE(bit_identical(replay.*field, eager.*field)) << name;
}
#endif

// ---- ResNet18, GPU against CPU ----

// Same weights (the reference torchvision weights when ../shared/reference is there, else a seeded
// initialisation), same input; TF32 off. Compares eval logits, train logits, every BN buffer after the
// train forward, the cross-entropy and every parameter's gradient, then two Adam steps from the same
// gradients. Tolerances as tests/test_resnet18_reference.cpp uses against PyTorch (float32 on both sides
// here, so they hold with more margin): logits 2e-4 of their scale + 1e-4 relative; gradients 1e-4 of
// each tensor's scale + 2e-3 relative (train-mode BN over 8 values per channel in stage 4 amplifies
// rounding); running stats 1e-5 + 1e-4 relative; Adam from identical gradients 1e-7 + 1e-6 relative.
TEST_F(BackendOps, ResNet18GpuMatchesCpu) {
  ResNet18Config cfg;
  cfg.num_classes = 10;
  cfg.dropout = 0.4f;  // same seed on both devices: the same masks
  ResNet18 mc(cfg, 2024), mg(cfg, 2024);
  const std::string weights = test::reference_path("resnet18_c10_28px.weights.safetensors");
  if (!weights.empty()) {
    const TensorFile f = read_safetensors(weights);
    mc.load_state_dict(f);
    mg.load_state_dict(f);
  }
  mg.to(kGpu);
  const Tensor x = rand_normal({8, 28, 28, 3}, 0.f, 1.f, 77);
  const Tensor y = rand_int({8}, 10, 78);

  {
    NoGrad ng;
    mc.eval();
    mg.eval();
    EXPECT_TRUE(close_scaled(mg.forward(x.to(kGpu)), mc.forward(x), 2e-4, 1e-4)) << "eval logits";
  }
  mc.train();
  mg.train();
  const Tensor lc = mc.forward(x), lg = mg.forward(x.to(kGpu));
  EXPECT_TRUE(close_scaled(lg, lc, 2e-4, 1e-4)) << "train logits";
  const NamedTensors bc = mc.named_buffers(), bg = mg.named_buffers();
  ASSERT_EQ(bc.size(), bg.size());
  for (size_t i = 0; i < bc.size(); ++i) {
    const bool counter = bc[i].second.dtype() == DType::I64;  // num_batches_tracked
    EXPECT_TRUE(counter ? bit_identical(bg[i].second, bc[i].second)
                        : test::all_close(bg[i].second, bc[i].second, 1e-5, 1e-4))
        << bc[i].first;
  }
  Tensor loss_c = nll_loss(log_softmax(lc), y), loss_g = nll_loss(log_softmax(lg), y.to(kGpu));
  EXPECT_NEAR(loss_g.item(), loss_c.item(), 1e-5 * std::max(1.0, std::fabs(loss_c.item())));
  loss_c.backward();
  loss_g.backward();
  NamedTensors pc = mc.named_parameters(), pg = mg.named_parameters();
  ASSERT_EQ(pc.size(), pg.size());
  for (size_t i = 0; i < pc.size(); ++i) {
    ASSERT_TRUE(pc[i].second.grad().defined() && pg[i].second.grad().defined()) << pc[i].first;
    EXPECT_TRUE(close_scaled(pg[i].second.grad(), pc[i].second.grad(), 1e-4, 2e-3)) << "grad." << pc[i].first;
  }
  // Adam from the CPU's gradients on both devices, so this checks the optimizer over all 11.2M parameters.
  for (size_t i = 0; i < pc.size(); ++i) pg[i].second.set_grad(pc[i].second.grad().to(kGpu).clone());
  Adam oc(pc), og(pg);
  for (int step = 0; step < 2; ++step) {
    oc.step();
    og.step();
  }
  EXPECT_EQ(og.steps(), 2);
  for (size_t i = 0; i < pc.size(); ++i)
    EXPECT_TRUE(test::all_close(pg[i].second, pc[i].second, 1e-7, 1e-6)) << "adam2." << pc[i].first;
}

}  // namespace
}  // namespace biascka
