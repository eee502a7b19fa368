// Label probes and bootstrap intervals of minibatch CKA (cka/probes.h, cka/bootstrap.h):
// - probes: a layer equal to the one-hot target has CKA 1 with the target probe (1e-9); a layer independent
// of
//   the labels has a probe interval containing 0; probe values equal the same estimator computed here
//   independently in plain double loops from the textbook unbiased HSIC (Song et al. 2012's formula, not the
//   U-centring the library uses); the layer matrix excludes the probes; activation files without a label
//   tensor are an error naming it; model mode equals an accumulator fed the one-hot labels by hand;
// - bootstrap: reproducible from the seed (and another seed differs), every interval contains its point
//   estimate, the diagonal is [1, 1], intervals shrink as the number of batches grows, a history whose
//   batches all have the same ratio gives a zero-width interval at it; the kept batches sum to the
//   accumulator's sums;
// - outputs: cka.json's ci_low/ci_high and probes section, cka_ci.npy, probes.csv, probes.png.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cka/accumulator.h"
#include "cka/activations.h"
#include "cka/bootstrap.h"
#include "cka/output.h"
#include "cka/probes.h"
#include "data/disent.h"
#include "data/loader.h"
#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/io/npy.h"
#include "engine/io/safetensors.h"
#include "engine/random.h"
#include "tests/support/cka_fixtures.h"
#include "tests/support/test_support.h"
#include "workflows/cka_model.h"

namespace biascka {
namespace {

using test::at;
using test::gaussian;

// Expects `stmt` to throw biascka::Error with `part` in its message.
#define EXPECT_THROW_MSG(stmt, part)                                              \
  do {                                                                            \
    try {                                                                         \
      stmt;                                                                       \
      ADD_FAILURE() << #stmt << " did not throw";                                 \
    } catch (const Error& e) {                                                    \
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what(); \
    }                                                                             \
  } while (0)

// n labels in [0, classes), seeded.
Tensor labels(int64_t n, int64_t classes, uint64_t stream) { return rand_int({n}, classes, 77, stream); }

// The unbiased HSIC of two n x n Grams by the textbook formula (Song et al. 2012), plain double loops.
double textbook_hsic(const std::vector<double>& k, const std::vector<double>& l, int64_t n) {
  auto kt = [&](int64_t i, int64_t j) { return i == j ? 0.0 : k[static_cast<size_t>(i * n + j)]; };
  auto lt = [&](int64_t i, int64_t j) { return i == j ? 0.0 : l[static_cast<size_t>(i * n + j)]; };
  double trace = 0, sum_k = 0, sum_l = 0, kl1 = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      trace += kt(i, j) * lt(j, i);
      sum_k += kt(i, j);
      sum_l += lt(i, j);
    }
  for (int64_t i = 0; i < n; ++i) {  // 1^T K~ L~ 1 = sum_i (K~ 1)_i (L~ 1)_i
    double ki = 0, li = 0;
    for (int64_t j = 0; j < n; ++j) ki += kt(i, j), li += lt(i, j);
    kl1 += ki * li;
  }
  const double nn = static_cast<double>(n);
  return (trace + sum_k * sum_l / ((nn - 1) * (nn - 2)) - 2.0 / (nn - 2) * kl1) / (nn * (nn - 3));
}

// Rows [r0, r1) of x [n, d] as the linear Gram, in double.
std::vector<double> gram_rows(const Tensor& x, int64_t r0, int64_t r1) {
  const int64_t n = r1 - r0, d = x.numel() / x.size(0);
  const float* p = x.data<float>();
  std::vector<double> g(static_cast<size_t>(n * n));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t c = 0; c < d; ++c) s += double(p[(r0 + i) * d + c]) * double(p[(r0 + j) * d + c]);
      g[static_cast<size_t>(i * n + j)] = s;
    }
  return g;
}

// Minibatch CKA of layer x with the labels' same-label indicator Gram, batch by batch, all in double.
double textbook_probe_cka(const Tensor& x, const Tensor& y, int64_t batch) {
  const int64_t n = x.size(0);
  double xy = 0, xx = 0, yy = 0;
  for (int64_t r0 = 0; r0 < n; r0 += batch) {
    const int64_t r1 = std::min(n, r0 + batch), m = r1 - r0;
    const std::vector<double> k = gram_rows(x, r0, r1);
    std::vector<double> l(static_cast<size_t>(m * m));
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < m; ++j)
        l[static_cast<size_t>(i * m + j)] =
            y.data<int64_t>()[r0 + i] == y.data<int64_t>()[r0 + j] ? 1.0 : 0.0;
    xy += textbook_hsic(k, l, m);
    xx += textbook_hsic(k, k, m);
    yy += textbook_hsic(l, l, m);
  }
  return xy / std::sqrt(xx * yy);
}

struct ProbeFile {
  std::string dir, path;
  Tensor target, bias, onehot, noise, mixed;
};

// 240 samples: a layer that is the one-hot target, one independent of the labels, one mixing target and
// noise.
ProbeFile probe_file(const std::string& name, bool with_bias = true) {
  ProbeFile f;
  f.dir = test::temp_dir(name);
  f.path = f.dir + "/acts.safetensors";
  const int64_t n = 240;
  f.target = labels(n, 5, 1);
  f.bias = labels(n, 4, 2);
  f.onehot = cka::one_hot(f.target, 5, "target");
  f.noise = gaussian({n, 7}, 50);
  f.mixed = gaussian({n, 5}, 51);
  for (int64_t i = 0; i < f.mixed.numel(); ++i) f.mixed.data<float>()[i] += 2.f * f.onehot.data<float>()[i];
  NamedTensors t = {
      {"act.onehot", f.onehot}, {"act.noise", f.noise}, {"act.mixed", f.mixed}, {"label.target", f.target}};
  if (with_bias) t.push_back({"label.bias", f.bias});
  write_safetensors(f.path, t);
  return f;
}

cka::CkaReport probe_report(const ProbeFile& f, int64_t bootstrap) {
  cka::ActivationsRequest req;
  req.path_a = f.path;
  req.batch = 40;
  req.options.bootstrap = bootstrap;
  req.options.bootstrap_seed = 3;
  req.probes = {"target", "bias"};
  return cka::cka_from_activations(req);
}

TEST(CkaProbes, TargetLayerIsOneIndependentLayerContainsZeroAndValuesMatchTextbookLoops) {
  const ProbeFile f = probe_file("probes_values");
  const cka::CkaReport r = probe_report(f, 400);
  ASSERT_EQ(r.layers, (std::vector<std::string>{"onehot", "noise", "mixed"}));  // labels are not layers
  ASSERT_EQ(r.matrix.shape(), (Shape{3, 3}));                                   // nor are the probes
  ASSERT_EQ(r.probes.probes, (std::vector<std::string>{"target", "bias"}));
  ASSERT_EQ(r.probes.value.shape(), (Shape{3, 2}));
  EXPECT_NEAR(at(r.probes.value, 0, 0), 1.0, 1e-9);
  const double noise = at(r.probes.value, 1, 0);
  EXPECT_LE(at(r.probes.ci_low, 1, 0), 0.0);
  EXPECT_GE(at(r.probes.ci_high, 1, 0), 0.0);
  EXPECT_LT(std::fabs(noise), 0.1);
  EXPECT_LE(at(r.probes.ci_low, 1, 1), 0.0);  // noise against the bias labels
  EXPECT_GE(at(r.probes.ci_high, 1, 1), 0.0);
  EXPECT_GT(at(r.probes.ci_low, 2, 0), 0.3) << "the mixed layer carries the target";
  // The library's U-centred float64 rows of float32 Grams against double loops over the textbook formula: the
  // Grams' float32 rounding (~1e-7 relative) is what differs; 1e-6 on CKA.
  const std::vector<Tensor> layers = {f.onehot, f.noise, f.mixed};
  for (size_t i = 0; i < layers.size(); ++i) {
    EXPECT_NEAR(at(r.probes.value, static_cast<int64_t>(i), 0), textbook_probe_cka(layers[i], f.target, 40),
                1e-6)
        << i;
    EXPECT_NEAR(at(r.probes.value, static_cast<int64_t>(i), 1), textbook_probe_cka(layers[i], f.bias, 40),
                1e-6)
        << i;
  }
  // The layer matrix is the one without probes.
  cka::ActivationsRequest plain;
  plain.path_a = f.path;
  plain.batch = 40;
  EXPECT_TRUE(test::matrices_near(r.matrix, cka::cka_from_activations(plain).matrix, 0));
}

TEST(CkaProbes, LabelErrors) {
  const ProbeFile f = probe_file("probes_errors", /*with_bias=*/false);
  try {
    probe_report(f, 0);
    FAIL() << "no label.bias";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("label.bias"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(f.path), std::string::npos) << e.what();
  }
  write_safetensors(f.path, {{"act.x", f.noise}, {"label.target", f.noise}});
  EXPECT_THROW_MSG(probe_report(f, 0), "must be int64");
  Tensor bad = f.target.clone();
  bad.data<int64_t>()[3] = -1;
  write_safetensors(f.path, {{"act.x", f.noise}, {"label.target", bad}, {"label.bias", f.bias}});
  EXPECT_THROW_MSG(probe_report(f, 0), "label -1 of sample 3");
  EXPECT_THROW_MSG(cka::parse_probes("target,colour"), "unknown probe 'colour'");
  EXPECT_THROW_MSG(cka::parse_probes("bias,bias"), "given twice");
  EXPECT_EQ(cka::parse_probes("bias,target"), (std::vector<std::string>{"bias", "target"}));
  EXPECT_TRUE(cka::parse_probes("").empty());
}

TEST(CkaProbes, StageStartsOfResNet18) {
  const std::vector<std::string> names = ResNet18(ResNet18Config{}, 0).layer_names();
  std::vector<std::string> starts;
  for (size_t i : cka::stage_starts(names)) starts.push_back(names[i]);
  EXPECT_EQ(starts, (std::vector<std::string>{"layer1.0.conv1", "layer2.0.conv1", "layer3.0.conv1",
                                              "layer4.0.conv1", "avgpool"}));
}

// Model mode: the probes are the one-hot labels of each loader batch, appended to the selected layers.
TEST(CkaProbes, ModelModeEqualsAnAccumulatorFedTheLabels) {
  const std::string dir = test::cka_image_split("probes_model");
  ResNet18 model(ResNet18Config{}, 1);
  data::LoaderOptions lo;
  lo.batch = 8;
  lo.workers = 1;
  lo.norm = data::normalization_for(dir);
  data::Loader loader(data::scan_split(dir), lo);
  workflows::CkaModelOptions o;
  o.layers = "layer4\\.1\\..*|fc";
  o.progress = workflows::ProgressMode::Quiet;
  o.probes = {"target", "bias"};
  o.cka.bootstrap = 50;
  const cka::CkaReport r = workflows::cka_of_models(model, nullptr, loader, o);
  const std::vector<std::string> layers = select_layers(model.layer_names(), o.layers);
  ASSERT_EQ(r.layers, layers);
  ASSERT_EQ(r.probes.value.shape(), (Shape{static_cast<int64_t>(layers.size()), 2}));
  ASSERT_TRUE(r.probes.ci_low.defined());

  std::vector<std::string> names = layers;
  names.insert(names.end(), {"t", "b"});
  cka::MinibatchCka acc(names);
  NoGrad ng;
  model.eval();
  loader.start_epoch(0);
  data::Batch b;
  while (loader.next(b)) {
    std::vector<Tensor> acts(layers.size());
    model.forward(b.images, [&](const std::string& n, const Tensor& t) {
      for (size_t i = 0; i < layers.size(); ++i)
        if (layers[i] == n) acts[i] = t;
    });
    acts.push_back(cka::one_hot(b.targets, loader.split().num_classes, "t"));
    acts.push_back(cka::one_hot(b.biases, loader.split().num_classes, "b"));
    acc.add_batch(acts);
  }
  const Tensor want = acc.result().matrix;
  const int64_t l = static_cast<int64_t>(layers.size());
  for (int64_t i = 0; i < l; ++i)
    for (int64_t k = 0; k < 2; ++k) EXPECT_EQ(at(r.probes.value, i, k), at(want, i, l + k)) << i << " " << k;
  EXPECT_THROW_MSG(workflows::cka_of_models(model, &model, loader, o), "only for one model");
}

// Layers over n samples with some structure, for the bootstrap.
std::vector<Tensor> bootstrap_layers(int64_t n) {
  const Tensor x = gaussian({n, 6}, 60);
  Tensor y = gaussian({n, 6}, 61);
  for (int64_t i = 0; i < y.numel(); ++i) y.data<float>()[i] += x.data<float>()[i];
  return {x, y, gaussian({n, 3}, 62)};
}

cka::CkaReport bootstrapped(const std::vector<Tensor>& layers, int64_t batch, int64_t replicates,
                            uint64_t seed) {
  cka::CkaOptions o;
  o.bootstrap = replicates;
  o.bootstrap_seed = seed;
  cka::MinibatchCka acc({"x", "y", "z"}, {}, o);
  const int64_t n = layers[0].size(0);
  for (int64_t r0 = 0; r0 < n; r0 += batch) {
    std::vector<Tensor> a;
    for (const Tensor& t : layers) a.push_back(test::rows(t, r0, std::min(n, r0 + batch)));
    acc.add_batch(a);
  }
  return cka::make_report(acc, batch, false);
}

double mean_width(const cka::CkaReport& r) {
  double w = 0;
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 3; ++j) w += at(r.ci_high, i, j) - at(r.ci_low, i, j);
  return w / 6;  // the off-diagonal cells (the diagonal is [1, 1])
}

TEST(CkaBootstrap, ReproducibleContainsThePointAndShrinksWithMoreBatches) {
  const std::vector<Tensor> layers = bootstrap_layers(1280);
  const cka::CkaReport a = bootstrapped(layers, 40, 300, 5), b = bootstrapped(layers, 40, 300, 5);
  const cka::CkaReport c = bootstrapped(layers, 40, 300, 6);
  EXPECT_TRUE(test::matrices_near(a.ci_low, b.ci_low, 0));
  EXPECT_TRUE(test::matrices_near(a.ci_high, b.ci_high, 0));
  EXPECT_FALSE(test::matrices_near(a.ci_low, c.ci_low, 0)) << "another seed, another resampling";
  for (int64_t i = 0; i < 3; ++i) {
    EXPECT_EQ(at(a.ci_low, i, i), 1.0);
    EXPECT_EQ(at(a.ci_high, i, i), 1.0);
    for (int64_t j = 0; j < 3; ++j) {
      EXPECT_LE(at(a.ci_low, i, j), at(a.matrix, i, j)) << i << j;
      EXPECT_GE(at(a.ci_high, i, j), at(a.matrix, i, j)) << i << j;
      EXPECT_EQ(at(a.ci_low, i, j), at(a.ci_low, j, i));
    }
  }
  EXPECT_LT(at(a.ci_high, 0, 1) - at(a.ci_low, 0, 1), 0.2);
  // 8 batches of 40 against 32: about half as wide (1 / sqrt(4)).
  const double few = mean_width(bootstrapped(bootstrap_layers(320), 40, 300, 5)), many = mean_width(a);
  EXPECT_LT(many, 0.75 * few) << few << " -> " << many;
  EXPECT_GT(many, 0.25 * few) << few << " -> " << many;
  // Off: no intervals; one batch: none either, with a warning.
  EXPECT_FALSE(bootstrapped(layers, 40, 0, 5).ci_low.defined());
  const cka::CkaReport one = bootstrapped(layers, 1280, 100, 5);
  EXPECT_FALSE(one.ci_low.defined());
  ASSERT_FALSE(one.warnings.empty());
  EXPECT_NE(one.warnings.back().find("at least 2 batches"), std::string::npos);
}

TEST(CkaBootstrap, SameRatioInEveryBatchGivesAPointInterval) {
  // Batch t: self terms s_t, s_t / 4 (any positive values) and the pair 0.3 * sqrt(s_t * s_t / 4): every
  // resampled ratio is 0.3 up to rounding.
  cka::BatchHistory h;
  h.batches = 6;
  for (int64_t t = 0; t < h.batches; ++t) {
    const double s = 1.0 + static_cast<double>(t * t);
    h.pairs.push_back(0.3 * std::sqrt(s * s / 4));
    h.self_a.push_back(s);
    h.self_b.push_back(s / 4);
  }
  const cka::CkaIntervals ci = cka::bootstrap_intervals(h, 1, 1, {200, 1, 0.95});
  EXPECT_NEAR(at(ci.low, 0, 0), 0.3, 1e-15);
  EXPECT_NEAR(at(ci.high, 0, 0), 0.3, 1e-15);
  EXPECT_THROW_MSG(cka::bootstrap_intervals(h, 1, 1, {200, 1, 1.0}), "outside (0, 1)");
  EXPECT_THROW_MSG(cka::bootstrap_intervals(h, 2, 1, {200, 1, 0.95}), "do not match");
  h.self_b.assign(6, -1.0);  // undefined in every replicate
  EXPECT_TRUE(std::isnan(at(cka::bootstrap_intervals(h, 1, 1, {20, 1, 0.95}).low, 0, 0)));
}

TEST(CkaBootstrap, OutputFiles) {
  const ProbeFile f = probe_file("probes_outputs");
  const cka::CkaReport r = probe_report(f, 100);
  const std::string out = f.dir + "/out";
  const std::vector<std::string> written = cka::write_cka_outputs(out, r);
  EXPECT_EQ(written, (std::vector<std::string>{"cka.json", "cka.csv", "cka.npy", "cka_ci.npy", "cka.png",
                                               "probes.csv", "probes.png"}));
  std::ifstream in(out + "/cka.json");
  const nlohmann::json j = nlohmann::json::parse(in);
  ASSERT_EQ(j["ci_low"].size(), 3u);
  EXPECT_EQ(j["ci_high"][1][2].get<double>(), at(r.ci_high, 1, 2));
  EXPECT_EQ(j["bootstrap"]["replicates"], 100);
  EXPECT_EQ(j["bootstrap"]["seed"], 3);
  const nlohmann::json& p = j["probes"]["layers"];
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p[2]["layer"], "mixed");
  EXPECT_EQ(p[2]["bias"].get<double>(), at(r.probes.value, 2, 1));
  EXPECT_EQ(p[2]["target_ci"][0].get<double>(), at(r.probes.ci_low, 2, 0));
  const Tensor ci = read_npy(out + "/cka_ci.npy");
  ASSERT_EQ(ci.shape(), (Shape{2, 3, 3}));
  EXPECT_EQ(ci.data<double>()[9 + 1], at(r.ci_high, 0, 1));
  std::ifstream csv(out + "/probes.csv");
  std::string header, row;
  std::getline(csv, header);
  EXPECT_EQ(header, "layer,index,target,target_ci_low,target_ci_high,bias,bias_ci_low,bias_ci_high");
  std::getline(csv, row);
  EXPECT_EQ(row.rfind("onehot,0,1", 0), 0u) << row;
  EXPECT_GT(std::filesystem::file_size(out + "/probes.png"), 1000u);
}

}  // namespace
}  // namespace biascka
