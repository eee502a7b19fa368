// ResNet18's structure: torchvision's names and order, the 69 layer taps and the 53-layer `modules` view,
// initialisation statistics, output shapes, and one-line errors for checkpoints that do not fit.
#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/io/safetensors.h"
#include "engine/random.h"
#include "models/resnet18.h"
#include "tests/support/test_support.h"

namespace biascka {
namespace {

TEST(ResNet18Model, LayerTapsAndPresets) {
  ResNet18 m({}, 0);
  const auto names = m.layer_names();
  ASSERT_EQ(names.size(), 69u);
  EXPECT_EQ(names.front(), "conv1");
  EXPECT_EQ(names[3], "maxpool");
  EXPECT_EQ(names.back(), "fc");
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()).size(), 69u);
  EXPECT_EQ(select_layers(names, "modules").size(), 53u);
  EXPECT_EQ(select_layers(names, "all").size(), 69u);
  EXPECT_EQ(select_layers(names, "layer4\\..*").size(), 16u);
  EXPECT_THROW(select_layers(names, "nosuchlayer"), Error);
  EXPECT_THROW(select_layers(names, "(unclosed"), Error);

  // The forward pass calls the taps exactly in layer_names() order.
  std::vector<std::string> seen;
  NoGrad ng;
  m.eval();
  const Tensor logits = m.forward(rand_normal({2, 28, 28, 3}, 0, 1, 1),
                                  [&](const std::string& n, const Tensor&) { seen.push_back(n); });
  EXPECT_EQ(seen, names);
  EXPECT_EQ(logits.shape(), (Shape{2, 10}));

  ResNet18Config nll;
  nll.log_softmax_head = true;
  nll.cifar_stem = true;
  ResNet18 m2(nll, 0);
  EXPECT_EQ(m2.layer_names().size(), 69u);  // no max-pool, one log_softmax
  EXPECT_EQ(m2.layer_names().back(), "log_softmax");
}

TEST(ResNet18Model, StateDictMatchesTorchvisionNamesAndOrder) {
  BIASCKA_REQUIRE_REFERENCE(path, "resnet18_c10_28px.weights.safetensors");
  const TensorFile ref = read_safetensors(path);
  ResNet18 m({}, 0);
  const NamedTensors sd = m.state_dict();
  EXPECT_EQ(sd.size(), ref.tensors.size());
  std::set<std::string> ours;
  for (const auto& [n, t] : sd) {
    ours.insert(n);
    ASSERT_TRUE(ref.contains(n)) << n;
    if (n.ends_with("num_batches_tracked"))
      EXPECT_EQ(t.numel(), 1);  // [] in torchvision; the file has [1]
    else
      EXPECT_EQ(t.shape(), ref.at(n).shape()) << n;
    EXPECT_EQ(t.dtype(), ref.at(n).dtype()) << n;
  }
  EXPECT_EQ(m.named_parameters().size(), 62u);
  EXPECT_TRUE(ours.count("layer2.0.downsample.1.num_batches_tracked"));
}

TEST(ResNet18Model, TorchvisionInitialisation) {
  ResNet18 m({}, 7);
  for (const auto& [name, t] : m.named_parameters()) {
    const std::vector<float> v = t.to_vector();
    double s = 0, s2 = 0, mx = 0;
    for (float x : v) s += x, s2 += double(x) * x, mx = std::max(mx, double(std::fabs(x)));
    const double mean = s / v.size(), sd = std::sqrt(s2 / v.size() - mean * mean);
    if (t.dim() == 4) {  // kaiming_normal_(fan_out, relu): std sqrt(2 / (O kH kW))
      const double want = std::sqrt(2.0 / (t.size(0) * t.size(2) * t.size(3)));
      EXPECT_NEAR(sd, want, want * (v.size() > 5000 ? 0.05 : 0.15)) << name;
    } else if (name == "fc.weight" || name == "fc.bias") {  // U(+-1/sqrt(512))
      EXPECT_LE(mx, 1.0 / std::sqrt(512.0)) << name;
    } else if (name.ends_with("bn1.weight") || name.ends_with("bn2.weight") ||
               name.ends_with("downsample.1.weight")) {
      EXPECT_EQ(mean, 1.0) << name;
    }
  }
  // Same seed, same weights; another seed, other weights.
  EXPECT_EQ(ResNet18({}, 7).named_parameters()[0].second.to_vector(),
            m.named_parameters()[0].second.to_vector());
  EXPECT_NE(ResNet18({}, 8).named_parameters()[0].second.to_vector(),
            m.named_parameters()[0].second.to_vector());
}

TEST(ResNet18Model, CheckpointsThatDoNotFitAreOneLineErrors) {
  const std::string dir = test::temp_dir("resnet_load");
  ResNet18 m({}, 0);
  NamedTensors sd = m.state_dict();
  write_safetensors(dir + "/good.safetensors", sd);
  ResNet18 m2({}, 1);
  m2.load_state_dict(read_safetensors(dir + "/good.safetensors"));
  EXPECT_EQ(m2.named_parameters()[5].second.to_vector(), m.named_parameters()[5].second.to_vector());

  auto expect_error = [&](NamedTensors tensors, const std::string& fragment) {
    const std::string path = dir + "/bad.safetensors";
    write_safetensors(path, tensors);
    try {
      ResNet18({}, 0).load_state_dict(read_safetensors(path));
      ADD_FAILURE() << "loaded a bad checkpoint (" << fragment << ")";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
  };
  NamedTensors missing(sd.begin() + 1, sd.end());
  expect_error(missing, "conv1.weight");
  NamedTensors wrong_shape = sd;
  for (auto& [n, t] : wrong_shape)
    if (n == "fc.weight") t = Tensor::zeros({100, 512});
  expect_error(wrong_shape, "fc.weight' has shape [100, 512]");
  NamedTensors wrong_dtype = sd;
  for (auto& [n, t] : wrong_dtype)
    if (n == "bn1.running_var") t = t.to_dtype(DType::F64);
  expect_error(wrong_dtype, "bn1.running_var' is F64");
}

}  // namespace
}  // namespace biascka
