#pragma once
// The options `cka` and `compare` share (one list, so the two commands cannot drift): which layers, the
// estimator and kernel, the batch and sample count, the device and its math mode, the Gram memory, the
// bootstrap, the label probes, the image options and --quiet.
#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cka/options.h"
#include "workflows/progress.h"
#include "workflows/split_loader.h"

namespace biascka::app {

struct CkaCli {
  std::string layers = "all", axis_labels = "torch_cka", estimator = "unbiased", kernel = "linear";
  std::string device = "cpu", probes;
  int64_t batch = 512, max_samples = 0, gram_memory_mib = 1024, bootstrap = 1000;
  uint64_t bootstrap_seed = 0;
  double rbf_threshold = 1.0;
  bool no_tf32 = false, quiet = false;
  workflows::ImageOptions image;
  CLI::Option* axis_labels_option = nullptr;  // set by add_cka_cli: was --axis-labels given
};

// Registers the shared options on `cmd` (defaults from `o`).
void add_cka_cli(CLI::App* cmd, CkaCli* o);

// The usage checks of the shared options (a UsageError, exit 2, for a value out of range).
void check_cka_cli(const CkaCli& o);

// The CKA options they give; the device is checked (present in this build and machine) and its math mode
// set (TF32 unless --no-tf32). `full`: one batch of all samples (no bootstrap).
cka::CkaOptions cka_options(const CkaCli& o, bool full = false);

std::vector<std::string> cka_probes(const CkaCli& o);
workflows::ProgressMode progress_mode(const CkaCli& o);

}  // namespace biascka::app
