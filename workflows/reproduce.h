#pragma once
// `biascka reproduce`: the paper's grid (datasets x objectives x seeds) with its protocol, one run folder
// per cell and seed, resumable at any moment; then the tables, figures and report from the runs' files.
//
//   OUT/runs/{dataset}/{loss}/seed{k}/   a `biascka train` run folder (+ cka/, every seed)
//   OUT/compare/{dataset}/                one `compare` pass over the dataset's runs (reproduce_compare.h)
//   OUT/table.{md,csv,json}, OUT/figure1.png, OUT/cka_seed_std.png, OUT/curves.png, OUT/report.md
#include <cstdint>
#include <string>
#include <vector>

#include "workflows/progress.h"
#include "workflows/train.h"

namespace biascka::workflows {

struct GridRun;

// The training protocol (TrainProtocol: epochs, patience, batch, max_train, max_eval, no_tf32; the paper's
// defaults) is every run's.
struct ReproduceOptions : TrainProtocol {
  std::string data_root;
  std::string out;
  std::vector<std::string> datasets = {"cmnist", "cifar10c", "bffhq"};
  double pct = 5;  // the conflicting percentage (B-FFHQ exists only as 0.5pct)
  std::string losses = "all";
  int seeds = 3;
  std::string device = "cpu";
  std::vector<int> gpus;   // one training process per GPU, concurrently (-1: a CPU worker, for tests)
  std::string worker_exe;  // the program the --gpus workers run ("" = this one)
  int shard_index = 0, shard_count = 1;
  bool quick = false;  // built-in default data, subsets, few epochs, one seed, CPU
  int workers = 0;
  // Figure 1: minibatch CKA of every layer pair on each run's test split (the cell's mean over seeds).
  int64_t cka_batch = 512, cka_samples = 0;  // 0: the whole test split
  std::string cka_layers = "all";
  ProgressMode progress = ProgressMode::Auto;
  std::string command_line;           // recorded in the report
  int only = -1;                      // internal: run just this grid index (the worker of --gpus)
  int64_t interrupt_after_steps = 0;  // tests: stop as if Ctrl-C came after this many training steps

  // The quick preset's settings applied over these options.
  void apply_quick();
  // The `train` options of one run of the grid.
  TrainOptions train_options(const GridRun& r) const;
};

struct GridRun {
  std::string dataset, loss, data_dir, run_dir;
  int seed = 0;
  int index = 0;  // position in the whole grid (shards slice on it)
};

// The options that define the grid and its training protocol, as `biascka reproduce` flags (--datasets …
// --cka-layers, --no-tf32; not where it runs: data root, output, device, shard, workers). A --gpus worker,
// a cluster task or a test passes them to run exactly this grid.
std::vector<std::string> grid_flags(const ReproduceOptions& o);

// The grid in order (datasets, then objectives, then seeds), restricted to this shard. Datasets missing
// under the data root are left out and reported in `missing`.
std::vector<GridRun> plan_grid(const ReproduceOptions& o, std::vector<std::string>* missing);

// Runs (or resumes) every run of the shard, then writes the outputs from every finished run under OUT.
// Holds OUT's lock (a shard: its shard lock) throughout and each run folder's lock while it works there
// (run_lock.h); the --gpus workers take only their run's. Returns 0, or 130 (143 for SIGTERM) when
// interrupted, after which running the same command again continues.
int reproduce(const ReproduceOptions& o);

// Tables, figures and report from the runs under each of `dirs` (shards), written into `out`.
void collect(const std::vector<std::string>& dirs, const std::string& out, const std::string& command_line);

}  // namespace biascka::workflows
