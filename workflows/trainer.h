#pragma once
// One training run in a locked run folder (run_dir.h): the data, the model, Adam and the loop state; the
// epochs (each with its validation, checkpoints and metrics line, and with --cka-every the CKA over training
// after it: cka_over_training.h) and the final evaluation of the best checkpoint. How the run ended is the
// status it returns; summary.json records it for the user.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "data/disent.h"
#include "data/loader.h"
#include "engine/adam.h"
#include "engine/io/safetensors.h"
#include "losses/objectives.h"
#include "models/resnet18.h"
#include "workflows/checkpoint.h"
#include "workflows/cka_over_training.h"
#include "workflows/evaluate.h"
#include "workflows/run_dir.h"
#include "workflows/train_step.h"

namespace biascka::workflows {

enum class RunStatus {
  Finished,     // every epoch (or early stopping) and the final evaluation done; summary.json written
  Interrupted,  // a signal: last.safetensors holds the position (--resume continues)
  Diverged,     // the loss became non-finite; summary.json says so, best.safetensors kept when there is one
};
const char* status_name(RunStatus s);  // "finished" | "interrupted" | "diverged"

struct TrainOutcome {
  RunStatus status = RunStatus::Finished;
  nlohmann::json summary;  // summary.json's contents ({"status": "interrupted"} when interrupted)
  std::string message;     // diverged: the one-line explanation (where, what is kept, what to try)
};

// Running sums of one training epoch (also what a mid-epoch checkpoint carries).
struct EpochSums {
  double loss = 0;  // sum of batch-mean loss times batch size
  int64_t seen = 0, correct = 0, aligned = 0, correct_aligned = 0, correct_conflicting = 0;
  double seconds = 0;
  nlohmann::json to_json() const;
  void add(const StepTotals& t);
  static EpochSums from_json(const nlohmann::json& j, const std::string& file);
};

class Trainer {
 public:
  // Reads the data, builds the model and Adam and, with `resume`, restores them from last.safetensors
  // (checked against settings.json). A new run writes settings.json.
  Trainer(TrainOptions o, bool resume);
  TrainOutcome run();

 private:
  enum class EpochEnd { Done, Interrupted, Diverged };
  struct EpochWork {
    EpochSums sums;      // the whole epoch's, the batches before a resume included
    double seconds = 0;  // training time in this process (the images/s rate)
    int64_t images = 0;  // images trained in this process
  };
  // The batches of one epoch (or the rest of one, resumed mid-way). Diverged: divergence_ says where.
  EpochEnd train_steps(int64_t epoch, TrainStep& stepper, EpochWork* work);
  // Validation, checkpoints, the metrics line and the epoch's line on stderr.
  void finish_epoch(int64_t epoch, const EpochWork& work);
  nlohmann::json metrics_line(int64_t epoch, const EpochWork& work, const EvalResult& valid) const;
  nlohmann::json final_summary();
  TrainOutcome diverged();
  bool stop_requested() const;
  void save_last();
  ProgressMode eval_mode() const;
  data::LoaderOptions loader_options(bool training) const;

  struct Divergence {
    int64_t epoch = 0, step = 0;
    double loss = 0;
  };
  TrainOptions o_;
  RunDir dir_;
  const losses::Objective& objective_;
  Device dev_;
  data::Split train_split_, valid_split_;
  std::optional<data::Split> test_split_;
  data::Loader train_loader_, valid_loader_;
  nlohmann::json settings_;
  std::optional<ResNet18> model_;
  std::optional<Adam> opt_;
  std::optional<TrainingCka> cka_;  // --cka-every > 0
  RunState state_;
  std::vector<nlohmann::json> metrics_;
  Metadata meta_;
  Divergence divergence_;
  int64_t steps_this_call_ = 0;
  bool test_stop_ = false;
};

}  // namespace biascka::workflows
