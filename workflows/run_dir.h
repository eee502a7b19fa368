#pragma once
// A training run's folder: where its files are, reading them back (untrusted: they may have been edited)
// and writing them atomically (a temporary name, then a rename: a killed run never leaves half a file).
//
//   settings.json     the run-defining options (train_options.h) and what the data turned out to be
//   metrics.jsonl     one line per finished epoch
//   best.safetensors  the model at the best validation accuracy (checkpoint.h)
//   last.safetensors  model + Adam + loop state, written at each epoch's end and on an interrupt
//   summary.json      written once the run ends: status "finished" or "diverged"
//   cka/, cka_over_training.png   with --cka-every: the CKA over training (cka_over_training.h)
//
// The folder's lock (run_lock.h) is taken by train() (or reproduce) before a RunDir works in it.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/io/safetensors.h"
#include "workflows/train_options.h"

namespace biascka::workflows {

class RunDir {
 public:
  explicit RunDir(std::string folder);

  const std::string& folder() const { return folder_; }
  const std::string& settings() const { return settings_; }
  const std::string& last() const { return last_; }
  const std::string& best() const { return best_; }
  const std::string& metrics() const { return metrics_; }
  const std::string& summary() const { return summary_; }

  // Temporaries an interrupted write left here are removed (said on stderr unless quiet).
  void remove_stale_temporaries(ProgressMode progress) const;
  // The summary of a run that finished; nullopt when there is none (or it did not finish).
  std::optional<nlohmann::json> finished_summary() const;
  // Whether an earlier process ended this run for good: summary.json says finished or diverged (a
  // diverged run is a result too: reproduce does not retry it).
  bool has_ended() const;
  // Refuses a fresh run where one was already started ("... already holds a run ...").
  void check_empty_for_new_run() const;

  // A resumed run's options: settings.json validated like the command line, with the fields the user
  // chooses now (OnResume::FromCommand, and those settings.json does not keep) taken from `given`.
  TrainOptions resumed_options(const TrainOptions& given) const;
  // last.safetensors must be the checkpoint of the run settings.json describes: same architecture, same
  // objective, same OnResume::Fixed fields.
  void check_checkpoint_matches(const TensorFile& last, const TrainOptions& o, int64_t classes,
                                bool log_softmax_head) const;

  void write_settings(const nlohmann::json& settings) const;
  // The first `epochs` lines of metrics.jsonl (those of the epochs last.safetensors has finished).
  std::vector<nlohmann::json> read_metrics(int64_t epochs) const;
  void write_metrics(const std::vector<nlohmann::json>& lines) const;
  void write_summary(const nlohmann::json& summary) const;

 private:
  std::string folder_, settings_, last_, best_, metrics_, summary_;
};

}  // namespace biascka::workflows
