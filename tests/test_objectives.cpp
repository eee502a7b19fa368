// The six fused objectives: loss and dL/dlogits against PyTorch (float64 reference on logits_train), against
// central finite differences of their own loss, and stable for extreme logits.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/io/safetensors.h"
#include "engine/ops/softmax.h"
#include "engine/random.h"
#include "losses/objectives.h"
#include "tests/support/test_support.h"

namespace biascka {
namespace {

using losses::loss_and_grad;
using losses::objective;
using losses::ObjectiveParams;

TEST(Objectives, RegistryHasTheSixInTableOrder) {
  const auto& all = losses::objectives();
  ASSERT_EQ(all.size(), 6u);
  const char* names[] = {"sce", "bce", "nll", "l1", "l2", "sos"};
  for (size_t i = 0; i < 6; ++i) EXPECT_STREQ(all[i].name, names[i]);
  EXPECT_TRUE(objective("nll").log_softmax_head);
  EXPECT_FALSE(objective("sce").log_softmax_head);
  EXPECT_THROW(objective("focal"), Error);
  EXPECT_EQ(losses::parse_objectives("all").size(), 6u);
  EXPECT_EQ(losses::parse_objectives("sce,l2").size(), 2u);
}

// Reference: loss.<name> and dlogits.<name> from PyTorch in float64 on the stored float32 logits.
// Our arithmetic is double per row with float32 storage of the gradient: 1e-6 relative + 1e-7 absolute.
TEST(Objectives, MatchPyTorchReference) {
  BIASCKA_REQUIRE_REFERENCE(path, "resnet18_c10_28px.case.safetensors");
  const TensorFile ref = read_safetensors(path);
  const Tensor z = ref.at("logits_train"), y = ref.at("y");
  struct Case {
    const char* key;
    const char* name;
    ObjectiveParams params;
  };
  for (const Case& c : {Case{"sce", "sce", {}}, Case{"bce", "bce", {}}, Case{"l1", "l1", {}},
                        Case{"l2", "l2", {}}, Case{"sos", "sos", {}}, Case{"sos_a2_b5", "sos", {2.f, 5.f}}}) {
    const auto r = loss_and_grad(objective(c.name), z, y, c.params);
    EXPECT_NEAR(r.loss.item(), ref.at(std::string("loss.") + c.key).item(),
                1e-6 * (1 + std::fabs(r.loss.item())))
        << c.key;
    EXPECT_TRUE(test::all_close(r.grad, ref.at(std::string("dlogits.") + c.key), 1e-7, 1e-5)) << c.key;
  }
  // nll reads the network's log-softmax output; its gradient reaches the logits through that layer.
  Tensor zz = z.clone().set_requires_grad(true);
  Tensor o = log_softmax(zz);
  const auto r = loss_and_grad(objective("nll"), o.detach(), y);
  EXPECT_NEAR(r.loss.item(), ref.at("loss.nll").item(), 1e-6);
  o.backward(r.grad);
  EXPECT_TRUE(test::all_close(zz.grad(), ref.at("dlogits.nll"), 1e-7, 1e-5));
}

// The fused gradient is the derivative of the fused loss: central differences in float64 of the mean loss.
TEST(Objectives, GradientsMatchFiniteDifferences) {
  const int64_t B = 5, C = 7;
  const Tensor z = rand_normal({B, C}, 0.f, 2.f, 11);
  const Tensor y = rand_int({B}, C, 12);
  for (const auto& obj : losses::objectives()) {
    const ObjectiveParams params{1.5f, 0.5f};
    const Tensor input = obj.log_softmax_head ? log_softmax(z) : z;
    const auto r = loss_and_grad(obj, input, y, params);
    const std::vector<float> g = r.grad.to_vector();
    for (int64_t i = 0; i < B * C; ++i) {
      Tensor plus = input.clone(), minus = input.clone();
      const double eps = 1e-3;
      plus.data<float>()[i] += static_cast<float>(eps);
      minus.data<float>()[i] -= static_cast<float>(eps);
      const double numeric = (loss_and_grad(obj, plus, y, params).loss.item() -
                              loss_and_grad(obj, minus, y, params).loss.item()) /
                             (2 * eps);
      EXPECT_NEAR(g[i], numeric, 2e-4 + 1e-3 * std::fabs(numeric)) << obj.name << " element " << i;
    }
  }
}

TEST(Objectives, StableForExtremeLogits) {
  const Tensor z = Tensor::from_vector(std::vector<float>{1e4f, -1e4f, 0.f, -3e4f, 3e4f, 5.f}, {2, 3});
  const Tensor y = Tensor::from_vector(std::vector<int64_t>{1, 0}, {2});
  for (const auto& obj : losses::objectives()) {
    const Tensor input = obj.log_softmax_head ? log_softmax(z) : z;
    const auto r = loss_and_grad(obj, input, y);
    EXPECT_TRUE(std::isfinite(r.loss.item())) << obj.name;
    for (float v : r.grad.to_vector()) EXPECT_TRUE(std::isfinite(v)) << obj.name;
  }
  // sce with a confident wrong answer: loss = 2e4 (the margin), gradient bounded by 1/B.
  const auto r = loss_and_grad(objective("sce"), z, y);
  EXPECT_NEAR(r.loss.item(), (2e4 + 6e4) / 2, 1e-3);
}

TEST(Objectives, RejectsBadTargets) {
  const Tensor z = Tensor::zeros({2, 3});
  EXPECT_THROW(loss_and_grad(objective("sce"), z, Tensor::from_vector(std::vector<int64_t>{0, 3}, {2})),
               Error);
  EXPECT_THROW(loss_and_grad(objective("sce"), z, Tensor::from_vector(std::vector<int64_t>{0}, {1})), Error);
}

}  // namespace
}  // namespace biascka
