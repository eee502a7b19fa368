// ResNet18 against PyTorch (../shared/reference/resnet18_c10_28px.*): torchvision's weights, a batch of 4
// 28x28 images, logits in eval and train mode, BN running statistics after the train forward, parameter
// gradients of the cross-entropy loss, parameters after one Adam step. The reference was computed in
// float64; we compute in float32.
//
// Tolerances. Logits: float32 accumulation over ~10^4-term dot products through 20 layers gives relative
// errors of a few 1e-6 of the activations' scale; logits are O(1-10), so atol 2e-4 + rtol 1e-4 leaves a
// 20x margin while any wrong op (a misplaced pad, a wrong BN variance) moves them by >1e-2. Gradients: the
// train-mode backward through BN with batch 4 amplifies float32 rounding (1/sigma with only 4 values per
// channel in layer4), so we compare with atol 1e-4 relative to each tensor's max magnitude + rtol 2e-3.
// Adam: the first step moves each weight by ~lr * sign(g) = 1e-3, so parameters after the step must match
// to 1e-6 absolute (0.1% of the step); elements whose gradient is ~0 (|g| < 1e-6, where sign flips
// through rounding) are excluded.
#include <algorithm>
#include <cmath>
#include <string>

#include "engine/adam.h"
#include "engine/autograd.h"
#include "engine/io/safetensors.h"
#include "engine/ops/conv2d.h"
#include "engine/ops/layout.h"
#include "engine/ops/softmax.h"
#include "models/resnet18.h"
#include "tests/support/test_support.h"

namespace biascka {
namespace {

struct Reference {
  TensorFile weights, cas;
};

ResNet18 load_model(const Reference& r, Device dev = Device::cpu()) {
  ResNet18Config cfg;
  cfg.num_classes = 10;
  cfg.dropout = 0.f;  // the reference model has no dropout
  ResNet18 m(cfg, 0);
  m.load_state_dict(r.weights);
  m.to(dev);
  return m;
}

double max_abs(const Tensor& t) {
  double m = 0;
  for (float v : t.to_vector()) m = std::max(m, double(std::fabs(v)));
  return m;
}

class ResNet18Reference : public ::testing::TestWithParam<CpuConvPath> {
 protected:
  void SetUp() override {
    const std::string w = test::reference_path("resnet18_c10_28px.weights.safetensors");
    const std::string c = test::reference_path("resnet18_c10_28px.case.safetensors");
    if (w.empty() || c.empty()) GTEST_SKIP() << "reference files not found under " << BIASCKA_REFERENCE_DIR;
    if (GetParam() == CpuConvPath::OneDnn && !onednn_available()) GTEST_SKIP() << "no oneDNN in this build";
    set_cpu_conv_path(GetParam());
    ref_.weights = read_safetensors(w);
    ref_.cas = read_safetensors(c);
    x_ = nchw_to_nhwc(ref_.cas.at("x"));
  }
  void TearDown() override { set_cpu_conv_path(CpuConvPath::Auto); }
  Reference ref_;
  Tensor x_;
};

TEST_P(ResNet18Reference, EvalLogitsAndStages) {
  ResNet18 m = load_model(ref_);
  m.eval();
  NoGrad ng;
  Tensor layer1, layer4, avgpool;
  Tensor logits = m.forward(x_, [&](const std::string& n, const Tensor& t) {
    if (n == "layer1.1.relu2") layer1 = nhwc_to_nchw(t);
    if (n == "layer4.1.relu2") layer4 = nhwc_to_nchw(t);
    if (n == "avgpool") avgpool = t;
  });
  EXPECT_TRUE(test::all_close(logits, ref_.cas.at("logits_eval"), 2e-4, 1e-4));
  EXPECT_TRUE(test::all_close(layer1, ref_.cas.at("act_eval.layer1"), 1e-4, 1e-4));
  EXPECT_TRUE(test::all_close(layer4, ref_.cas.at("act_eval.layer4"), 2e-4, 1e-4));
  EXPECT_TRUE(test::all_close(avgpool, ref_.cas.at("act_eval.avgpool"), 2e-4, 1e-4));
}

TEST_P(ResNet18Reference, TrainLogitsRunningStatsGradients) {
  ResNet18 m = load_model(ref_);
  m.train();
  Tensor logits = m.forward(x_);
  EXPECT_TRUE(test::all_close(logits, ref_.cas.at("logits_train"), 2e-4, 1e-4));

  const NamedTensors buffers = m.named_buffers();
  auto buffer = [&](const std::string& name) {
    for (const auto& [n, t] : buffers)
      if (n == name) return t;
    return Tensor();
  };
  for (const char* bn : {"bn1", "layer4.1.bn2"}) {
    for (const char* stat : {"running_mean", "running_var"}) {
      const std::string name = std::string(bn) + "." + stat;
      EXPECT_TRUE(test::all_close(buffer(name), ref_.cas.at("running_after_train_fwd." + name), 1e-5, 1e-4))
          << name;
    }
    const std::string nbt = std::string(bn) + ".num_batches_tracked";
    EXPECT_EQ(buffer(nbt).item(), ref_.weights.at(nbt).item() + 1.0);
  }

  // Cross-entropy composed from the differentiable ops (the fused objectives are tested on their own).
  Tensor loss = nll_loss(log_softmax(logits), ref_.cas.at("y"));
  EXPECT_NEAR(loss.item(), ref_.cas.at("loss.sce").item(), 1e-5);
  loss.backward();
  const NamedTensors params = m.named_parameters();
  for (const auto& [name, p] : params) {
    if (!ref_.cas.contains("grad." + name)) continue;
    const Tensor& want = ref_.cas.at("grad." + name);
    EXPECT_TRUE(test::all_close(p.grad(), want, 1e-4 * max_abs(want) + 1e-7, 2e-3)) << "grad." << name;
  }
}

// One Adam step from the reference gradients (so that this checks Adam's semantics, not the gradients
// again): the parameters the reference lists must match to 1e-6 (0.1% of the ~1e-3 first step).
TEST_P(ResNet18Reference, AdamStepFromReferenceGradients) {
  ResNet18 m = load_model(ref_);
  NamedTensors params;
  for (auto& [name, p] : m.named_parameters()) {
    if (!ref_.cas.contains("adam1." + name)) continue;
    p.set_grad(ref_.cas.at("grad." + name).clone());
    params.emplace_back(name, p);
  }
  ASSERT_EQ(params.size(), 4u);
  Adam opt(params, AdamOptions{});  // lr 1e-3, weight decay 1e-5, betas (0.9, 0.999), eps 1e-8
  opt.step();
  for (const auto& [name, p] : params)
    EXPECT_TRUE(test::all_close(p, ref_.cas.at("adam1." + name), 1e-6, 0)) << "adam1." << name;
}

INSTANTIATE_TEST_SUITE_P(CpuConv, ResNet18Reference,
                         ::testing::Values(CpuConvPath::Reference, CpuConvPath::OneDnn),
                         [](const auto& info) {
                           return info.param == CpuConvPath::Reference ? "im2col" : "onednn";
                         });

}  // namespace
}  // namespace biascka
