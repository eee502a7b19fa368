// The `biascka` command itself: exit codes, one-line errors, and `forward` / `eval` end to end against the
// library (the binary is build/bin/biascka).
#include <sys/wait.h>
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/io/atomic_file.h"
#include "engine/io/npy.h"
#include "engine/io/safetensors.h"
#include "engine/ops/layout.h"
#include "engine/random.h"
#include "models/resnet18.h"
#include "tests/support/cka_fixtures.h"
#include "tests/support/cli_run.h"
#include "tests/support/test_support.h"
#include "tests/support/tiny_dataset.h"
#include "workflows/checkpoint.h"

namespace biascka {
namespace {

using Result = test::CliResult;
test::CliResult run(const std::string& args) { return test::run_biascka(args); }

TEST(Cli, HelpUsageErrorsAndOneLineErrors) {
  EXPECT_EQ(run("--help").code, 0);
  EXPECT_EQ(run("train --help").code, 0);
  EXPECT_EQ(run("--no-such-option").code, 2);
  EXPECT_EQ(run("train --epochs zero --data x --out y").code, 2);
  const Result missing =
      run("forward --checkpoint /nonexistent.safetensors --input x.npy --out o.safetensors");
  EXPECT_EQ(missing.code, 1);
  EXPECT_EQ(missing.output.rfind("biascka: error: /nonexistent.safetensors", 0), 0u) << missing.output;
  EXPECT_EQ(std::count(missing.output.begin(), missing.output.end(), '\n'), 1) << missing.output;
}

TEST(Cli, CudaWithoutAGpuIsAClearError) {
  if (cuda_device_count() > 0) GTEST_SKIP() << "this machine has a GPU";
  const Result r = run("bench train --device cuda --steps 1");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.output.find("--device cuda:0"), std::string::npos) << r.output;
}

TEST(Cli, ForwardDumpsLogitsAndLayersLikeTheLibrary) {
  const std::string dir = test::temp_dir("cli_forward");
  ResNet18 model({}, 11);
  model.eval();
  workflows::save_checkpoint(dir + "/w.safetensors", model, nullptr, nullptr, {});
  const Tensor x = rand_normal({3, 3, 28, 28}, 0, 1, 12);  // PyTorch's NCHW
  write_npy(dir + "/x.npy", x);
  const Result r = run("forward --checkpoint " + dir + "/w.safetensors --input " + dir + "/x.npy --out " +
                       dir + "/o.safetensors --layers modules");
  ASSERT_EQ(r.code, 0) << r.output;
  const TensorFile out = read_safetensors(dir + "/o.safetensors");
  const auto layers = nlohmann::json::parse(out.metadata.at("layers"));
  EXPECT_EQ(layers.size(), 53u);
  EXPECT_EQ(out.at("act.layer1.0.conv1").shape(), (Shape{3, 64, 7, 7}));  // NCHW
  NoGrad ng;
  Tensor want_bn1;
  const Tensor want = model.forward(nchw_to_nhwc(x), [&](const std::string& n, const Tensor& t) {
    if (n == "bn1") want_bn1 = nhwc_to_nchw(t);
  });
  EXPECT_TRUE(test::all_close(out.at("logits"), want, 0, 0));
  EXPECT_TRUE(test::all_close(out.at("act.bn1"), want_bn1, 0, 0));
  // --input FILE.safetensors:NAME reads the same batch.
  write_safetensors(dir + "/in.safetensors", {{"batch", x}});
  ASSERT_EQ(run("forward --checkpoint " + dir + "/w.safetensors --input " + dir +
                "/in.safetensors:batch --out " + dir + "/o2.safetensors --layers fc")
                .code,
            0);
  EXPECT_TRUE(test::all_close(read_safetensors(dir + "/o2.safetensors").at("logits"), want, 0, 0));
  // torch_cka's axis repeats layers (68 rows): each is dumped and listed once.
  ASSERT_EQ(run("forward --checkpoint " + dir + "/w.safetensors --input " + dir + "/x.npy --out " + dir +
                "/o3.safetensors --layers torch_cka")
                .code,
            0);
  const TensorFile t = read_safetensors(dir + "/o3.safetensors");
  const auto listed = nlohmann::json::parse(t.metadata.at("layers")).get<std::vector<std::string>>();
  EXPECT_EQ(std::set<std::string>(listed.begin(), listed.end()).size(), listed.size()) << "no repeats";
  EXPECT_LT(listed.size(), 68u);
  EXPECT_EQ(t.tensors.size(), listed.size() + 1);  // + logits
}

TEST(Cli, EvalWritesTheAccuracyJson) {
  const std::string dir = test::temp_dir("cli_eval");
  const std::string data = test::tiny_cmnist(dir + "/data");
  ResNet18 model({}, 13);
  workflows::save_checkpoint(dir + "/w.safetensors", model, nullptr, nullptr, {});
  const Result r = run("eval --checkpoint " + dir + "/w.safetensors --data " + dir +
                       "/data/cmnist/test --out " + dir + "/eval.json --quiet");
  ASSERT_EQ(r.code, 0) << r.output;
  const auto j = nlohmann::json::parse(read_file(dir + "/eval.json"));
  for (const char* k : {"accuracy", "aligned_accuracy", "conflicting_accuracy", "unbiased_accuracy",
                        "worst_group_accuracy", "groups", "per_class", "confusion", "count"})
    EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_EQ(j["confusion"].size(), 10u);
  EXPECT_NE(r.output.find("bias-conflicting"), std::string::npos);
}

// --subset-diff: the aligned and conflicting matrices are exactly those of --subset aligned / conflicting
// alone (each over its own samples only), and cka_diff is their difference.
TEST(Cli, CkaSubsetDiffIsAlignedMinusConflicting) {
  const std::string dir = test::temp_dir("cli_cka_subsets");
  const std::string data = test::cka_image_split("cli_cka_subsets_data");  // i = 0..19: i_{i%10}_{3i%10}
  ResNet18 model({}, 17);
  workflows::save_checkpoint(dir + "/w.safetensors", model, nullptr, nullptr, {});
  const std::string common = "cka --checkpoint " + dir + "/w.safetensors --data " + data +
                             " --layers 'layer4.1.*' --batch 8 --quiet";
  const Result diff = run(common + " --subset-diff --out " + dir + "/diff");
  ASSERT_EQ(diff.code, 0) << diff.output;
  ASSERT_EQ(run(common + " --subset aligned --out " + dir + "/aligned").code, 0);
  auto json = [](const std::string& p) { return nlohmann::json::parse(read_file(p)); };
  const auto a = json(dir + "/diff/aligned/cka.json"), c = json(dir + "/diff/conflicting/cka.json");
  EXPECT_EQ(a["samples"], 4);  // i = 0, 5, 10, 15 have target == bias
  EXPECT_EQ(c["samples"], 16);
  EXPECT_EQ(a["matrix"], json(dir + "/aligned/cka.json")["matrix"]);
  const Tensor d = read_npy(dir + "/diff/cka_diff.npy");
  const size_t n = a["matrix"].size();
  ASSERT_EQ(d.shape(), (Shape{static_cast<int64_t>(n), static_cast<int64_t>(n)}));
  double largest = 0;
  for (size_t i = 0; i < n; ++i)
    for (size_t k = 0; k < n; ++k) {
      const double want = a["matrix"][i][k].get<double>() - c["matrix"][i][k].get<double>();
      EXPECT_EQ(d.data<double>()[i * n + k], want) << i << "," << k;
      largest = std::max(largest, std::abs(want));
    }
  EXPECT_GT(largest, 0);  // different samples, different matrices
  EXPECT_EQ(json(dir + "/diff/cka_diff.json")["max_abs"].get<double>(), largest);
  EXPECT_TRUE(std::filesystem::exists(dir + "/diff/cka_diff.png"));
  EXPECT_EQ(run(common + " --subset biased --out " + dir + "/bad").code, 2);
  EXPECT_EQ(run(common + " --subset aligned --subset-diff --out " + dir + "/bad").code, 2);
}

TEST(Cli, CkaOnThePapersTorchCkaAxis) {
  const std::string dir = test::temp_dir("cli_cka_torch_cka");
  const std::string data = test::cka_image_split("cli_cka_torch_cka_data");
  ResNet18 model({}, 19);
  workflows::save_checkpoint(dir + "/w.safetensors", model, nullptr, nullptr, {});
  const std::string common = "cka --checkpoint " + dir + "/w.safetensors --data " + data +
                             " --layers torch_cka --batch 10 --bootstrap 0 --quiet";
  const Result r = run(common + " --axis-labels both --out " + dir + "/axis");
  ASSERT_EQ(r.code, 0) << r.output;
  const auto j = nlohmann::json::parse(read_file(dir + "/axis/cka.json"));
  ASSERT_EQ(j["layers"].size(), 68u);
  ASSERT_EQ(j["matrix"].size(), 68u);
  EXPECT_EQ(j["matrix"][67].size(), 68u);
  EXPECT_EQ(j["layers"][5], "layer1.0.bn1 (= layer1.0.relu1)");
  EXPECT_EQ(j["layers"][67], "(root) (= fc)");
  EXPECT_EQ(read_npy(dir + "/axis/cka.npy").shape(), (Shape{68, 68}));
  EXPECT_EQ(run(common + " --axis-labels paper --out " + dir + "/bad").code, 2);
  EXPECT_EQ(run("cka --checkpoint " + dir + "/w.safetensors --data " + data +
                " --axis-labels ours --quiet --out " + dir + "/bad")
                .code,
            2);  // labels without the axis
}

TEST(Cli, CompareWritesEveryModelAndPair) {
  const std::string dir = test::temp_dir("cli_compare");
  const std::string data = test::cka_image_split("cli_compare_data");
  for (int seed : {21, 22, 23}) {
    ResNet18 model({}, static_cast<uint64_t>(seed));
    workflows::save_checkpoint(dir + "/m" + std::to_string(seed) + ".safetensors", model, nullptr, nullptr,
                               {});
  }
  const std::string models = " --checkpoints sce=" + dir + "/m21.safetensors sce=" + dir +
                             "/m22.safetensors gce=" + dir + "/m23.safetensors";
  const std::string common =
      "compare" + models + " --data " + data + " --layers 'layer4.1.*' --batch 10 --quiet";
  const Result r = run(common + " --pairs m21:m23 --probes target --out " + dir + "/cmp");
  ASSERT_EQ(r.code, 0) << r.output;
  const auto j = nlohmann::json::parse(read_file(dir + "/cmp/compare.json"));
  ASSERT_EQ(j["models"].size(), 3u);
  EXPECT_EQ(j["models"][2]["name"], "m23");
  EXPECT_EQ(j["models"][2]["group"], "gce");
  EXPECT_EQ(j["groups"][0]["models"], 2);
  const size_t layers = j["layers"].size();
  EXPECT_EQ(read_npy(dir + "/cmp/compare.npy").shape(), (Shape{static_cast<int64_t>(layers), 3, 3}));
  EXPECT_EQ(j["per_layer"].size(), layers);
  EXPECT_TRUE(j["per_layer"][0]["noise_floor"].is_number());
  EXPECT_TRUE(j["per_layer"][0]["between_groups"].is_number());
  EXPECT_EQ(j["stages"][0]["stage"], "layer4");
  for (const char* f : {"compare.csv", "compare.png", "compare_full.npy", "models/m21/cka.npy",
                        "models/m22/probes.csv", "models/m23/cka_ci.npy", "pairs/m21__m23/cka.npy"})
    EXPECT_TRUE(std::filesystem::exists(dir + "/cmp/" + f)) << f;
  EXPECT_FALSE(std::filesystem::exists(dir + "/cmp/pairs/m21__m22"));
  // The same model's own matrix as `cka` gives for it alone, bit for bit.
  ASSERT_EQ(run("cka --checkpoint " + dir + "/m22.safetensors --data " + data +
                " --layers 'layer4.1.*' --batch 10 --quiet --probes target --out " + dir + "/one")
                .code,
            0);
  const Tensor own = read_npy(dir + "/cmp/models/m22/cka.npy"), one = read_npy(dir + "/one/cka.npy");
  ASSERT_EQ(own.shape(), one.shape());
  for (int64_t i = 0; i < own.numel(); ++i) EXPECT_EQ(own.data<double>()[i], one.data<double>()[i]);
  EXPECT_EQ(run(common + " --pairs m21:nobody --out " + dir + "/bad").code, 1);
  EXPECT_EQ(run("compare --data " + data + " --out " + dir + "/bad").code, 1);  // no models
  EXPECT_EQ(run(common + " --bootstrap -1 --out " + dir + "/bad").code, 2);
}

}  // namespace
}  // namespace biascka
