// A run folder under attack, through the real program: a second writer, a lock left by a killed process,
// hand-edited settings.json and damaged checkpoints on --resume, Ctrl-C at every moment of a run, and the
// temporaries a killed write leaves behind (issue 11, classes 4, 5 and 7). Set BIASCKA_EXE to run the
// program-level tests against another build.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "engine/error.h"
#include "engine/io/atomic_file.h"
#include "engine/io/safetensors.h"
#include "tests/support/cli_run.h"
#include "tests/support/test_support.h"
#include "tests/support/tiny_dataset.h"
#include "tests/support/tiny_runs.h"
#include "workflows/checkpoint.h"
#include "workflows/progress.h"
#include "workflows/run_lock.h"
#include "workflows/train.h"

namespace biascka {
namespace {

namespace fs = std::filesystem;
using test::Background;
using test::CliResult;
using test::run_biascka;

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

std::string train_args(const std::string& data, const std::string& out, const std::string& extra = "") {
  return "train --data " + data + " --out " + out + " --seed 5 --epochs 2 --batch 32 --workers 1 --quiet " +
         extra;
}

std::vector<std::string> temporaries(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (contains(e.path().filename().string(), ".tmp-")) out.push_back(e.path().string());
  return out;
}

void flip_bit(const std::string& path, uint64_t offset_from_end) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(0, std::ios::end);
  const auto pos = static_cast<std::streamoff>(f.tellg()) - static_cast<std::streamoff>(offset_from_end);
  f.seekg(pos);
  char c = 0;
  f.read(&c, 1);
  c ^= 0x10;
  f.seekp(pos);
  f.write(&c, 1);
}

class RunSafety : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    data_ = new std::string(test::tiny_cmnist(test::temp_dir("safety_data")));
    // A small run interrupted in its second epoch (best.safetensors of epoch 1, a mid-epoch
    // last.safetensors).
    interrupted_ = new std::string(test::temp_dir("safety_interrupted") + "/run");
    workflows::TrainOptions o = test::tiny_train_options(*data_, *interrupted_);
    o.max_train = 64;  // two batches an epoch
    o.max_eval = 40;
    o.interrupt_after_steps = 3;
    ASSERT_EQ(workflows::train(o).status, "interrupted");
  }
  static void TearDownTestSuite() {
    delete data_;
    delete interrupted_;
  }
  // A fresh copy of the interrupted run.
  static std::string copy_of_interrupted(const std::string& name) {
    const std::string dir = test::temp_dir(name) + "/run";
    fs::copy(*interrupted_, dir, fs::copy_options::recursive);
    return dir;
  }
  static std::string *data_, *interrupted_;
};
std::string* RunSafety::data_ = nullptr;
std::string* RunSafety::interrupted_ = nullptr;

// ---- class 4: one run folder, one writer ----

TEST(RunLock, IsExclusiveAndNamesItsHolder) {
  const std::string dir = test::temp_dir("lock_unit");
  {
    const workflows::RunLock a(dir, "first");
    try {
      const workflows::RunLock b(dir, "second");
      ADD_FAILURE() << "a second lock on one folder was granted";
    } catch (const Error& e) {
      EXPECT_TRUE(contains(e.what(), "PID " + std::to_string(getpid()) + ", first")) << e.what();
    }
  }
  const workflows::RunLock again(dir, "third");  // released with its holder
}

TEST_F(RunSafety, ASecondWriterIsRefusedNamingTheHoldersPid) {
  const std::string dir = test::temp_dir("lock_second_writer");
  const std::string pid = "PID " + std::to_string(getpid());
  {
    const workflows::RunLock held(dir + "/run", "test");
    const CliResult r = run_biascka(train_args(*data_, dir + "/run"));
    EXPECT_EQ(r.code, 1) << r.output;
    EXPECT_TRUE(contains(r.output, "in use by another biascka process (" + pid)) << r.output;
    EXPECT_EQ(r.lines(), 1) << r.output;
    EXPECT_FALSE(fs::exists(dir + "/run/settings.json"));
  }
  const std::string resumable = copy_of_interrupted("lock_second_resume");
  {
    const workflows::RunLock held(resumable, "test");
    const CliResult r = run_biascka("train --resume " + resumable + " --workers 1 --quiet");
    EXPECT_EQ(r.code, 1) << r.output;
    EXPECT_TRUE(contains(r.output, pid)) << r.output;
  }
  const std::string root = fs::path(*data_).parent_path().parent_path().string();
  const std::string grid = "reproduce --data-root " + root +
                           " --datasets cmnist --losses sce --seeds 1 --epochs 1 --batch 32 --workers 1 "
                           "--cka-batch 20 --cka-layers 'layer4.*' --quiet --out " +
                           dir + "/grid";
  {
    const workflows::RunLock held(dir + "/grid", "test");  // the whole output folder
    const CliResult r = run_biascka(grid);
    EXPECT_EQ(r.code, 1) << r.output;
    EXPECT_TRUE(contains(r.output, pid)) << r.output;
  }
  {
    const workflows::RunLock held(dir + "/grid/runs/cmnist/sce/seed0", "test");  // one run of the grid
    const CliResult r = run_biascka(grid);
    EXPECT_EQ(r.code, 1) << r.output;
    EXPECT_TRUE(contains(r.output, pid)) << r.output;
    EXPECT_FALSE(fs::exists(dir + "/grid/runs/cmnist/sce/seed0/settings.json"));
  }
  {
    const workflows::RunLock held(dir + "/cka", "test");
    const CliResult r =
        run_biascka("cka --checkpoint " + *interrupted_ + "/best.safetensors --data " + root +
                    "/cmnist/test --layers 'layer4.*' --batch 20 --quiet --out " + dir + "/cka");
    EXPECT_EQ(r.code, 1) << r.output;
    EXPECT_TRUE(contains(r.output, pid)) << r.output;
  }
}

TEST_F(RunSafety, TwoTrainsOnOneFolderLeaveOneConsistentRun) {
  const std::string run = test::temp_dir("lock_two_trains") + "/run";
  Background a({"train", "--data", *data_, "--out", run, "--seed", "1", "--epochs", "2", "--batch", "32",
                "--workers", "1", "--quiet", "--max-train", "64", "--max-eval", "40"});
  Background b({"train", "--data", *data_, "--out", run, "--seed", "2", "--epochs", "2", "--batch", "32",
                "--workers", "1", "--quiet", "--max-train", "64", "--max-eval", "40"});
  const CliResult ra = a.wait(), rb = b.wait();
  EXPECT_EQ((ra.code == 0) + (rb.code == 0), 1) << ra.output << "\n" << rb.output;
  const CliResult& loser = ra.code == 0 ? rb : ra;
  EXPECT_EQ(loser.code, 1) << loser.output;
  EXPECT_EQ(loser.lines(), 1) << loser.output;
  // Settings and checkpoints belong to the same run.
  const auto settings = nlohmann::json::parse(read_file(run + "/settings.json"));
  const TensorFile last = read_safetensors(run + "/last.safetensors");
  EXPECT_EQ(nlohmann::json::parse(last.metadata.at("settings"))["seed"], settings["seed"]);
}

TEST_F(RunSafety, ALockLeftByAKilledProcessDoesNotBlock) {
  const std::string run = test::temp_dir("lock_killed") + "/run";
  Background holder({"train", "--data", *data_, "--out", run, "--seed", "5", "--epochs", "50", "--batch",
                     "32", "--workers", "1", "--quiet", "--max-train", "64", "--max-eval", "40"});
  const std::string want = std::to_string(holder.pid()) + " ";
  ASSERT_TRUE(holder.wait_until([&] {
    std::ifstream in(run + "/.lock");
    std::string text((std::istreambuf_iterator<char>(in)), {});
    return text.starts_with(want) && fs::exists(run + "/last.safetensors");
  })) << holder.wait().output;
  holder.signal(SIGKILL);
  EXPECT_EQ(holder.wait().signal, SIGKILL);
  // The kernel dropped the dead holder's lock: the run resumes at once (for fewer epochs: a resumed run
  // may change them).
  auto settings = nlohmann::json::parse(read_file(run + "/settings.json"));
  settings["epochs"] = 2;
  write_text_atomic(run + "/settings.json", settings.dump(2));
  const CliResult r = run_biascka("train --resume " + run + " --workers 1 --quiet");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(temporaries(run).empty());
}

// Shards of one output folder write different runs: each holds its own shard lock, and the tables are
// written one shard at a time, so the last shard to finish writes the tables of every run.
TEST_F(RunSafety, ShardsOfOneOutputFolderRunSideBySide) {
  const std::string out = test::temp_dir("lock_shards") + "/grid";
  const std::string root = fs::path(*data_).parent_path().parent_path().string();
  std::vector<std::string> args = {
      "reproduce",    "--data-root", root,       "--datasets", "cmnist",  "--losses",    "sce",
      "--seeds",      "2",           "--epochs", "1",          "--batch", "32",          "--max-train",
      "64",           "--max-eval",  "40",       "--workers",  "1",       "--cka-batch", "20",
      "--cka-layers", "layer4.*",    "--quiet",  "--out",      out,       "--shard"};
  std::vector<std::string> first = args, second = args;
  first.push_back("0/2");
  second.push_back("1/2");
  Background a(first), b(second);
  const CliResult ra = a.wait(), rb = b.wait();
  ASSERT_EQ(ra.code, 0) << ra.output;
  ASSERT_EQ(rb.code, 0) << rb.output;
  const auto table = nlohmann::json::parse(read_file(out + "/table.json"));
  EXPECT_EQ(table["headline"]["rows"][0]["cells"]["cmnist"]["n"], 2) << table.dump();
  EXPECT_TRUE(fs::exists(out + "/runs/cmnist/sce/seed0/cka/cka.json"));
}

// ---- class 5: resume trusts nothing it reads ----

TEST_F(RunSafety, EditedSettingsAreRefusedOnResumeNamingTheFileAndField) {
  struct Edit {
    const char* field;
    nlohmann::json value;
  };
  const std::vector<Edit> edits = {
      {"lr", -1},
      {"batch", int64_t{1000000000000}},
      {"seed", -1},
      {"loss", "bce"},
      {"epochs", "abc"},
      {"lr", 0.01},  // a valid value, but not the one the checkpoint was trained with
      {"image_size", 100000},
      {"stem", "cifar"}};
  int i = 0;
  for (const Edit& e : edits) {
    const std::string run = copy_of_interrupted("resume_edit_" + std::to_string(i++));
    auto settings = nlohmann::json::parse(read_file(run + "/settings.json"));
    settings[e.field] = e.value;
    write_text_atomic(run + "/settings.json", settings.dump(2));
    const CliResult r = run_biascka("train --resume " + run + " --workers 1 --quiet");
    EXPECT_EQ(r.code, 1) << e.field << " = " << e.value << ": " << r.output;
    EXPECT_EQ(r.lines(), 1) << r.output;
    EXPECT_TRUE(contains(r.output, run + "/settings.json: ")) << r.output;
    EXPECT_TRUE(contains(r.output, e.field)) << r.output;
    EXPECT_FALSE(fs::exists(run + "/summary.json"));
  }
  const std::string run = copy_of_interrupted("resume_edit_json");
  write_text_atomic(run + "/settings.json", "{\"lr\": 0.001,");
  const CliResult r = run_biascka("train --resume " + run + " --quiet");
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_TRUE(contains(r.output, run + "/settings.json: not valid JSON")) << r.output;
}

TEST_F(RunSafety, ADamagedCheckpointIsRefusedNamingTheFile) {
  // One bit in the last tensor's bytes (the end of the file), and one in the run state (the header).
  const std::string run = copy_of_interrupted("resume_bitflip");
  flip_bit(run + "/last.safetensors", 100);
  CliResult r = run_biascka("train --resume " + run + " --workers 1 --quiet");
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_TRUE(contains(r.output, run + "/last.safetensors: checksum mismatch")) << r.output;
  EXPECT_EQ(r.lines(), 1) << r.output;

  const std::string run2 = copy_of_interrupted("resume_bitflip_state");
  {
    std::string bytes = read_file(run2 + "/last.safetensors");
    const size_t at = bytes.find("\\\"epoch\\\":1");  // run_state is JSON inside the header's JSON
    ASSERT_NE(at, std::string::npos);
    bytes[at + 10] = '0';
    write_text_atomic(run2 + "/last.safetensors", bytes);
  }
  r = run_biascka("train --resume " + run2 + " --workers 1 --quiet");
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "last.safetensors: checksum mismatch")) << r.output;

  const std::string best = copy_of_interrupted("eval_bitflip") + "/best.safetensors";
  flip_bit(best, 4000);
  const std::string test_split = fs::path(*data_).parent_path().string() + "/test";
  r = run_biascka("eval --checkpoint " + best + " --data " + test_split + " --quiet");
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_TRUE(contains(r.output, best + ": checksum mismatch")) << r.output;
}

TEST_F(RunSafety, CheckpointsWithoutAChecksumStillLoad) {
  const std::string dir = test::temp_dir("no_checksum");
  const TensorFile best = read_safetensors(*interrupted_ + "/best.safetensors");
  Metadata old_format = best.metadata;  // as biascka wrote it before checksums
  old_format.erase("checksum");
  write_safetensors(dir + "/old.safetensors", best.tensors, old_format);
  write_safetensors(dir + "/torch.safetensors", best.tensors, {});  // as a PyTorch export
  const std::string test_split = fs::path(*data_).parent_path().string() + "/test";
  CliResult r =
      run_biascka("eval --checkpoint " + dir + "/old.safetensors --data " + test_split + " --quiet");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "warning: " + dir + "/old.safetensors: no checksum")) << r.output;
  r = run_biascka("eval --checkpoint " + dir + "/torch.safetensors --data " + test_split + " --quiet");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_FALSE(contains(r.output, "warning")) << r.output;
}

TEST(Checkpoint, ChecksumCoversNamesShapesBytesAndMetadata) {
  const Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({3, 2});
  const std::string base = workflows::checkpoint_checksum({{"x", a}}, {{"k", "v"}});
  EXPECT_TRUE(base.starts_with("xxh3-128:")) << base;
  EXPECT_EQ(base.size(), 9u + 32u);
  EXPECT_EQ(base, workflows::checkpoint_checksum({{"x", a}}, {{"k", "v"}, {"checksum", "anything"}}));
  EXPECT_NE(base, workflows::checkpoint_checksum({{"y", a}}, {{"k", "v"}}));
  EXPECT_NE(base, workflows::checkpoint_checksum({{"x", b}}, {{"k", "v"}}));
  EXPECT_NE(base, workflows::checkpoint_checksum({{"x", a}}, {{"k", "w"}}));
  Tensor c = Tensor::zeros({2, 3});
  c.data<float>()[5] = 1e-30f;
  EXPECT_NE(base, workflows::checkpoint_checksum({{"x", c}}, {{"k", "v"}}));
}

// ---- class 7: signals and the temporaries of killed writes ----

// A Ctrl-C before anything exists: the program is blocked reading settings.json (a FIFO the test holds
// open), long before any training.
TEST_F(RunSafety, ASignalBeforeAnyWorkExitsAtOnceWith128PlusItsNumber) {
  for (const int sig : {SIGINT, SIGTERM}) {
    const std::string run = test::temp_dir("signal_early_" + std::to_string(sig)) + "/run";
    fs::create_directories(run);
    const std::string fifo = run + "/settings.json";
    ASSERT_EQ(mkfifo(fifo.c_str(), 0644), 0);
    Background p({"train", "--resume", run, "--quiet"});
    int fd = -1;  // opens once the program waits on the FIFO's other end
    ASSERT_TRUE(p.wait_until([&] { return (fd = open(fifo.c_str(), O_WRONLY | O_NONBLOCK)) >= 0; }))
        << p.wait().output;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    p.signal(sig);
    const CliResult r = p.wait();
    close(fd);
    EXPECT_EQ(r.signal, 0) << "ended by signal " << r.signal << " instead of exiting";
    EXPECT_EQ(r.code, 128 + sig) << r.output;
  }
}

// Whether process `pid` catches signal `sig` (its handler is installed), from /proc/PID/status.
bool catches(pid_t pid, int sig) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.starts_with("SigCgt:")) return (std::stoull(line.substr(7), nullptr, 16) >> (sig - 1)) & 1;
  return false;
}

int metrics_lines(const std::string& run) {
  std::ifstream in(run + "/metrics.jsonl");
  return static_cast<int>(std::count(std::istreambuf_iterator<char>(in), {}, '\n'));
}

// Ctrl-C (once, or twice in quick succession) in every phase of a run, each recognised by what the run
// has written so far (so that the phases are hit whatever the machine's load): every time the program
// exits 130, and the same command (--resume once the run exists) then finishes with exactly the numbers
// and weights of an uninterrupted run, leaving no temporary behind. (No program can handle a signal
// that arrives while the dynamic loader is still mapping its libraries, before main(): the test waits
// for the handler, which main() installs before anything else.)
TEST_F(RunSafety, CtrlCInEveryPhaseExits130AndResumesExactly) {
  const std::string dir = test::temp_dir("signal_phases");
  const std::string small = "--max-train 64 --max-eval 40";  // two batches an epoch
  const CliResult straight = run_biascka(train_args(*data_, dir + "/straight", small));
  ASSERT_EQ(straight.code, 0) << straight.output;
  struct Phase {
    const char* name;
    std::function<bool(const std::string& run)> reached;
    bool twice;
  };
  const std::vector<Phase> phases = {
      {"start", [](const std::string&) { return true; }, false},
      {"data loaded", [](const std::string& run) { return fs::exists(run + "/settings.json"); }, true},
      {"writing a checkpoint",
       [](const std::string& run) { return fs::exists(run) && !temporaries(run).empty(); }, false},
      {"second epoch", [](const std::string& run) { return fs::exists(run + "/last.safetensors"); }, true},
      {"final evaluation", [](const std::string& run) { return metrics_lines(run) == 2; }, false},
      {"final evaluation, twice", [](const std::string& run) { return metrics_lines(run) == 2; }, true}};
  int interrupted = 0, k = 0;
  for (const Phase& phase : phases) {
    const std::string run = dir + "/phase" + std::to_string(k++);
    Background p({"train", "--data", *data_, "--out", run, "--seed", "5", "--epochs", "2", "--batch", "32",
                  "--workers", "1", "--quiet", "--max-train", "64", "--max-eval", "40"});
    const bool sent = p.wait_until([&] { return catches(p.pid(), SIGINT) && phase.reached(run); });
    if (sent) p.signal(SIGINT);
    if (sent && phase.twice) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      p.signal(SIGINT);
    }
    const CliResult r = p.wait();
    std::printf("%s: %s\n", phase.name, sent ? "signalled" : "passed before a look (not signalled)");
    EXPECT_EQ(r.signal, 0) << phase.name << ": ended by signal " << r.signal;
    if (!sent) continue;
    EXPECT_EQ(r.code, 130) << phase.name << " (a SIGINT that was ignored?): " << r.output;
    if (r.code != 130) continue;
    ++interrupted;
    const CliResult again = fs::exists(run + "/settings.json")
                                ? run_biascka("train --resume " + run + " --workers 1 --quiet")
                                : run_biascka(train_args(*data_, run, small));
    ASSERT_EQ(again.code, 0) << phase.name << ": " << again.output;
    EXPECT_EQ(test::epoch_metrics(run), test::epoch_metrics(dir + "/straight")) << phase.name;
    EXPECT_EQ(test::tensor_difference(run + "/best.safetensors", dir + "/straight/best.safetensors"), "")
        << phase.name;
    EXPECT_TRUE(temporaries(run).empty()) << temporaries(run).front();
  }
  EXPECT_GE(interrupted, 4);
}

// SIGTERM is how Slurm (and most schedulers) announce preemption, a requeue or the time limit: mid-run it
// saves a mid-epoch checkpoint and exits 143 like Ctrl-C exits 130, with no summary (the run is not done).
TEST_F(RunSafety, SigtermDuringTrainingSavesAndExits143) {
  const std::string run = test::temp_dir("sigterm_training") + "/run";
  Background p({"train",    "--data",  *data_,        "--out", run,          "--seed", "5",
                "--epochs", "1000",    "--patience",  "1000",  "--batch",    "32",     "--workers",
                "1",        "--quiet", "--max-train", "64",    "--max-eval", "40"});
  ASSERT_TRUE(p.wait_until([&] {
    return catches(p.pid(), SIGTERM) && fs::exists(run + "/last.safetensors");
  })) << "the run ended before its first epoch was saved";
  const auto first_save = fs::last_write_time(run + "/last.safetensors");
  p.signal(SIGTERM);
  const CliResult r = p.wait();
  EXPECT_EQ(r.signal, 0) << "ended by signal " << r.signal;
  EXPECT_EQ(r.code, 143) << r.output;
  EXPECT_GE(fs::last_write_time(run + "/last.safetensors"), first_save);
  EXPECT_FALSE(fs::exists(run + "/summary.json"));
  EXPECT_TRUE(temporaries(run).empty());
}

TEST_F(RunSafety, TemporariesOfKilledWritesAreRemovedByTheNextRun) {
  const std::string run = copy_of_interrupted("temporaries");
  const pid_t dead = fork();  // a PID that is no process any more
  if (dead == 0) _exit(0);
  waitpid(dead, nullptr, 0);
  const std::string stale = run + "/last.safetensors.tmp-" + std::to_string(dead);
  const std::string live = run + "/eval.json.tmp-" + std::to_string(getpid());  // a writer still at work
  write_text_atomic(stale, std::string(1 << 20, 'x'));
  write_text_atomic(live, "{}");
  const CliResult r = run_biascka("train --resume " + run + " --workers 1 --quiet");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(live));
}

}  // namespace
}  // namespace biascka
