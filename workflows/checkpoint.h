#pragma once
// Checkpoint files of a training run (safetensors, written atomically):
//   best.safetensors  the model (torchvision names) at the best validation accuracy
//   last.safetensors  the model, Adam's state ("optim.*") and the run state, so --resume continues exactly
// The metadata says what the model is ("head": linear | log_softmax, "stem", "num_classes", "loss") so
// `eval`, `forward` and `cka` rebuild the same network; "run_state" (JSON) holds the loop's position.
//
// The file format, its checksum and loading a model from it: models/resnet18_checkpoint.h.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/adam.h"
#include "engine/io/safetensors.h"
#include "models/resnet18.h"
#include "models/resnet18_checkpoint.h"

namespace biascka::workflows {

struct RunState {
  int64_t epoch = 0;          // epochs fully done
  int64_t step_in_epoch = 0;  // batches of the next epoch already done (a checkpoint taken on Ctrl-C)
  uint64_t dropout_seed = 0, dropout_offset = 0;
  int64_t best_epoch = 0;  // 1-based epoch of best.safetensors; 0 = none yet
  double best_valid_accuracy = -1;
  int64_t bad_epochs = 0;                             // epochs since the best (early stopping)
  nlohmann::json partial = nlohmann::json::object();  // running sums of the interrupted epoch
  nlohmann::json to_json() const;
  // Throws naming `file` and the field when a field is missing, of the wrong type or out of range.
  static RunState from_json(const nlohmann::json& j, const std::string& file);
};

// model_meta: "loss", "settings" etc. added by the caller; the architecture keys and the checksum are
// added here.
void save_checkpoint(const std::string& path, const ResNet18& model, const Adam* optimizer,
                     const RunState* state, Metadata meta);

using ::biascka::checkpoint_checksum;  // models/resnet18_checkpoint.h
using ::biascka::config_from_checkpoint;
using ::biascka::read_checkpoint;

RunState read_run_state(const TensorFile& file);  // throws naming the file when absent or malformed

}  // namespace biascka::workflows
