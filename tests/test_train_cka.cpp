// CKA during training (`train --cka-every`, workflows/cka_over_training.h) on the tiny dataset: an
// interrupted and resumed run writes the same CKA files, byte for byte (timing aside), as an uninterrupted
// one, also when lines past its checkpoint were left behind; one evaluation is `biascka cka`'s computation
// over the probe images (cka_of_models, to 1e-12) and a layer against itself with unchanged weights is
// exactly 1; a resume whose validation split gives another probe set is a one-line error; the options'
// rules in settings.json.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cka/centering.h"
#include "data/disent.h"
#include "data/loader.h"
#include "engine/error.h"
#include "engine/io/atomic_file.h"
#include "engine/io/npy.h"
#include "models/resnet18.h"
#include "tests/support/test_support.h"
#include "tests/support/tiny_dataset.h"
#include "tests/support/tiny_runs.h"
#include "workflows/cka_model.h"
#include "workflows/cka_over_training.h"
#include "workflows/json_file.h"
#include "workflows/split_loader.h"
#include "workflows/train.h"

namespace biascka {
namespace {

namespace fs = std::filesystem;
using workflows::TrainOptions;

constexpr int64_t kProbeImages = 16;

TrainOptions cka_run(const std::string& data, const std::string& out) {
  TrainOptions o = test::tiny_train_options(data, out);
  o.epochs = 2;
  o.cka_every = 1;
  o.cka_samples = kProbeImages;
  return o;
}

// RUN/cka/over_training.jsonl without the timing field.
std::vector<nlohmann::json> cka_lines(const std::string& run) {
  std::vector<nlohmann::json> lines = workflows::read_jsonl_file(run + "/cka/over_training.jsonl");
  for (auto& l : lines) l.erase("seconds");
  return lines;
}

class TrainCka : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    data_ = new std::string(test::tiny_cmnist(test::temp_dir("train_cka_data")));
  }
  static void TearDownTestSuite() { delete data_; }
  static std::string* data_;
};
std::string* TrainCka::data_ = nullptr;

TEST_F(TrainCka, InterruptedAndResumedWritesTheSameFiles) {
  const std::string dir = test::temp_dir("train_cka_resume");
  EXPECT_EQ(workflows::train(cka_run(*data_, dir + "/straight")).status, "finished");
  TrainOptions o = cka_run(*data_, dir + "/stopped");
  o.interrupt_after_steps = 7;  // epoch 2, mid-way (5 batches of 32 per epoch): evaluations 0 and 1 written
  EXPECT_EQ(workflows::train(o).status, "interrupted");
  EXPECT_EQ(cka_lines(dir + "/stopped").size(), 2u);
  // What a run killed between its evaluation's writes and its checkpoint would leave: a line and Grams of an
  // epoch past the checkpoint. The resume drops them and redoes that evaluation.
  const std::string jsonl = dir + "/stopped/cka/over_training.jsonl";
  write_text_atomic(jsonl, read_file(jsonl) + "{\"epoch\": 2, \"bogus\": true}\n");
  fs::copy_file(dir + "/stopped/cka/grams_epoch_1.npy", dir + "/stopped/cka/grams_epoch_2.npy");
  o.interrupt_after_steps = 0;
  EXPECT_EQ(workflows::train(o, true).status, "finished");
  for (const char* f : {"epoch_0.npy", "epoch_1.npy", "epoch_2.npy", "grams_epoch_2.npy", "probe_set.json"})
    EXPECT_EQ(read_file(dir + "/straight/cka/" + f), read_file(dir + "/stopped/cka/" + f)) << f;
  const std::vector<nlohmann::json> lines = cka_lines(dir + "/straight");
  EXPECT_EQ(lines, cka_lines(dir + "/stopped"));
  ASSERT_EQ(lines.size(), 3u);  // at initialisation and after epochs 1 and 2
  EXPECT_TRUE(lines[0]["with_previous"].is_null());
  EXPECT_EQ(lines[2]["previous_epoch"], 1);
  // Only the latest Grams are kept: L rows of N(N-1)/2 (float64 on the CPU).
  EXPECT_FALSE(fs::exists(dir + "/stopped/cka/grams_epoch_1.npy"));
  const Tensor grams = read_npy(dir + "/straight/cka/grams_epoch_2.npy");
  const int64_t layers = static_cast<int64_t>(lines[2]["layers"].size());
  EXPECT_EQ(grams.shape(), (Shape{layers, cka::packed_size(kProbeImages, cka::Estimator::Unbiased)}));
  EXPECT_EQ(read_npy(dir + "/straight/cka/epoch_1.npy").shape(), (Shape{layers, layers}));
  for (const auto& v : lines[2]["with_previous"]) {  // trained weights: each layer moved, none beyond 1
    ASSERT_TRUE(v.is_number());
    EXPECT_LE(v.get<double>(), 1.0 + 1e-12);
  }
  EXPECT_EQ(lines[1]["probes"]["target"].size(), static_cast<size_t>(layers));
  EXPECT_TRUE(fs::exists(dir + "/stopped/cka_over_training.png"));
  // The CKA does not disturb the training: the same numbers and weights as a run without it.
  TrainOptions plain = cka_run(*data_, dir + "/plain");
  plain.cka_every = 0;
  EXPECT_EQ(workflows::train(plain).status, "finished");
  EXPECT_FALSE(fs::exists(dir + "/plain/cka"));
  EXPECT_EQ(test::epoch_metrics(dir + "/straight"), test::epoch_metrics(dir + "/plain"));
  EXPECT_EQ(test::tensor_difference(dir + "/straight/last.safetensors", dir + "/plain/last.safetensors"), "");
  EXPECT_EQ(test::tensor_difference(dir + "/straight/last.safetensors", dir + "/stopped/last.safetensors"),
            "");
}

TEST_F(TrainCka, OneEvaluationIsTheCkaOfTheProbeImages) {
  const data::Split valid = data::valid_split(*data_);
  const data::Split probes = workflows::probe_split(valid, kProbeImages);
  ASSERT_EQ(probes.samples.size(), static_cast<size_t>(kProbeImages));
  EXPECT_EQ(probes.samples.front().path, valid.samples.front().path);  // the first ones in name order
  EXPECT_EQ(workflows::probe_split(valid, 100000).samples.size(), valid.samples.size());
  data::Loader loader(probes, workflows::split_loader_options(*data_, {}, kProbeImages, 0));
  ResNet18 model(ResNet18Config{}, 4);
  model.train();
  const workflows::ProbeCka first = workflows::probe_cka(model, loader, "all", Tensor());
  EXPECT_TRUE(model.training());  // its mode restored
  EXPECT_TRUE(first.with_previous.empty());
  const workflows::ProbeCka again = workflows::probe_cka(model, loader, "all", first.grams);
  ASSERT_EQ(again.with_previous.size(), model.layer_names().size());
  for (size_t l = 0; l < again.with_previous.size(); ++l)
    EXPECT_EQ(again.with_previous[l], 1.0) << model.layer_names()[l];  // the same weights: exactly 1
  workflows::CkaModelOptions co;
  co.probes = {"target", "bias"};
  co.progress = workflows::ProgressMode::Quiet;
  const cka::CkaReport want = workflows::cka_of_models(model, nullptr, loader, co);
  EXPECT_TRUE(test::all_close(first.report.matrix, want.matrix, 1e-12, 0));
  EXPECT_TRUE(test::all_close(first.report.probes.value, want.probes.value, 1e-12, 0));
  EXPECT_EQ(first.report.layers, want.layers);
  // A selection: the rows of those layers only.
  const workflows::ProbeCka some = workflows::probe_cka(model, loader, "layer4\\..*", Tensor());
  EXPECT_LT(some.report.layers.size(), first.report.layers.size());
  EXPECT_EQ(some.grams.size(0), static_cast<int64_t>(some.report.layers.size()));
  EXPECT_THROW(workflows::probe_cka(model, loader, "layer4\\..*", first.grams), Error);  // other layers'
  for (const double v : workflows::probe_cka(model, loader, "layer4\\..*", some.grams).with_previous)
    EXPECT_EQ(v, 1.0);
}

TEST_F(TrainCka, ResumeWithAnotherProbeSetIsAnError) {
  const std::string dir = test::temp_dir("train_cka_probe_set");
  fs::copy(fs::path(*data_).parent_path().parent_path(), dir + "/data", fs::copy_options::recursive);
  const std::string data = dir + "/data/cmnist/" + fs::path(*data_).filename().string();
  TrainOptions o = cka_run(data, dir + "/run");
  o.interrupt_after_steps = 2;
  EXPECT_EQ(workflows::train(o).status, "interrupted");
  fs::remove(data::valid_split(data).samples.front().path);  // the first N validation images shift by one
  o.interrupt_after_steps = 0;
  const std::string msg = test::error_of([&] { workflows::train(o, true); });
  EXPECT_NE(msg.find(dir + "/run/cka/probe_set.json: the run's CKA probe set is 16 images"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("same validation images"), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
}

TEST(TrainCkaOptions, SettingsFieldsAndTheirRules) {
  TrainOptions o;
  o.cka_every = 3;
  o.cka_samples = 64;
  o.cka_layers = "layer[34]\\..*";
  nlohmann::json j = o.to_json();
  const TrainOptions back = TrainOptions::from_json(j, "settings.json");
  EXPECT_EQ(back.cka_every, 3);
  EXPECT_EQ(back.cka_samples, 64);
  EXPECT_EQ(back.cka_layers, o.cka_layers);
  // A run made before these options: its settings.json reads as CKA off.
  for (const char* k : {"cka_every", "cka_samples", "cka_layers"}) j.erase(k);
  const TrainOptions old = TrainOptions::from_json(j, "settings.json");
  EXPECT_EQ(old.cka_every, 0);
  EXPECT_EQ(old.cka_samples, 512);
  EXPECT_EQ(old.cka_layers, "all");
  TrainOptions bad = o;
  bad.data = "d";
  bad.out = "r";
  bad.cka_samples = 3;
  EXPECT_NE(test::error_of([&] { bad.validate(); }).find("--cka-samples 3"), std::string::npos);
  bad.cka_samples = 64;
  bad.cka_layers = "layer[";
  EXPECT_NE(test::error_of([&] { bad.validate(); }).find("--cka-layers layer["), std::string::npos);
  bad.cka_layers = "all";
  bad.cka_every = -1;
  EXPECT_NE(test::error_of([&] { bad.validate(); }).find("--cka-every -1"), std::string::npos);
  EXPECT_EQ(workflows::find_train_field("cka_every")->on_resume, workflows::OnResume::Fixed);
}

}  // namespace
}  // namespace biascka
