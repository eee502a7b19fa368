// The training workflow on a tiny dataset: outputs, bit-for-bit determinism on the CPU, exact resume after
// an interruption mid-epoch, a finished run left alone, no silent overwrite,
// and divergence stopping the run.
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/io/atomic_file.h"
#include "engine/io/safetensors.h"
#include "tests/support/test_support.h"
#include "tests/support/tiny_dataset.h"
#include "tests/support/tiny_runs.h"
#include "workflows/train.h"

namespace biascka {
namespace {

namespace fs = std::filesystem;
using workflows::TrainOptions;

using test::epoch_metrics;
using test::tiny_train_options;

void expect_same_weights(const std::string& a, const std::string& b) {
  EXPECT_EQ(test::tensor_difference(a, b), "") << a << " vs " << b;
}

class Train : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { data_ = new std::string(test::tiny_cmnist(test::temp_dir("train_data"))); }
  static void TearDownTestSuite() { delete data_; }
  static std::string* data_;
};
std::string* Train::data_ = nullptr;

TEST_F(Train, WritesEveryOutputAndLearns) {
  const std::string run = test::temp_dir("train_outputs") + "/run";
  const auto r = workflows::train(tiny_train_options(*data_, run));
  EXPECT_EQ(r.status, "finished");
  for (const char* f :
       {"settings.json", "metrics.jsonl", "best.safetensors", "last.safetensors", "summary.json"})
    EXPECT_TRUE(fs::exists(run + "/" + f)) << f;
  EXPECT_EQ(epoch_metrics(run).size(), 3u);
  const auto s = nlohmann::json::parse(read_file(run + "/summary.json"));
  EXPECT_EQ(s["status"], "finished");
  for (const char* k :
       {"accuracy", "aligned_accuracy", "conflicting_accuracy", "unbiased_accuracy", "worst_group_accuracy"})
    EXPECT_TRUE(s["test"][k].is_number()) << k;
  // The worst group is no better than the aligned or conflicting samples (weighted means of groups), and
  // the unbiased accuracy (a plain mean of the groups) lies between it and the best group.
  const double worst = s["test"]["worst_group_accuracy"], unbiased = s["test"]["unbiased_accuracy"];
  EXPECT_LE(worst, s["test"]["aligned_accuracy"].get<double>());
  EXPECT_LE(worst, s["test"]["conflicting_accuracy"].get<double>());
  EXPECT_GE(unbiased, worst);
  EXPECT_GT(s["test"]["groups"].get<int>(), 10);  // 10 aligned groups and some conflicting ones
  const auto m = epoch_metrics(run);  // a few epochs on 180 images: the training loss must at least go down
  EXPECT_LT(m.back()["train_loss"].get<double>(), m.front()["train_loss"].get<double>());
  // The best checkpoint loads as a plain ResNet18 state dict with the architecture in its metadata.
  const TensorFile best = read_safetensors(run + "/best.safetensors");
  EXPECT_EQ(best.metadata.at("num_classes"), "10");
  EXPECT_EQ(best.metadata.at("head"), "linear");
  EXPECT_FALSE(best.contains("optim.step"));
  EXPECT_TRUE(read_safetensors(run + "/last.safetensors").contains("optim.step"));
}

TEST_F(Train, SameSeedSameNumbersBitForBit) {
  const std::string dir = test::temp_dir("train_determinism");
  workflows::train(tiny_train_options(*data_, dir + "/a", "nll"));
  workflows::train(tiny_train_options(*data_, dir + "/b", "nll"));
  EXPECT_EQ(epoch_metrics(dir + "/a"), epoch_metrics(dir + "/b"));
  expect_same_weights(dir + "/a/last.safetensors", dir + "/b/last.safetensors");
  TrainOptions other = tiny_train_options(*data_, dir + "/c", "nll");
  other.seed = 6;
  workflows::train(other);
  EXPECT_NE(epoch_metrics(dir + "/a"), epoch_metrics(dir + "/c"));
}

TEST_F(Train, ResumeAfterAnInterruptionIsExact) {
  const std::string dir = test::temp_dir("train_resume");
  workflows::train(tiny_train_options(*data_, dir + "/straight"));
  TrainOptions o = tiny_train_options(*data_, dir + "/stopped");
  o.interrupt_after_steps = 7;  // epoch 2, mid-way (5 batches of 32 per epoch)
  EXPECT_EQ(workflows::train(o).status, "interrupted");
  EXPECT_FALSE(fs::exists(dir + "/stopped/summary.json"));
  o.interrupt_after_steps = 4;  // and once more, from the mid-epoch checkpoint
  EXPECT_EQ(workflows::train(o, true).status, "interrupted");
  o.interrupt_after_steps = 0;
  EXPECT_EQ(workflows::train(o, true).status, "finished");
  EXPECT_EQ(epoch_metrics(dir + "/straight"), epoch_metrics(dir + "/stopped"));
  expect_same_weights(dir + "/straight/best.safetensors", dir + "/stopped/best.safetensors");
  expect_same_weights(dir + "/straight/last.safetensors", dir + "/stopped/last.safetensors");
}

TEST_F(Train, FinishedRunsAreLeftAloneAndNeverOverwritten) {
  const std::string run = test::temp_dir("train_finished") + "/run";
  workflows::train(tiny_train_options(*data_, run));
  const auto before = fs::last_write_time(run + "/best.safetensors");
  EXPECT_EQ(workflows::train(tiny_train_options(*data_, run), true).status, "finished");
  EXPECT_EQ(fs::last_write_time(run + "/best.safetensors"), before);
  try {
    workflows::train(tiny_train_options(*data_, run));
    ADD_FAILURE() << "a second run into the same folder was allowed";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("already holds a run"), std::string::npos) << e.what();
  }
}

TEST_F(Train, ANonFiniteLossStopsTheRunNamingEpochAndStep) {
  const std::string run = test::temp_dir("train_diverge") + "/run";
  TrainOptions o = tiny_train_options(*data_, run, "sos");
  o.lr = 3e38f;  // Adam moves every weight by ~lr: the logits overflow at the next step
  try {
    workflows::train(o);
    ADD_FAILURE() << "training with lr 1e30 did not diverge";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("at epoch 1, step "), std::string::npos) << msg;
    EXPECT_NE(msg.find(run), std::string::npos) << msg;
  }
  const auto s = nlohmann::json::parse(read_file(run + "/summary.json"));
  EXPECT_EQ(s["status"], "diverged");
}

TEST_F(Train, BadInputIsAOneLineError) {
  const std::string dir = test::temp_dir("train_bad");
  EXPECT_THROW(workflows::train(tiny_train_options(dir + "/nothing", dir + "/r1")), Error);
  EXPECT_THROW(workflows::train(tiny_train_options(*data_, dir + "/r2", "focal")), Error);
  TrainOptions o = tiny_train_options(*data_, dir + "/r3");
  o.batch = 1;
  EXPECT_THROW(workflows::train(o), Error);
}

}  // namespace
}  // namespace biascka
