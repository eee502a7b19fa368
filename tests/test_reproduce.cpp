// The reproduce grid on a tiny dataset: every output, resuming after interruptions gives the same tables
// as an uninterrupted run, and shards merged with collect give the single-machine tables.
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/io/atomic_file.h"
#include "tests/support/test_support.h"
#include "tests/support/tiny_dataset.h"
#include "tests/support/tiny_grid.h"
#include "workflows/cka_runs.h"
#include "workflows/claims_table.h"
#include "workflows/figures.h"
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
  for (const char* f : {"table.md", "table.csv", "table.json", "figure1.png", "cka_seed_std.png",
                        "curves.png", "probes.png", "report.md"})
    EXPECT_TRUE(fs::exists(*straight_ + "/" + f)) << f;
  const auto t = tables(*straight_);
  ASSERT_EQ(t["headline"]["rows"].size(), 2u);
  EXPECT_EQ(t["headline"]["rows"][0]["objective"], "sce");
  EXPECT_EQ(t["headline"]["rows"][0]["cells"]["cmnist"]["n"], 2);
  // Every seed has its CKA matrix (Figure 1 shows the mean over seeds).
  EXPECT_TRUE(fs::exists(*straight_ + "/runs/cmnist/nll/seed0/cka/cka.json"));
  EXPECT_TRUE(fs::exists(*straight_ + "/runs/cmnist/nll/seed1/cka/cka.json"));
  // with its label probes and bootstrap intervals
  for (const char* f : {"probes.csv", "probes.png", "cka_ci.npy"})
    EXPECT_TRUE(fs::exists(*straight_ + "/runs/cmnist/nll/seed1/cka/" + f)) << f;
  // Group metrics and the claim metrics, per objective over both seeds.
  for (const char* m :
       {"unbiased_accuracy", "worst_group_accuracy", "depth_decay", "block_index", "probe_crossing"}) {
    const auto& cell = t[m]["rows"][1]["cells"]["cmnist"];
    EXPECT_EQ(cell["n"], 2) << m;
    for (const auto& v : cell["values"]) {
      EXPECT_GE(v.get<double>(), std::string(m) == "depth_decay" ? -1.0 : 0.0) << m;
      EXPECT_LE(v.get<double>(), std::string(m).ends_with("accuracy") ? 100.0 : 1.0) << m;
    }
  }
  EXPECT_EQ(t["depth_decay"]["unit"], "");
  // worst group <= conflicting (a weighted mean of conflicting groups), per run
  const auto& worst = t["worst_group_accuracy"]["rows"][0]["cells"]["cmnist"]["values"];
  const auto& conflicting = t["conflicting_accuracy"]["rows"][0]["cells"]["cmnist"]["values"];
  for (size_t i = 0; i < worst.size(); ++i) EXPECT_LE(worst[i].get<double>(), conflicting[i].get<double>());
  // One correlation per dataset and claim metric, over the 4 runs.
  ASSERT_EQ(t["claims_correlation"].size(), 3u);
  EXPECT_EQ(t["claims_correlation"][0]["metric"], "depth_decay");
  EXPECT_EQ(t["claims_correlation"][0]["runs"], 4);
  EXPECT_EQ(t["published"]["sce"]["cmnist"]["mean"], 95.31);
  const std::string md = read_file(*straight_ + "/table.md");
  EXPECT_NE(md.find("Probabilistic"), std::string::npos);
  EXPECT_NE(md.find("L_NLL"), std::string::npos);
  for (const char* section :
       {"Worst-group test accuracy", "Block-structure index", "Probe crossing", "Against bias-conflicting"})
    EXPECT_NE(md.find(section), std::string::npos) << section;
  const std::string report = read_file(*straight_ + "/report.md");
  for (const char* section : {"Seed spread of the CKA matrices", "Largest population std", "cka_seed_std.png",
                              "Numbers for the paper's claims", "mean over the cell's seeds",
                              "Where the shortcut lives: label probes", "probes.png", "| probe crossing |",
                              "Objectives against seeds", "compare/cmnist/compare.png", "seed noise floor"})
    EXPECT_NE(report.find(section), std::string::npos) << section;
  // One compare pass per dataset: the runs against each other, grouped by objective.
  for (const char* f : {"compare.json", "compare.csv", "compare.npy", "compare_full.npy", "compare.png"})
    EXPECT_TRUE(fs::exists(*straight_ + "/compare/cmnist/" + f)) << f;
  const auto c = nlohmann::json::parse(read_file(*straight_ + "/compare/cmnist/compare.json"));
  ASSERT_EQ(c["models"].size(), 4u);
  EXPECT_EQ(c["models"][0]["name"], "sce-seed0");
  EXPECT_EQ(c["models"][0]["group"], "sce");
  ASSERT_EQ(c["groups"].size(), 2u);
  EXPECT_EQ(c["groups"][1]["models"], 2);
  EXPECT_FALSE(fs::exists(*straight_ + "/compare/cmnist/models"))
      << "the runs' own matrices are in their cka/";
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
  // Each run's CKA files are the bytes of the single process's, though each shard's compare pass stacked
  // other runs with it (a model's block is computed as if alone).
  for (const char* run : {"sce/seed0", "sce/seed1", "nll/seed0", "nll/seed1"})
    for (const std::string& shard : shards) {
      const std::string f = shard + "/runs/cmnist/" + run + "/cka/cka.npy";
      if (fs::exists(f))
        EXPECT_EQ(read_file(f), read_file(*straight_ + "/runs/cmnist/" + run + "/cka/cka.npy")) << f;
    }
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

// Figure 1's cell is the mean over seeds, the seed spread their population std; a seed with other layers is
// an error naming both files. The claim metrics come from each run's own matrix.
TEST(ReproduceCka, SeedMeanStdAndClaims) {
  const std::string dir = test::temp_dir("reproduce_seed_matrices");
  auto run_with = [&](int seed, const std::string& matrix) {
    workflows::RunRecord r;
    r.dataset = "cmnist";
    r.loss = "sce";
    r.seed = seed;
    r.status = "finished";
    r.cka_json = dir + "/cka" + std::to_string(seed) + ".json";
    write_text_atomic(r.cka_json, "{\"matrix\": " + matrix + "}");
    return r;
  };
  std::vector<workflows::RunRecord> runs = {run_with(1, "[[1, 0.7, 0.2], [0.7, 1, 0.95], [0.2, 0.95, 1]]"),
                                            run_with(0, "[[1, 0.5, 0.1], [0.5, 1, 0.91], [0.1, 0.91, 1]]")};
  const auto cells = workflows::seed_matrices(runs);
  ASSERT_EQ(cells.size(), 1u);
  EXPECT_EQ(cells[0].seeds, (std::vector<int>{0, 1}));
  EXPECT_EQ(cells[0].first_json, runs[1].cka_json);
  EXPECT_NEAR(cells[0].mean.at(0, 1), 0.6, 1e-15);
  EXPECT_NEAR(cells[0].std.at(0, 1), 0.1, 1e-15);
  EXPECT_NEAR(cells[0].std.at(1, 2), 0.02, 1e-15);
  EXPECT_NEAR(cells[0].max_std, 0.1, 1e-15);
  EXPECT_EQ(cells[0].std.at(0, 0), 0);
  workflows::add_claims(runs);
  // Seed 1: CKA falls with distance (0.7, 0.95 at distance 1, 0.2 at 2): rho = -sqrt(3)/2; layers 2-3 form
  // a block (0.95 >= 0.9). Seed 0: 0.91 >= 0.9, the same block.
  EXPECT_NEAR(runs[0].claims.at("depth_decay"), -std::sqrt(3.0) / 2, 1e-12);
  EXPECT_NEAR(runs[0].claims.at("block_index"), 2.0 / 3, 1e-15);
  EXPECT_EQ(runs[0].claims.at("block_begin"), 1);
  runs.push_back(run_with(2, "[[1, 0.5], [0.5, 1]]"));
  EXPECT_THROW(workflows::seed_matrices(runs), Error);
}

// The probe crossing from a cka.json's probes section: the first layer whose CKA with the bias label is
// below its CKA with the target label, as a fraction of depth, 1 when it never happens.
TEST(ReproduceCka, ProbeCrossingFromTheProbesSection) {
  const std::string dir = test::temp_dir("reproduce_probe_crossing");
  auto run_with = [&](int seed, const std::string& target, const std::string& bias) {
    workflows::RunRecord r;
    r.dataset = "cmnist";
    r.loss = "sce";
    r.seed = seed;
    r.cka_json = dir + "/cka" + std::to_string(seed) + ".json";
    nlohmann::json j;
    j["matrix"] = nlohmann::json::parse("[[1, 0.5, 0.2], [0.5, 1, 0.6], [0.2, 0.6, 1]]");
    j["layers"] = {"a", "b", "c"};
    const auto t = nlohmann::json::parse(target), b = nlohmann::json::parse(bias);
    for (size_t i = 0; i < t.size(); ++i)
      j["probes"]["layers"].push_back({{"layer", j["layers"][i]}, {"target", t[i]}, {"bias", b[i]}});
    write_text_atomic(r.cka_json, j.dump());
    return r;
  };
  std::vector<workflows::RunRecord> runs = {run_with(0, "[0.1, 0.4, 0.9]", "[0.6, 0.5, 0.3]"),
                                            run_with(1, "[0.1, 0.2, 0.3]", "[0.6, 0.5, 0.4]"),
                                            run_with(2, "[0.7, 0.2, 0.3]", "[0.6, null, 0.4]")};
  workflows::add_claims(runs);
  EXPECT_NEAR(runs[0].claims.at("probe_crossing"), 2.0 / 3, 1e-15);  // 0.3 < 0.9 at the third layer
  EXPECT_EQ(runs[0].claims.at("probe_crossing_layer"), 2);
  EXPECT_EQ(runs[1].claims.at("probe_crossing"), 1.0);  // never
  EXPECT_EQ(runs[1].claims.at("probe_crossing_layer"), -1);
  EXPECT_EQ(runs[2].claims.at("probe_crossing"), 0.0);  // already at the first layer
  std::vector<workflows::RunRecord> bad = {run_with(3, "[0.1, 0.2]", "[0.6, 0.5]")};  // 2 rows, 3 layers
  EXPECT_THROW(workflows::add_claims(bad), Error);
  EXPECT_TRUE(workflows::write_probe_panels(runs, dir + "/probes.png"));
  EXPECT_TRUE(fs::exists(dir + "/probes.png"));
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
