// `compare` (cka/compare.h, workflows/compare_models.h): many models in one stacked pass against the separate
// computations it replaces. Each model's own matrix, probes and bootstrap intervals against `cka_of_models`
// on that model alone; each cross-model block against `cka_of_models(a, &b)`; a model with an identical copy
// of itself; different seeds below 1; a small Gram budget (layer groups, models run again) giving the same
// matrix; the group and stage averages by hand.
//
// Tolerance 1e-12 on CKA values: a block of the stacked matrix holds the same float64 sums as the separate
// run, but BLAS sums a batch's Gram entries (~10^2 here) in an order that depends on the matrix sizes, and a
// cross block's self terms come from the product's diagonal rather than row dots: differences are float64
// rounding (measured ~3e-15), far below 1e-12, and a real mistake (a wrong block, batch or scale) moves CKA
// by more than 1e-3.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cka/compare.h"
#include "data/disent.h"
#include "data/loader.h"
#include "engine/error.h"
#include "models/resnet18.h"
#include "tests/support/cka_fixtures.h"
#include "tests/support/test_support.h"
#include "workflows/cka_model.h"
#include "workflows/compare_models.h"

namespace biascka {
namespace {

constexpr double kTol = 1e-12;
const double kNan = std::numeric_limits<double>::quiet_NaN();

data::Loader split_loader(const std::string& name, int64_t batch) {
  const std::string dir = test::cka_image_split(name);  // 20 images
  data::LoaderOptions lo;
  lo.batch = batch;
  lo.workers = 1;
  lo.norm = data::normalization_for(dir);
  return data::Loader(data::scan_split(dir), lo);
}

// tol 0: bit for bit (NaN where NaN).
void expect_near(const Tensor& got, const Tensor& want, const std::string& what, double tol = kTol) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  for (int64_t i = 0; i < got.numel(); ++i) {
    const double g = got.data<double>()[i], w = want.data<double>()[i];
    if (std::isnan(w))
      EXPECT_TRUE(std::isnan(g)) << what << " at " << i;
    else if (tol == 0)
      EXPECT_EQ(g, w) << what << " at " << i;
    else
      EXPECT_NEAR(g, w, tol) << what << " at " << i;
  }
}

workflows::CompareOptions quiet_options() {
  workflows::CompareOptions o;
  o.progress = workflows::ProgressMode::Quiet;
  return o;
}

TEST(Compare, OwnAndCrossBlocksAreTheSeparateRuns) {
  data::Loader loader = split_loader("compare_blocks", 8);  // 8, 8, 4
  ResNet18 m0({}, 1), m1({}, 2), m2({}, 3);
  std::vector<workflows::ComparedModel> models = {{"a", "x", "a.safetensors", &m0, 7},
                                                  {"b", "x", "b.safetensors", &m1, 8},
                                                  {"c", "y", "c.safetensors", &m2, 9}};
  workflows::CompareOptions o = quiet_options();
  o.probes = {"target", "bias"};
  o.cka.bootstrap = 200;
  const workflows::CompareResult r = workflows::compare_models(models, loader, o);
  ASSERT_EQ(r.own.size(), 3u);
  EXPECT_EQ(r.layers, m0.layer_names());
  EXPECT_EQ(r.forward_passes, 3 * 3) << "each model runs once per batch when the Grams fit";
  EXPECT_EQ(r.stacked.layers.size(), 3 * (69u + 2)) << "each model's block: its layers and the probes";
  ResNet18* all[] = {&m0, &m1, &m2};
  for (size_t m = 0; m < 3; ++m) {
    workflows::CkaModelOptions co;
    co.progress = workflows::ProgressMode::Quiet;
    co.probes = o.probes;
    co.cka.bootstrap = 200;
    co.cka.bootstrap_seed = models[m].bootstrap_seed;
    const cka::CkaReport want = workflows::cka_of_models(*all[m], nullptr, loader, co);
    const cka::CkaReport& got = r.own[m];
    const std::string what = "model " + models[m].name;
    EXPECT_EQ(got.layers, want.layers);
    EXPECT_EQ(got.batches, want.batches);
    EXPECT_EQ(got.samples, want.samples);
    expect_near(got.matrix, want.matrix, what + " matrix", 0);
    ASSERT_TRUE(got.ci_low.defined()) << what;
    expect_near(got.ci_low, want.ci_low, what + " ci_low", 0);
    expect_near(got.ci_high, want.ci_high, what + " ci_high", 0);
    EXPECT_EQ(got.probes.probes, want.probes.probes);
    expect_near(got.probes.value, want.probes.value, what + " probes", 0);
    expect_near(got.probes.ci_low, want.probes.ci_low, what + " probe ci_low", 0);
  }
  // The N (N-1) / 2 cross-model runs it replaces.
  for (size_t a = 0; a < 3; ++a)
    for (size_t b = a + 1; b < 3; ++b) {
      workflows::CkaModelOptions co;
      co.progress = workflows::ProgressMode::Quiet;
      const cka::CkaReport want = workflows::cka_of_models(*all[a], all[b], loader, co);
      const cka::CkaReport got = workflows::pair_report(r, a, b);
      EXPECT_TRUE(got.cross_model);
      expect_near(got.matrix, want.matrix, "pair " + std::to_string(a) + std::to_string(b));
      // The per-layer model x model matrix is the pair matrix's diagonal.
      for (int64_t l = 0; l < 69; ++l)
        EXPECT_EQ(
            r.layer_models.data<double>()[(l * 3 + static_cast<int64_t>(a)) * 3 + static_cast<int64_t>(b)],
            got.matrix.data<double>()[l * 69 + l]);
    }
}

TEST(Compare, AModelWithItselfIsOneAndSeedsAreBelowOne) {
  data::Loader loader = split_loader("compare_itself", 10);
  ResNet18 a({}, 5), copy({}, 5), other({}, 6);
  std::vector<workflows::ComparedModel> models = {
      {"a", "same", "", &a, 0}, {"copy", "same", "", &copy, 0}, {"other", "seeds", "", &other, 0}};
  const workflows::CompareResult r = workflows::compare_models(models, loader, quiet_options());
  const int64_t layers = 69;
  const double* lm = r.layer_models.data<double>();
  for (int64_t l = 0; l < layers; ++l) {
    for (int64_t m = 0; m < 3; ++m) EXPECT_EQ(lm[(l * 3 + m) * 3 + m], 1.0) << "layer " << l;
    EXPECT_NEAR(lm[(l * 3 + 0) * 3 + 1], 1.0, kTol) << "a model and its copy, layer " << l;
    EXPECT_LT(lm[(l * 3 + 0) * 3 + 2], 1.0 - 1e-6) << "different seeds, layer " << l;
  }
  // Groups: "same" (a, copy) has a floor of 1; "seeds" has one model (NaN diagonal).
  ASSERT_EQ(r.groups.groups, (std::vector<std::string>{"same", "seeds"}));
  for (int64_t l = 0; l < layers; ++l) {
    EXPECT_NEAR(r.groups.mean.data<double>()[l * 4 + 0], 1.0, kTol);
    EXPECT_TRUE(std::isnan(r.groups.mean.data<double>()[l * 4 + 3]));
    EXPECT_NEAR(r.groups.floor.data<double>()[l], 1.0, kTol);
  }

  // Two seeds in one group: a noise floor below 1 on every layer.
  std::vector<workflows::ComparedModel> seeds = {{"s5", "sce", "", &a, 0}, {"s6", "sce", "", &other, 0}};
  const workflows::CompareResult s = workflows::compare_models(seeds, loader, quiet_options());
  for (int64_t l = 0; l < layers; ++l) {
    EXPECT_LT(s.groups.floor.data<double>()[l], 1.0 - 1e-6) << "layer " << l;
    EXPECT_GT(s.groups.floor.data<double>()[l], 0.0) << "layer " << l;
    EXPECT_TRUE(std::isnan(s.groups.between.data<double>()[l])) << "one group: nothing between groups";
  }
}

TEST(Compare, ASmallGramBudgetRunsModelsAgainWithTheSameResult) {
  data::Loader loader = split_loader("compare_budget", 10);  // 2 batches
  ResNet18 a({}, 1), b({}, 2), c({}, 3);
  std::vector<workflows::ComparedModel> models = {
      {"a", "", "", &a, 0}, {"b", "", "", &b, 0}, {"c", "", "", &c, 0}};
  workflows::CompareOptions o = quiet_options();
  o.layers = "layer4\\..*";
  const workflows::CompareResult all = workflows::compare_models(models, loader, o);
  // 3 packed rows of a batch of 10 (45 entries): groups of one model's block (at least one whole block).
  o.cka.gram_memory = 3 * 45 * sizeof(double);
  const workflows::CompareResult grouped = workflows::compare_models(models, loader, o);
  EXPECT_EQ(all.forward_passes, 3 * 2);
  // Per batch: group a against b and c (a, b, c run), group b against c (b, c run again), group c (cached).
  EXPECT_EQ(grouped.forward_passes, 5 * 2) << "models run again for later groups";
  expect_near(grouped.stacked.matrix, all.stacked.matrix, "grouped");
  // Each model's block is still one symmetric product of its rows: the same values bit for bit.
  for (size_t m = 0; m < 3; ++m) expect_near(grouped.own[m].matrix, all.own[m].matrix, "grouped own", 0);
}

// The NLL objective's network has one more layer (its LogSoftmax): its own matrix has it, the model x model
// matrices are over the layers all models share.
TEST(Compare, ModelsWithDifferentLayersShareTheCommonOnes) {
  data::Loader loader = split_loader("compare_nll", 10);
  ResNet18Config nll_head;
  nll_head.log_softmax_head = true;
  ResNet18 a({}, 1), nll(nll_head, 2);
  ASSERT_EQ(nll.layer_names().size(), a.layer_names().size() + 1);
  std::vector<workflows::ComparedModel> models = {{"nll", "nll", "", &nll, 0}, {"sce", "sce", "", &a, 0}};
  workflows::CompareOptions o = quiet_options();
  o.probes = {"bias"};
  const workflows::CompareResult r = workflows::compare_models(models, loader, o);
  EXPECT_EQ(r.layers, a.layer_names()) << "model 0's layers that every model has";
  EXPECT_EQ(r.own[0].layers, nll.layer_names());
  EXPECT_EQ(r.layer_models.shape(), (Shape{69, 2, 2}));
  workflows::CkaModelOptions co;
  co.progress = workflows::ProgressMode::Quiet;
  co.probes = o.probes;
  for (size_t m = 0; m < 2; ++m) {
    const cka::CkaReport want = workflows::cka_of_models(*models[m].model, nullptr, loader, co);
    expect_near(r.own[m].matrix, want.matrix, models[m].name, 0);
    expect_near(r.own[m].probes.value, want.probes.value, models[m].name + " probes", 0);
  }
  const cka::CkaReport cross = workflows::pair_report(r, 0, 1);
  EXPECT_EQ(cross.matrix.shape(), (Shape{70, 69}));
  co.probes.clear();  // one model only
  expect_near(cross.matrix, workflows::cka_of_models(nll, &a, loader, co).matrix, "cross");
}

TEST(Compare, RefusesModelsItCannotStack) {
  data::Loader loader = split_loader("compare_refuses", 10);
  ResNet18 a({}, 1), b({}, 2);
  workflows::CompareOptions o = quiet_options();
  EXPECT_THROW(workflows::compare_models({{"a", "", "", &a, 0}, {"a", "", "", &b, 0}}, loader, o), Error)
      << "two models of one name";
  EXPECT_THROW(workflows::compare_models({}, loader, o), Error);
  o.cka.kernel.kind = cka::Kernel::Rbf;
  o.probes = {"target"};
  EXPECT_THROW(workflows::compare_models({{"a", "", "", &a, 0}}, loader, o), Error) << "probes need linear";
}

TEST(CompareMath, GroupAndStageMeansByHand) {
  // Two layers, four models in groups x, x, y, y.
  const std::vector<double> v = {                    // layer 0
                                 1, 0.9, 0.5, 0.7,   //
                                 0.9, 1, 0.6, 0.8,   //
                                 0.5, 0.6, 1, 0.4,   //
                                 0.7, 0.8, 0.4, 1,   //
                                                     // layer 1: a NaN pair is left out of the means
                                 1, kNan, 0.2, 0.2,  //
                                 kNan, 1, 0.2, 0.2,  //
                                 0.2, 0.2, 1, 0.6,   //
                                 0.2, 0.2, 0.6, 1};
  const cka::GroupSimilarity g =
      cka::group_similarity(Tensor::from_vector(v, {2, 4, 4}), {"x", "x", "y", "y"});
  ASSERT_EQ(g.groups, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(g.group_sizes, (std::vector<int64_t>{2, 2}));
  const double* m = g.mean.data<double>();
  EXPECT_DOUBLE_EQ(m[0], 0.9);                          // x x
  EXPECT_DOUBLE_EQ(m[1], (0.5 + 0.7 + 0.6 + 0.8) / 4);  // x y
  EXPECT_DOUBLE_EQ(m[3], 0.4);                          // y y
  EXPECT_DOUBLE_EQ(g.floor.data<double>()[0], (0.9 + 0.4) / 2);
  EXPECT_DOUBLE_EQ(g.between.data<double>()[0], 0.65);
  EXPECT_TRUE(std::isnan(m[4])) << "x x on layer 1 has only the NaN pair";
  EXPECT_DOUBLE_EQ(g.floor.data<double>()[1], 0.6) << "the NaN group is left out";

  const std::vector<cka::StageSimilarity> st = cka::stage_similarity(g, {"conv1", "layer1.0.conv1"});
  ASSERT_EQ(st.size(), 2u);
  EXPECT_EQ(st[0].stage, "stem");
  EXPECT_EQ(st[1].stage, "layer1");
  EXPECT_EQ(st[1].first, 1u);
  EXPECT_DOUBLE_EQ(st[1].floor, 0.6);
  const cka::GroupSimilarity g2 =
      cka::group_similarity(Tensor::from_vector(v, {2, 4, 4}), {"x", "x", "y", "y"});
  const std::vector<cka::StageSimilarity> one = cka::stage_similarity(g2, {"layer1.0.a", "layer1.0.b"});
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].count, 2u);
  EXPECT_DOUBLE_EQ(one[0].mean[1], (0.65 + 0.2) / 2);
  EXPECT_DOUBLE_EQ(one[0].mean[0], 0.9) << "a NaN layer is left out of the stage's mean";
  EXPECT_THROW(cka::group_similarity(Tensor::from_vector(v, {2, 4, 4}), {"x"}), Error);
}

TEST(CompareMath, BlockHistoryPicksTheRowsAndTheirSelfTerms) {
  cka::BatchHistory h;
  h.batches = 2;
  for (int t = 0; t < 2; ++t)
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) h.pairs.push_back(100 * t + 10 * i + j);
  const cka::BatchHistory b = cka::block_history(h, 3, {2, 0});
  EXPECT_EQ(b.batches, 2);
  EXPECT_EQ(b.pairs, (std::vector<double>{22, 20, 2, 0, 122, 120, 102, 100}));
  EXPECT_EQ(b.self_a, (std::vector<double>{22, 0, 122, 100}));
  EXPECT_EQ(b.self_b, b.self_a);
  EXPECT_THROW(cka::block_history(h, 4, {0}), Error);
}

}  // namespace
}  // namespace biascka
