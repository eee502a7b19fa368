// Model-mode CKA (workflows/cka_model): a split streamed through randomly initialised ResNet18s in evaluation
// mode, against the same activations captured by hand; the cross-model matrix, full-data mode, layer
// selection errors, and the model's mode restored afterwards.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "cka/accumulator.h"
#include "cka/full.h"
#include "data/disent.h"
#include "data/image_io.h"
#include "data/loader.h"
#include "engine/autograd.h"
#include "engine/error.h"
#include "tests/support/cka_fixtures.h"
#include "tests/support/test_support.h"
#include "workflows/cka_model.h"

namespace biascka {
namespace {

data::LoaderOptions loader_options(const std::string& dir, int64_t batch) {
  data::LoaderOptions lo;
  lo.batch = batch;
  lo.workers = 1;
  lo.norm = data::normalization_for(dir);
  return lo;
}

// The reference: every batch forwarded by hand, taps collected, accumulated.
Tensor by_hand(ResNet18& a, ResNet18* b, data::Loader& loader, const std::vector<std::string>& la,
               const std::vector<std::string>& lb) {
  NoGrad ng;
  a.eval();
  if (b) b->eval();
  cka::MinibatchCka acc(la, lb);
  auto grab = [](ResNet18& m, const Tensor& x, const std::vector<std::string>& names) {
    std::vector<Tensor> out(names.size());
    m.forward(x, [&](const std::string& n, const Tensor& t) {
      for (size_t i = 0; i < names.size(); ++i)
        if (names[i] == n) out[i] = t;
    });
    return out;
  };
  loader.start_epoch(0);
  data::Batch batch;
  while (loader.next(batch)) {
    const std::vector<Tensor> xa = grab(a, batch.images, la);
    const std::vector<Tensor> xb = b ? grab(*b, batch.images, lb) : std::vector<Tensor>{};
    acc.add_batch(xa, b ? &xb : nullptr);
  }
  return acc.result().matrix;
}

TEST(CkaModel, StreamsTheSplitThroughOneOrTwoModels) {
  const std::string dir = test::cka_image_split("cka_model");
  ResNet18 a(ResNet18Config{}, 1), b(ResNet18Config{}, 2);
  data::Loader loader(data::scan_split(dir), loader_options(dir, 8));  // 8, 8, 4
  a.train(true);
  workflows::CkaModelOptions o;
  o.progress = workflows::ProgressMode::Quiet;
  const cka::CkaReport r = workflows::cka_of_models(a, nullptr, loader, o);
  EXPECT_TRUE(a.training()) << "the model's mode is restored";
  ASSERT_EQ(r.matrix.shape(), (Shape{69, 69}));
  EXPECT_EQ(r.batches, 3);
  EXPECT_EQ(r.samples, 20);
  EXPECT_EQ(r.layers, a.layer_names());
  EXPECT_TRUE(r.warnings.empty());
  const Tensor want = by_hand(a, nullptr, loader, a.layer_names(), {});
  for (int64_t i = 0; i < 69 * 69; ++i) EXPECT_EQ(r.matrix.data<double>()[i], want.data<double>()[i]) << i;
  for (int64_t i = 0; i < 69; ++i) EXPECT_EQ(r.matrix.data<double>()[i * 70], 1.0);
  // Eval mode: dropout is the identity, so its CKA with avgpool is 1.
  const auto idx = [&](const std::string& n) {
    return std::find(r.layers.begin(), r.layers.end(), n) - r.layers.begin();
  };
  EXPECT_NEAR(r.matrix.data<double>()[idx("avgpool") * 69 + idx("dropout")], 1.0, 1e-9);

  o.layers = "layer4\\..*";
  const cka::CkaReport c = workflows::cka_of_models(a, &b, loader, o);
  const std::vector<std::string> l4 = select_layers(a.layer_names(), o.layers);
  ASSERT_EQ(c.matrix.shape(), (Shape{static_cast<int64_t>(l4.size()), static_cast<int64_t>(l4.size())}));
  EXPECT_TRUE(c.cross_model);
  const Tensor want_c = by_hand(a, &b, loader, l4, l4);
  for (int64_t i = 0; i < want_c.numel(); ++i)
    EXPECT_EQ(c.matrix.data<double>()[i], want_c.data<double>()[i]);
}

TEST(CkaModel, FullDataAndLayerErrors) {
  const std::string dir = test::cka_image_split("cka_model_full");
  ResNet18 a(ResNet18Config{}, 3);
  data::Loader loader(data::scan_split(dir), loader_options(dir, 8));
  workflows::CkaModelOptions o;
  o.progress = workflows::ProgressMode::Quiet;
  o.layers = "modules";
  o.full = true;
  o.cka.estimator = cka::Estimator::Biased;
  const cka::CkaReport r = workflows::cka_of_models(a, nullptr, loader, o);
  EXPECT_EQ(r.layers.size(), 53u);
  EXPECT_EQ(r.batches, 1);
  EXPECT_EQ(r.samples, 20);
  EXPECT_TRUE(r.full);
  // The same as one batch of all 20 images.
  data::Loader all(data::scan_split(dir), loader_options(dir, 20));
  const Tensor want = [&] {
    NoGrad ng;
    a.eval();
    cka::MinibatchCka acc(r.layers, {}, o.cka);
    all.start_epoch(0);
    data::Batch b;
    while (all.next(b)) {
      std::vector<Tensor> xs(r.layers.size());
      a.forward(b.images, [&](const std::string& n, const Tensor& t) {
        for (size_t i = 0; i < r.layers.size(); ++i)
          if (r.layers[i] == n) xs[i] = t;
      });
      acc.add_batch(xs);
    }
    return acc.result().matrix;
  }();
  for (int64_t i = 0; i < want.numel(); ++i)
    EXPECT_NEAR(r.matrix.data<double>()[i], want.data<double>()[i], 1e-5);

  o.full = false;
  o.layers = "layer9\\..*";
  try {
    workflows::cka_of_models(a, nullptr, loader, o);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("layer4.1.relu2"), std::string::npos)
        << "lists the valid names: " << e.what();
  }
  data::Loader small(data::scan_split(dir), loader_options(dir, 3));
  o.layers = "all";
  o.cka.estimator = cka::Estimator::Unbiased;
  EXPECT_THROW(workflows::cka_of_models(a, nullptr, small, o), Error);
}

}  // namespace
}  // namespace biascka
