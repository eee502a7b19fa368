// The `biascka` command itself: exit codes, one-line errors, and `forward` / `eval` end to end against the
// library (the binary is build/bin/biascka).
#include <sys/wait.h>
#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/autograd.h"
#include "engine/io/atomic_file.h"
#include "engine/io/npy.h"
#include "engine/io/safetensors.h"
#include "engine/ops/layout.h"
#include "engine/random.h"
#include "models/resnet18.h"
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
  for (const char* k :
       {"accuracy", "aligned_accuracy", "conflicting_accuracy", "per_class", "confusion", "count"})
    EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_EQ(j["confusion"].size(), 10u);
  EXPECT_NE(r.output.find("bias-conflicting"), std::string::npos);
}

}  // namespace
}  // namespace biascka
