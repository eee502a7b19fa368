#pragma once
// ResNet18 checkpoint files (safetensors, written atomically) and loading a model from one.
//
// The metadata says what the model is ("head": linear | log_softmax, "stem", "num_classes") so that
// `eval`, `forward`, `cka` and `reproduce` rebuild the same network; a training run adds its own entries
// (workflows/checkpoint.h: "loss", "settings", "run_state").
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
#include <optional>
#include <string>

#include "engine/device.h"
#include "engine/io/safetensors.h"
#include "models/resnet18.h"

namespace biascka {

// Writes `tensors` with `meta` plus the architecture keys of `cfg`, the format line and the checksum.
void write_resnet18_checkpoint(const std::string& path, const NamedTensors& tensors,
                               const ResNet18Config& cfg, Metadata meta);

// Reads a checkpoint (or any safetensors file of weights) and verifies its checksum when it has one:
// "PATH: checksum mismatch ..." otherwise. A biascka checkpoint without one loads with a warning on stderr.
TensorFile read_checkpoint(const std::string& path);

// "xxh3-128:<hex>" of the tensors and metadata (the "checksum" entry itself left out).
std::string checkpoint_checksum(const NamedTensors& tensors, const Metadata& metadata);

// The architecture a checkpoint holds: classes from fc.weight, the stem from conv1.weight, the
// log-softmax head from the metadata biascka writes ("head": "log_softmax"). A "num_classes" entry, when
// present, must be a decimal integer that agrees with fc.weight.
ResNet18Config config_from_checkpoint(const TensorFile& ckpt);

// The model of a checkpoint file on `device`: read (checksum verified), its architecture rebuilt and every
// weight loaded (ResNet18::load_state_dict's checks). `dropout` replaces the configuration's rate (forward
// --no-dropout).
ResNet18 load_resnet18(const std::string& path, Device device, std::optional<float> dropout = std::nullopt);

}  // namespace biascka
