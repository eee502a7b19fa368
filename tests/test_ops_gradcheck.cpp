// Every differentiable op against central finite differences on small shapes (float32 evaluations,
// eps 1e-2: truncation error O(eps^2 * f''') ~1e-4 and rounding ~1e-7/eps ~1e-5, so atol 2e-3 + rtol 2e-2
// catches any wrong formula while tolerating both). Inputs are seeded, so a kink of relu/max-pool inside
// the eps window would fail deterministically, not flakily.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "engine/autograd.h"
#include "engine/ops/batch_norm.h"
#include "engine/ops/conv2d.h"
#include "engine/ops/dropout.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/linear.h"
#include "engine/ops/pooling.h"
#include "engine/ops/softmax.h"
#include "engine/random.h"
#include "tests/support/test_support.h"

namespace biascka {
namespace {

// A scalar that weights every output element differently: sum(out * R) as a 1x1 linear map.
Tensor weighted_sum(const Tensor& out, uint64_t seed) {
  const Tensor r = rand_normal({1, out.numel()}, 0.f, 1.f, seed);
  return linear(out.reshape({1, out.numel()}), r, Tensor()).reshape({});
}

using Inputs = std::vector<Tensor>;

TEST(GradCheck, Add) {
  EXPECT_TRUE(test::grad_check([](const Inputs& in) { return weighted_sum(add(in[0], in[1]), 1); },
                               {rand_normal({2, 3, 4}, 0, 1, 2), rand_normal({2, 3, 4}, 0, 1, 3)}));
}

TEST(GradCheck, AddSameInputTwice) {  // both gradients land on one tensor
  EXPECT_TRUE(test::grad_check([](const Inputs& in) { return weighted_sum(add(in[0], in[0]), 1); },
                               {rand_normal({3, 5}, 0, 1, 2)}));
}

TEST(GradCheck, ReluAndScale) {
  EXPECT_TRUE(test::grad_check([](const Inputs& in) { return weighted_sum(scale(relu(in[0]), 1.5f), 4); },
                               {rand_normal({4, 6}, 0, 1, 5)}));
}

class ConvGrad : public ::testing::TestWithParam<CpuConvPath> {
 protected:
  void SetUp() override {
    if (GetParam() == CpuConvPath::OneDnn && !onednn_available()) GTEST_SKIP() << "no oneDNN in this build";
    set_cpu_conv_path(GetParam());
  }
  void TearDown() override { set_cpu_conv_path(CpuConvPath::Auto); }
};

TEST_P(ConvGrad, Conv3x3Stride1Pad1) {
  EXPECT_TRUE(test::grad_check(
      [](const Inputs& in) {
        return weighted_sum(conv2d(in[0], in[1], {1, 1}), 6);
      },
      {rand_normal({2, 5, 5, 3}, 0, 1, 7), rand_normal({4, 3, 3, 3}, 0, 0.5f, 8)}));
}

TEST_P(ConvGrad, Conv3x3Stride2OddInput) {
  EXPECT_TRUE(test::grad_check(
      [](const Inputs& in) {
        return weighted_sum(conv2d(in[0], in[1], {2, 1}), 9);
      },
      {rand_normal({2, 7, 7, 2}, 0, 1, 10), rand_normal({3, 2, 3, 3}, 0, 0.5f, 11)}));
}

TEST_P(ConvGrad, Conv7x7Stride2Pad3Stem) {
  EXPECT_TRUE(test::grad_check(
      [](const Inputs& in) {
        return weighted_sum(conv2d(in[0], in[1], {2, 3}), 12);
      },
      {rand_normal({1, 9, 9, 3}, 0, 1, 13), rand_normal({2, 3, 7, 7}, 0, 0.3f, 14)}));
}

TEST_P(ConvGrad, Conv1x1Stride2Downsample) {
  EXPECT_TRUE(test::grad_check(
      [](const Inputs& in) {
        return weighted_sum(conv2d(in[0], in[1], {2, 0}), 15);
      },
      {rand_normal({2, 4, 4, 3}, 0, 1, 16), rand_normal({5, 3, 1, 1}, 0, 0.5f, 17)}));
}

INSTANTIATE_TEST_SUITE_P(CpuConv, ConvGrad, ::testing::Values(CpuConvPath::Reference, CpuConvPath::OneDnn),
                         [](const auto& info) {
                           return info.param == CpuConvPath::Reference ? "im2col" : "onednn";
                         });

TEST(GradCheck, BatchNormTrain) {
  Tensor rm = Tensor::zeros({3}), rv = Tensor::full({3}, 1.0);
  EXPECT_TRUE(test::grad_check(
      [&](const Inputs& in) {
        return weighted_sum(batch_norm(in[0], in[1], in[2], rm, rv, {true, 0.1f, 1e-5f}), 18);
      },
      {rand_normal({2, 3, 2, 3}, 0.5f, 2, 19), rand_normal({3}, 1, 0.2f, 20),
       rand_normal({3}, 0, 0.2f, 21)}));
}

TEST(GradCheck, BatchNormEval) {
  Tensor rm = rand_normal({4}, 0, 1, 22), rv = rand_uniform({4}, 0.5f, 2.f, 23);
  EXPECT_TRUE(test::grad_check(
      [&](const Inputs& in) {
        return weighted_sum(batch_norm(in[0], in[1], in[2], rm, rv, {false, 0.1f, 1e-5f}), 24);
      },
      {rand_normal({3, 4}, 0, 1, 25), rand_normal({4}, 1, 0.2f, 26), rand_normal({4}, 0, 0.2f, 27)}));
}

// Max-pool's gradient jumps where two window values tie; values spaced 0.05 apart (a shuffled ramp) keep
// every comparison 2.5 eps away from a tie, so finite differences are exact there.
TEST(GradCheck, MaxPool3x3Stride2Pad1) {
  const int64_t n = 2 * 5 * 6 * 3;
  const Tensor keys = rand_uniform({n}, 0.f, 1.f, 29);
  std::vector<int64_t> order(n);
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](int64_t a, int64_t b) { return keys.data<float>()[a] < keys.data<float>()[b]; });
  std::vector<float> v(n);
  for (int64_t i = 0; i < n; ++i) v[order[i]] = 0.05f * static_cast<float>(i) - 4.f;
  EXPECT_TRUE(test::grad_check(
      [](const Inputs& in) {
        return weighted_sum(max_pool2d(in[0], {3, 2, 1}), 28);
      },
      {Tensor::from_vector(v, {2, 5, 6, 3})}));
}

TEST(GradCheck, GlobalAvgPoolAndFlatten) {
  EXPECT_TRUE(
      test::grad_check([](const Inputs& in) { return weighted_sum(flatten(global_avg_pool(in[0])), 30); },
                       {rand_normal({2, 3, 3, 4}, 0, 1, 31)}));
}

TEST(GradCheck, LinearWithBias) {
  EXPECT_TRUE(test::grad_check(
      [](const Inputs& in) { return weighted_sum(linear(in[0], in[1], in[2]), 32); },
      {rand_normal({3, 5}, 0, 1, 33), rand_normal({4, 5}, 0, 1, 34), rand_normal({4}, 0, 1, 35)}));
}

TEST(GradCheck, DropoutKeepsItsMask) {
  EXPECT_TRUE(
      test::grad_check([](const Inputs& in) { return weighted_sum(dropout(in[0], 0.4f, true, 7, 100), 36); },
                       {rand_normal({4, 8}, 0, 1, 37)}));
}

TEST(GradCheck, SoftmaxAndLogSoftmax) {
  EXPECT_TRUE(test::grad_check([](const Inputs& in) { return weighted_sum(softmax(in[0]), 38); },
                               {rand_normal({3, 6}, 0, 2, 39)}));
  EXPECT_TRUE(test::grad_check([](const Inputs& in) { return weighted_sum(log_softmax(in[0]), 40); },
                               {rand_normal({3, 6}, 0, 2, 41)}));
}

TEST(GradCheck, NllLossOnLogSoftmax) {
  const Tensor y = Tensor::from_vector(std::vector<int64_t>{2, 0, 5}, {3});
  EXPECT_TRUE(test::grad_check([&](const Inputs& in) { return nll_loss(log_softmax(in[0]), y); },
                               {rand_normal({3, 6}, 0, 2, 42)}));
}

TEST(Dropout, MaskRateScaleAndEvalIdentity) {
  const Tensor x = Tensor::full({100000}, 1.0);
  const std::vector<float> y = dropout(x, 0.4f, true, 3, 0).to_vector();
  int64_t kept = 0;
  for (float v : y) {
    ASSERT_TRUE(v == 0.f || std::fabs(v - 1.f / 0.6f) < 1e-6f);
    kept += v != 0.f;
  }
  EXPECT_NEAR(kept / 100000.0, 0.6, 0.01);  // 6.5 sigma of the binomial
  EXPECT_TRUE(dropout(x, 0.4f, false, 3, 0).same(x));
  // Same (seed, offset) -> same mask; another offset -> another mask.
  EXPECT_EQ(dropout(x, 0.4f, true, 3, 0).to_vector(), y);
  EXPECT_NE(dropout(x, 0.4f, true, 3, 100000).to_vector(), y);
}

}  // namespace
}  // namespace biascka
