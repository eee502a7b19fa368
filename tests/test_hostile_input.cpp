// Bad options and bad data through the real program (issue 11, classes 6, 8 and 9): a training set of
// k * batch + 1 images, every message naming its option or file in one line (no bare `stoi`, no JSON
// library text, no abort or hang on huge thread counts, control characters escaped), CKA saying what it
// cannot do before doing it, and nothing silently accepted (a stray label, NaN weights, NaN activations,
// a NaN learning rate, a diverged run claiming a checkpoint). Set BIASCKA_EXE to run them against
// another build.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/error.h"
#include "engine/io/atomic_file.h"
#include "engine/io/safetensors.h"
#include "engine/random.h"
#include "models/resnet18.h"
#include "tests/support/cli_run.h"
#include "tests/support/test_support.h"
#include "tests/support/tiny_dataset.h"
#include "tests/support/tiny_runs.h"
#include "workflows/checkpoint.h"
#include "workflows/progress.h"
#include "workflows/train.h"

namespace biascka {
namespace {

namespace fs = std::filesystem;
using test::CliResult;
using test::run_biascka;

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// One line "biascka: error: ..." that mentions `part`, a non-zero exit, and no signal.
::testing::AssertionResult one_line_error(const CliResult& r, const std::string& part) {
  if (r.signal) return ::testing::AssertionFailure() << "ended by signal " << r.signal << ": " << r.output;
  if (r.code == 0) return ::testing::AssertionFailure() << "exit 0: " << r.output;
  if (r.lines() != 1 || !r.output.starts_with("biascka: error: "))
    return ::testing::AssertionFailure() << "not one error line: " << r.output;
  if (!contains(r.output, part))
    return ::testing::AssertionFailure() << "no '" << part << "' in: " << r.output;
  return ::testing::AssertionSuccess();
}

class HostileInput : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new std::string(test::temp_dir("hostile_data"));
    data_ = new std::string(test::tiny_cmnist(*root_));
  }
  static void TearDownTestSuite() {
    delete root_;
    delete data_;
  }
  static std::string test_split() { return *root_ + "/cmnist/test"; }
  // A copy of the tiny dataset, to add a bad file to.
  static std::string copy_of_data(const std::string& name) {
    const std::string dir = test::temp_dir(name);
    fs::copy(*root_ + "/cmnist", dir + "/cmnist", fs::copy_options::recursive);
    return dir + "/cmnist/5pct";
  }
  static std::string *root_, *data_;
};
std::string* HostileInput::root_ = nullptr;
std::string* HostileInput::data_ = nullptr;

std::string train_args(const std::string& data, const std::string& out, const std::string& extra = "") {
  return "train --data " + data + " --out " + out + " --seed 5 --epochs 2 --batch 32 --workers 1 --quiet " +
         extra;
}

// A model with fc.weight[0, 0] = NaN, saved as a checkpoint (with a valid checksum).
std::string nan_checkpoint(const std::string& dir) {
  ResNet18 model({}, 3);
  for (auto& [name, t] : model.named_parameters())
    if (name == "fc.weight") t.data<float>()[0] = std::numeric_limits<float>::quiet_NaN();
  workflows::save_checkpoint(dir + "/nan.safetensors", model, nullptr, nullptr, {});
  return dir + "/nan.safetensors";
}

// ---- class 6: a training set of k * batch + 1 ----

TEST_F(HostileInput, ATrainingSetOfKBatchesPlusOneTrains) {
  const std::string run = test::temp_dir("batch_edge") + "/run";
  const CliResult r = run_biascka(train_args(*data_, run, "--max-train 161"));  // 5 * 32 + 1
  ASSERT_EQ(r.code, 0) << r.output;
  const auto s = nlohmann::json::parse(read_file(run + "/summary.json"));
  EXPECT_EQ(s["status"], "finished");
  EXPECT_EQ(s["epochs_run"], 2);
}

// ---- class 8: messages that name their option or file ----

TEST_F(HostileInput, OptionValuesAreCheckedNamingTheOption) {
  const std::string out = test::temp_dir("bad_options");
  const std::string grid = "reproduce --data-root " + *root_ + " --out " + out + "/grid ";
  EXPECT_TRUE(one_line_error(run_biascka(grid + "--shard a/b"), "--shard"));
  EXPECT_TRUE(one_line_error(run_biascka(grid + "--shard 1/99999999999999"), "--shard"));
  EXPECT_TRUE(one_line_error(run_biascka(grid + "--gpus abc"), "--gpus"));
  EXPECT_TRUE(one_line_error(run_biascka(grid + "--gpus 0,,-3"), "--gpus"));
  EXPECT_TRUE(
      one_line_error(run_biascka(train_args(*data_, out + "/r1", "--image-size 100000")), "--image-size"));
  EXPECT_TRUE(one_line_error(run_biascka(train_args(*data_, out + "/r2", "--lr nan")), "--lr"));
  EXPECT_TRUE(one_line_error(run_biascka(train_args(*data_, out + "/r3", "--seed -1")), "--seed"));
  EXPECT_TRUE(one_line_error(run_biascka(train_args(*data_, out + "/r4", "--batch 1")), "--batch"));
  EXPECT_TRUE(
      one_line_error(run_biascka(train_args(*data_, out + "/r5", "--device cuda:99999999999")), "--device"));
  EXPECT_TRUE(one_line_error(run_biascka("eval --checkpoint " + nan_checkpoint(out) + " --data " +
                                         test_split() + " --workers 100000"),
                             "--workers"));
  // A thread count that would hang or exhaust the machine: refused at once (the timeout ends a hang).
  EXPECT_TRUE(one_line_error(
      run_biascka(train_args(*data_, out + "/r6", "--threads 100000"), "timeout -s KILL 60 "), "--threads"));
  // CKA's bootstrap and probes (cka/bootstrap.h, cka/probes.h): usage errors before any work.
  const std::string cka = "cka --activations /nonexistent.safetensors --quiet --out " + out + "/c";
  EXPECT_TRUE(one_line_error(run_biascka(cka + " --bootstrap -1"), "--bootstrap"));
  EXPECT_TRUE(
      one_line_error(run_biascka(cka + " --probes target,colour"), "--probes: unknown probe 'colour'"));
  EXPECT_FALSE(fs::exists(out + "/c"));
  for (int i = 1; i <= 6; ++i)
    EXPECT_FALSE(fs::exists(out + "/r" + std::to_string(i))) << i;  // before any work
}

TEST_F(HostileInput, DamagedRunFilesAreNamedNotTheJsonLibrary) {
  const std::string dir = test::temp_dir("damaged_run_files");
  workflows::TrainOptions o = test::tiny_train_options(*data_, dir + "/run");
  o.max_train = 64;  // two batches an epoch: stopped in the second
  o.max_eval = 40;
  o.interrupt_after_steps = 3;
  ASSERT_EQ(workflows::train(o).status, "interrupted");
  fs::copy(dir + "/run", dir + "/metrics", fs::copy_options::recursive);
  fs::copy(dir + "/run", dir + "/state", fs::copy_options::recursive);

  write_text_atomic(dir + "/metrics/metrics.jsonl", "{\"epoch\": 1, \"train_loss\": 0.5\n");
  CliResult r = run_biascka("train --resume " + dir + "/metrics --workers 1 --quiet");
  EXPECT_TRUE(one_line_error(r, dir + "/metrics/metrics.jsonl, line 1: not valid JSON"));

  // A run state that no longer parses, in a checkpoint whose checksum is right (as a pre-checksum file
  // would be): named, not a bare `stoull`.
  const std::string last = dir + "/state/last.safetensors";
  const TensorFile f = read_safetensors(last);
  Metadata meta = f.metadata;
  auto state = nlohmann::json::parse(meta.at("run_state"));
  state["dropout_seed"] = "x";
  meta["run_state"] = state.dump();
  meta["checksum"] = workflows::checkpoint_checksum(f.tensors, meta);
  write_safetensors(last, f.tensors, meta);
  r = run_biascka("train --resume " + dir + "/state --workers 1 --quiet");
  EXPECT_TRUE(one_line_error(r, "dropout_seed"));
  EXPECT_TRUE(contains(r.output, last)) << r.output;
  EXPECT_FALSE(contains(r.output, "stoull")) << r.output;
}

TEST_F(HostileInput, ControlCharactersInNamesAreEscaped) {
  // A file name holding a newline and an escape sequence: one line, nothing forged or coloured.
  const CliResult r = run_biascka(
      "eval --checkpoint \"$(printf '/nonexistent\\nbiascka: error: forged\\033[31m')\" --data x --quiet");
  EXPECT_TRUE(one_line_error(r, "/nonexistent\\nbiascka: error: forged\\x1b[31m"));
  EXPECT_EQ(workflows::printable("a\tb\x01\x7f\xff\xc2\x9b\xc3\xa9"),
            "a\\tb\\x01\\x7f\\xff\\xc2\\x9b\xc3\xa9");
}

TEST_F(HostileInput, CkaSaysWhatItCannotDoBeforeTheWork) {
  const std::string dir = test::temp_dir("cka_plan");
  // 4001 layers of 5 samples against one layer: too many rows for a picture, the matrix is still written.
  NamedTensors many;
  for (int i = 0; i < 4001; ++i) many.emplace_back("l" + std::to_string(i), rand_normal({5, 2}, 0, 1, i));
  write_safetensors(dir + "/many.safetensors", many);
  write_safetensors(dir + "/one.safetensors", {{"x", rand_normal({5, 3}, 0, 1, 9)}});
  CliResult r = run_biascka("cka --activations " + dir + "/many.safetensors --activations-b " + dir +
                            "/one.safetensors --batch 5 --quiet --out " + dir + "/many");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "4001 layers: more than cka.png can show")) << r.output;
  EXPECT_LT(r.output.find("more than cka.png"), r.output.find("layers over"));  // said before the result
  EXPECT_TRUE(fs::exists(dir + "/many/cka.json"));
  EXPECT_FALSE(fs::exists(dir + "/many/cka.png"));
  // Fewer samples than the estimator needs: refused before any work, naming the file.
  write_safetensors(dir + "/three.safetensors", {{"x", rand_normal({3, 4}, 0, 1, 1)}});
  r = run_biascka("cka --activations " + dir + "/three.safetensors --batch 4 --quiet --out " + dir +
                  "/three");
  EXPECT_TRUE(one_line_error(r, dir + "/three.safetensors: 3 samples, but the unbiased estimator needs"));
  // Fewer samples than one batch: said, then done with one batch.
  r = run_biascka("cka --activations " + dir +
                  "/many.safetensors --layers 'l[0-3]' --batch 512 --quiet --out " + dir + "/small");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "5 samples, fewer than one batch (--batch 512)")) << r.output;
}

// ---- class 9: nothing silently accepted ----

TEST_F(HostileInput, AStrayLabelIsRefusedNamingTheFile) {
  const std::string data = copy_of_data("stray_label");
  const std::string stray = data + "/align/0/99999_99_99.png";
  fs::copy_file(fs::directory_iterator(data + "/align/0")->path(), stray);
  CliResult r = run_biascka(train_args(data, fs::path(data).parent_path().string() + "/run"));
  EXPECT_TRUE(one_line_error(r, stray + ": label 99"));
  // In the test split, a label beyond the training classes.
  const std::string data2 = copy_of_data("stray_test_label");
  const std::string stray2 = fs::path(data2).parent_path().string() + "/test/0/99999_12_12.png";
  fs::copy_file(fs::directory_iterator(fs::path(data2).parent_path().string() + "/test/0")->path(), stray2);
  r = run_biascka(train_args(data2, fs::path(data2).parent_path().string() + "/run"));
  EXPECT_TRUE(one_line_error(r, stray2 + ": label out of range"));
}

TEST_F(HostileInput, NanWeightsAreRefusedNamingTheTensor) {
  const std::string dir = test::temp_dir("nan_weights");
  const CliResult r = run_biascka("eval --checkpoint " + nan_checkpoint(dir) + " --data " + test_split() +
                                  " --workers 1 --quiet");
  EXPECT_TRUE(one_line_error(r, "tensor 'fc.weight' holds NaN"));
}

TEST_F(HostileInput, NanActivationsAreAnErrorNamingTheLayerNotZeroVariance) {
  const std::string dir = test::temp_dir("nan_activations");
  Tensor bad = rand_normal({8, 4}, 0, 1, 2);
  bad.data<float>()[5] = std::numeric_limits<float>::quiet_NaN();
  write_safetensors(dir + "/acts.safetensors", {{"good", rand_normal({8, 4}, 0, 1, 1)}, {"bad", bad}});
  const CliResult r =
      run_biascka("cka --activations " + dir + "/acts.safetensors --batch 8 --quiet --out " + dir + "/out");
  EXPECT_TRUE(one_line_error(r, "layer 'bad': its activations hold NaN or infinite values"));
  EXPECT_FALSE(contains(r.output, "zero variance")) << r.output;
}

TEST_F(HostileInput, ARunThatDivergesBeforeAnyEpochClaimsNoCheckpoint) {
  const std::string run = test::temp_dir("diverged_early") + "/run";
  const CliResult r = run_biascka(train_args(*data_, run, "--loss sos --lr 3e38"));
  EXPECT_TRUE(one_line_error(r, "no epoch finished, so there is no best.safetensors"));
  EXPECT_FALSE(contains(r.output, "kept")) << r.output;
  EXPECT_FALSE(fs::exists(run + "/best.safetensors"));
}

}  // namespace
}  // namespace biascka
