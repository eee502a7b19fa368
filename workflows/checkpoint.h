#pragma once
// Checkpoint files of a training run (safetensors, written atomically):
//   best.safetensors  the model (torchvision names) at the best validation accuracy
//   last.safetensors  the model, Adam's state ("optim.*") and the run state, so --resume continues exactly
// The metadata says what the model is ("head": linear | log_softmax, "stem", "num_classes", "loss") so
// `eval`, `forward` and `cka` rebuild the same network; "run_state" (JSON) holds the loop's position.
//
// Integrity: "checksum" in the metadata is "xxh3-128:<32 hex digits>", XXH3's 128-bit hash of every
// tensor's name, dtype, shape and bytes (in name order) and of every other metadata entry. read_checkpoint
// verifies it, so a bit flip anywhere in a tensor or in the run state is an error naming the file rather
// than a silently different result. Why XXH3 and not SHA-256: the threat is damage (disks, copies, a
// killed transfer), not an adversary; anyone who can edit a checkpoint can recompute any unkeyed hash,
// SHA-256 included. A 128-bit non-cryptographic hash detects random damage with certainty for all
// practical purposes, runs at memory speed (a 135 MB last.safetensors in well under 0.1 s), and comes
// from a small, widely used header-only library (Debian's libxxhash-dev), so the GPU host needs no
// shared library for it. Files without a checksum (written by biascka before it had one, or exported
// from PyTorch) still load; for biascka's own format a warning says that the file is unverified.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/adam.h"
#include "engine/io/safetensors.h"
#include "models/resnet18.h"

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

// Reads a checkpoint (or any safetensors file of weights) and verifies its checksum when it has one:
// "PATH: checksum mismatch ..." otherwise. A biascka checkpoint without one loads with a warning on stderr.
TensorFile read_checkpoint(const std::string& path);

// "xxh3-128:<hex>" of the tensors and metadata (the "checksum" entry itself left out).
std::string checkpoint_checksum(const NamedTensors& tensors, const Metadata& metadata);

RunState read_run_state(const TensorFile& file);  // throws naming the file when absent or malformed

// The architecture a checkpoint holds: classes from fc.weight, the stem from conv1.weight, the
// log-softmax head from the metadata biascka writes ("head": "log_softmax").
ResNet18Config config_from_checkpoint(const TensorFile& ckpt);

}  // namespace biascka::workflows
