// CKA from stored activation files: streaming by row ranges equals the in-memory computation, cross-file
// matrices, the four output files (json, csv, npy, png), and the input errors (sample counts that disagree,
// a batch below the estimator's minimum, a selection that matches nothing, zero-variance layers).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cka/activations.h"
#include "cka/output.h"
#include "engine/error.h"
#include "engine/io/atomic_file.h"
#include "engine/io/npy.h"
#include "engine/io/safetensors.h"
#include "engine/random.h"
#include "tests/support/test_support.h"

namespace biascka {
namespace {

Tensor randn(const Shape& s, uint64_t stream) { return rand_normal(s, 0.f, 1.f, 99, stream); }

Tensor rows(const Tensor& x, int64_t r0, int64_t r1) {
  Shape s = x.shape();
  const int64_t per = x.numel() / s[0];
  s[0] = r1 - r0;
  return Tensor::from_vector(std::vector<float>(x.data<float>() + r0 * per, x.data<float>() + r1 * per), s);
}

struct Files {
  std::string dir, a, b;
  NamedTensors ta, tb;
};

Files make_files(const std::string& name) {
  Files f;
  f.dir = test::temp_dir(name);
  const Tensor x = randn({50, 12}, 1);
  Tensor relu = x.clone();
  for (int64_t i = 0; i < relu.numel(); ++i) relu.data<float>()[i] = std::max(0.f, relu.data<float>()[i]);
  f.ta = {{"logits", randn({50, 10}, 2)},
          {"act.conv1", randn({50, 3, 2, 2}, 3)},
          {"act.relu", relu},
          {"act.x", x}};
  f.tb = {{"act.y", randn({50, 5}, 4)}, {"act.x_again", x}};
  f.a = f.dir + "/a.safetensors";
  f.b = f.dir + "/b.safetensors";
  write_safetensors(f.a, f.ta);
  write_safetensors(f.b, f.tb);
  return f;
}

// The same computation on in-memory tensors, batch by batch.
Tensor in_memory(const NamedTensors& a, const NamedTensors* b, int64_t batch, cka::Estimator e) {
  std::vector<std::string> na, nb;
  for (const auto& [n, t] : a) na.push_back(n);
  if (b)
    for (const auto& [n, t] : *b) nb.push_back(n);
  cka::MinibatchCka acc(na, nb, cka::CkaOptions{e, {}, size_t{1} << 30});
  const int64_t n = a[0].second.size(0);
  for (int64_t r0 = 0; r0 < n; r0 += batch) {
    std::vector<Tensor> xa, xb;
    for (const auto& [name, t] : a) xa.push_back(rows(t, r0, std::min(n, r0 + batch)));
    if (b)
      for (const auto& [name, t] : *b) xb.push_back(rows(t, r0, std::min(n, r0 + batch)));
    acc.add_batch(xa, b ? &xb : nullptr);
  }
  return acc.result().matrix;
}

TEST(CkaActivations, StreamsLikeInMemoryAndWritesOutputs) {
  const Files f = make_files("cka_activations");
  cka::ActivationsRequest req;
  req.path_a = f.a;
  req.batch = 16;  // 16, 16, 16, 2: the last batch is too short for the unbiased estimator and skipped
  const cka::CkaReport r = cka::cka_from_activations(req);
  EXPECT_EQ(r.layers, (std::vector<std::string>{"logits", "conv1", "relu", "x"}));  // "act." dropped
  EXPECT_EQ(r.layers_b, r.layers);
  EXPECT_EQ(r.samples, 48);
  EXPECT_EQ(r.batches, 3);
  ASSERT_EQ(r.warnings.size(), 1u);
  const Tensor want = in_memory(f.ta, nullptr, 16, cka::Estimator::Unbiased);
  for (int64_t i = 0; i < want.numel(); ++i) EXPECT_EQ(r.matrix.data<double>()[i], want.data<double>()[i]);

  const std::string out = f.dir + "/out";
  cka::write_cka_outputs(out, r);
  const nlohmann::json j = nlohmann::json::parse(read_file(out + "/cka.json"));
  EXPECT_EQ(j["layers"].size(), 4u);
  EXPECT_EQ(j["layers_b"].size(), 4u);
  EXPECT_EQ(j["estimator"], "unbiased");
  EXPECT_EQ(j["kernel"], "linear");
  EXPECT_EQ(j["batch"], 16);
  EXPECT_EQ(j["samples"], 48);
  EXPECT_EQ(j["sources"]["activations"], f.a);
  EXPECT_EQ(j["matrix"][2][3].get<double>(), want.data<double>()[2 * 4 + 3]);
  const Tensor npy = read_npy(out + "/cka.npy");
  ASSERT_EQ(npy.dtype(), DType::F64);
  for (int64_t i = 0; i < want.numel(); ++i) EXPECT_EQ(npy.data<double>()[i], want.data<double>()[i]);
  std::ifstream csv(out + "/cka.csv");
  std::string header, line;
  std::getline(csv, header);
  EXPECT_EQ(header, "layer,logits,conv1,relu,x");
  int lines = 0;
  while (std::getline(csv, line)) ++lines;
  EXPECT_EQ(lines, 4);
  EXPECT_GT(std::filesystem::file_size(out + "/cka.png"), 1000u);

  // A selection by pattern, and the biased estimator on full data.
  req.select = "act\\..*";
  req.full = true;
  req.options.estimator = cka::Estimator::Biased;
  const cka::CkaReport full = cka::cka_from_activations(req);
  EXPECT_EQ(full.layers.size(), 3u);
  EXPECT_EQ(full.batches, 1);
  EXPECT_EQ(full.samples, 50);
}

TEST(CkaActivations, CrossFile) {
  const Files f = make_files("cka_activations_cross");
  cka::ActivationsRequest req;
  req.path_a = f.a;
  req.path_b = f.b;
  req.batch = 25;
  const cka::CkaReport r = cka::cka_from_activations(req);
  ASSERT_EQ(r.matrix.shape(), (Shape{4, 2}));
  EXPECT_TRUE(r.cross_model);
  EXPECT_EQ(r.layers_b, (std::vector<std::string>{"y", "x_again"}));
  EXPECT_NEAR(r.matrix.data<double>()[3 * 2 + 1], 1.0, 1e-12);  // x against its copy
  const Tensor want = in_memory(f.ta, &f.tb, 25, cka::Estimator::Unbiased);
  for (int64_t i = 0; i < want.numel(); ++i) EXPECT_EQ(r.matrix.data<double>()[i], want.data<double>()[i]);
}

std::string error_of(const cka::ActivationsRequest& req) {
  try {
    cka::cka_from_activations(req);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(CkaActivations, BadInput) {
  const Files f = make_files("cka_activations_bad");
  const std::string uneven = f.dir + "/uneven.safetensors";
  write_safetensors(uneven, {{"act.a", randn({50, 4}, 5)}, {"act.b", randn({49, 4}, 6)}});
  cka::ActivationsRequest req;
  req.path_a = uneven;
  req.batch = 16;
  std::string e = error_of(req);
  EXPECT_NE(e.find("disagree on the number of samples"), std::string::npos) << e;
  EXPECT_NE(e.find("act.b"), std::string::npos) << e;

  req.path_a = f.a;
  req.path_b = uneven;
  req.select = "act\\.a";
  e = error_of(req);
  EXPECT_NE(e.find("no tensor matches"), std::string::npos) << e;

  req.path_b = "";
  req.select = "nothing.*";
  e = error_of(req);
  EXPECT_NE(e.find("act.conv1"), std::string::npos) << "lists the tensors: " << e;

  req.select = "";
  req.batch = 3;
  e = error_of(req);
  EXPECT_NE(e.find("at least 4"), std::string::npos) << e;
  req.options.estimator = cka::Estimator::Biased;
  EXPECT_EQ(error_of(req), "");  // the biased estimator works down to 2 samples

  const std::string two = f.dir + "/two.safetensors";
  write_safetensors(two, {{"x", randn({40, 4}, 7)}});
  req.path_a = f.a;
  req.path_b = two;
  req.batch = 8;
  e = error_of(req);
  EXPECT_NE(e.find("40 samples"), std::string::npos) << e;
}

TEST(CkaActivations, ZeroVarianceLayer) {
  const std::string dir = test::temp_dir("cka_activations_zero");
  write_safetensors(dir + "/z.safetensors",
                    {{"x", randn({40, 6}, 8)}, {"dead", Tensor::zeros({40, 8})}, {"y", randn({40, 3}, 9)}});
  cka::ActivationsRequest req;
  req.path_a = dir + "/z.safetensors";
  req.batch = 20;
  const cka::CkaReport r = cka::cka_from_activations(req);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("'dead'"), std::string::npos);
  EXPECT_TRUE(std::isnan(r.matrix.data<double>()[1 * 3 + 0]));
  EXPECT_EQ(r.matrix.data<double>()[2 * 3 + 2], 1.0);
  cka::write_cka_outputs(dir + "/out", r);
  const nlohmann::json j = nlohmann::json::parse(read_file(dir + "/out/cka.json"));
  EXPECT_TRUE(j["matrix"][1][0].is_null());
  EXPECT_TRUE(j["matrix"][0][2].is_number());
  EXPECT_EQ(j["warnings"].size(), 1u);
}

}  // namespace
}  // namespace biascka
