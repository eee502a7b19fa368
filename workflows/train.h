#pragma once
// The training protocol (DESIGN.md, paper section 3): ResNet18 from scratch, Adam, align + conflict for
// training, valid for early stopping on accuracy (patience), the best-validation checkpoint kept and, when
// the dataset has a test split, evaluated on it at the end.
//
// A run folder (run_dir.h) holds settings.json, metrics.jsonl (one line per epoch), best.safetensors,
// last.safetensors (model + Adam + loop state: --resume continues exactly, mid-epoch after Ctrl-C) and
// summary.json. The options: train_options.h; the epochs: trainer.h.
#include <nlohmann/json.hpp>
#include <string>

#include "workflows/run_lock.h"
#include "workflows/train_options.h"
#include "workflows/trainer.h"

namespace biascka::workflows {

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
// The same in a folder whose lock the caller already holds (reproduce: the run and its CKA under one
// lock), with a divergence returned as RunStatus::Diverged (its message in the outcome) instead of thrown:
// reproduce records it and trains the next run of the grid.
TrainOutcome train_run(const TrainOptions& o, bool resume, const RunLock& lock);

}  // namespace biascka::workflows
