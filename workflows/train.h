#pragma once
// The training protocol (DESIGN.md, paper section 3): ResNet18 from scratch, Adam, align + conflict for
// training, valid for early stopping on accuracy (patience), the best-validation checkpoint kept and, when
// the dataset has a test split, evaluated on it at the end.
//
// A run folder holds settings.json, metrics.jsonl (one line per epoch), best.safetensors, last.safetensors
// (model + Adam + loop state: --resume continues exactly, mid-epoch after Ctrl-C) and summary.json.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "losses/objectives.h"
#include "workflows/progress.h"
#include "workflows/run_lock.h"

namespace biascka::workflows {

struct TrainOptions {
  std::string data;  // a pct folder: DATA/align, DATA/conflict, DATA/valid (or ../valid), ../test
  std::string out;   // the run folder
  std::string loss = "sce";
  losses::ObjectiveParams objective_params;
  uint64_t seed = 0;
  std::string device = "cpu";
  int64_t epochs = 100;
  int64_t patience = 12;
  int64_t batch = 512;
  float lr = 1e-3f;
  float weight_decay = 1e-5f;
  int64_t max_train = 0;          // 0: every training image; else a seeded subset of this size
  int64_t max_eval = 0;           // 0: every valid/test image; else a seeded subset
  std::string stem = "imagenet";  // imagenet (7x7/2 + max-pool, torchvision's) | cifar (3x3/1)
  std::string normalization;      // "" = from the folder name (cmnist, cifar10c, bffhq)
  int image_size = 0;             // 0 = native (bffhq: 224)
  int workers = 0;                // loader threads (0 = cores)
  bool no_tf32 = false;
  bool cuda_graph = true;             // capture the GPU step once shapes are fixed
  int64_t interrupt_after_steps = 0;  // tests: behave as if Ctrl-C came after this many steps of this call
  ProgressMode progress = ProgressMode::Auto;

  // The run-defining fields (those settings.json keeps) and the loader threads against their ranges: the
  // one set of rules for the command line and for a resumed run's settings.json, before any work. Errors
  // name the option ("--batch 1: must be between 2 and 1048576") or, with `settings_file`, the file and
  // its field ("RUN/settings.json: batch 1: ...").
  void validate(const std::string& settings_file = "") const;
  nlohmann::json to_json() const;
  // Reads the run-defining fields; a missing field or a wrong type is an error naming `file` and the field.
  static TrainOptions from_json(const nlohmann::json& j, const std::string& file);
};

struct TrainResult {
  std::string status;  // "finished" | "interrupted"
  nlohmann::json summary;
};

// Trains into o.out, holding the folder's lock (run_lock.h) for the whole run; temporaries a killed run
// left there are removed first. With resume, reads o.out/settings.json (device, progress and workers may
// differ from the saved ones), validates it as the command line would be, checks that it matches
// last.safetensors (verified by its checksum) and continues from there; a finished run is reported and
// left alone.
// Interrupts (interrupt.h): a signal during the epochs saves last.safetensors (mid-epoch) and returns
// "interrupted"; so does one during the final evaluation (summary.json is then written by --resume).
// A training set of k * batch + 1 images drops the one image left over for the last batch in each epoch
// (a different one each epoch, as the order is shuffled): batch normalisation cannot train on one sample
// (PyTorch's BatchNorm raises "Expected more than 1 value per channel"; its users set drop_last).
// Throws biascka::Error on bad input and when the loss becomes non-finite (after writing summary.json with
// status "diverged"; best.safetensors is kept when an epoch had finished before).
TrainResult train(const TrainOptions& o, bool resume = false);
// The same in a folder whose lock the caller already holds (reproduce: the run and its CKA under one lock).
TrainResult train(const TrainOptions& o, bool resume, const RunLock& lock);

}  // namespace biascka::workflows
