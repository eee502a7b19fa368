// The reproduce grid on a tiny dataset: every output, resuming after interruptions gives the same tables
// as an uninterrupted run, and shards merged with collect give the single-machine tables.
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/io/atomic_file.h"
#include "tests/support/test_support.h"
#include "tests/support/tiny_dataset.h"
#include "tests/support/tiny_grid.h"
#include "workflows/reproduce.h"

namespace biascka {
namespace {

namespace fs = std::filesystem;
using test::tiny_grid;

nlohmann::json tables(const std::string& out) {
  return nlohmann::json::parse(read_file(out + "/table.json"));
}

class Reproduce : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new std::string(test::temp_dir("reproduce_data"));
    test::tiny_cmnist(*root_);
    straight_ = new std::string(test::temp_dir("reproduce_straight"));
    ASSERT_EQ(workflows::reproduce(tiny_grid(*root_, *straight_)), 0);
  }
  static void TearDownTestSuite() {
    delete root_;
    delete straight_;
  }
  static std::string *root_, *straight_;
};
std::string* Reproduce::root_ = nullptr;
std::string* Reproduce::straight_ = nullptr;

TEST_F(Reproduce, WritesEveryOutput) {
  for (const char* f : {"table.md", "table.csv", "table.json", "figure1.png", "curves.png", "report.md"})
    EXPECT_TRUE(fs::exists(*straight_ + "/" + f)) << f;
  const auto t = tables(*straight_);
  ASSERT_EQ(t["headline"]["rows"].size(), 2u);
  EXPECT_EQ(t["headline"]["rows"][0]["objective"], "sce");
  EXPECT_EQ(t["headline"]["rows"][0]["cells"]["cmnist"]["n"], 2);
  EXPECT_TRUE(fs::exists(*straight_ + "/runs/cmnist/nll/seed0/cka/cka.json"));
  EXPECT_FALSE(fs::exists(*straight_ + "/runs/cmnist/nll/seed1/cka"));  // Figure 1 uses the first seed
  EXPECT_EQ(t["published"]["sce"]["cmnist"]["mean"], 95.31);
  const std::string md = read_file(*straight_ + "/table.md");
  EXPECT_NE(md.find("Probabilistic"), std::string::npos);
  EXPECT_NE(md.find("L_NLL"), std::string::npos);
}

TEST_F(Reproduce, InterruptedAndResumedGivesTheSameTables) {
  const std::string out = test::temp_dir("reproduce_interrupted");
  workflows::ReproduceOptions o = tiny_grid(*root_, out);
  o.interrupt_after_steps = 5;  // each call stops inside some run's second epoch or earlier
  int calls = 0;
  while (workflows::reproduce(o) == 130) ASSERT_LT(++calls, 40);
  EXPECT_GT(calls, 2);
  EXPECT_EQ(tables(out), tables(*straight_));
  EXPECT_EQ(read_file(out + "/runs/cmnist/sce/seed0/cka/cka.csv"),
            read_file(*straight_ + "/runs/cmnist/sce/seed0/cka/cka.csv"));
}

TEST_F(Reproduce, ShardsCollectedGiveTheSameTables) {
  const std::string dir = test::temp_dir("reproduce_shards");
  std::vector<std::string> shards;
  for (int i = 0; i < 3; ++i) {
    workflows::ReproduceOptions o = tiny_grid(*root_, dir + "/shard" + std::to_string(i));
    o.shard_index = i;
    o.shard_count = 3;
    ASSERT_EQ(workflows::reproduce(o), 0);
    shards.push_back(o.out);
  }
  workflows::collect(shards, dir + "/merged", "test");
  EXPECT_EQ(tables(dir + "/merged"), tables(*straight_));
  EXPECT_THROW(workflows::collect({shards[0], shards[0]}, dir + "/twice", "test"),
               Error);  // a run counted twice
}

// --gpus runs one worker process per device; with CPU workers (-1) the machinery runs anywhere.
TEST_F(Reproduce, ConcurrentWorkersGiveTheSameTables) {
  const std::string out = test::temp_dir("reproduce_workers");
  workflows::ReproduceOptions o = tiny_grid(*root_, out);
  o.gpus = {-1, -1};
  o.worker_exe = std::string(BIASCKA_BINARY_DIR) + "/bin/biascka";
  ASSERT_EQ(workflows::reproduce(o), 0);
  EXPECT_EQ(tables(out), tables(*straight_));
  EXPECT_TRUE(fs::exists(out + "/runs/cmnist/sce/seed1/worker.log"));
}

TEST(ReproduceGrid, PlanAndBadShards) {
  workflows::ReproduceOptions o;
  o.data_root = "/nonexistent";
  o.out = "/tmp/x";
  std::vector<std::string> missing;
  EXPECT_TRUE(workflows::plan_grid(o, &missing).empty());
  EXPECT_EQ(missing.size(), 3u);
  o.shard_index = 3;
  o.shard_count = 3;
  EXPECT_THROW(workflows::plan_grid(o, nullptr), Error);
}

}  // namespace
}  // namespace biascka
