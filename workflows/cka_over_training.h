#pragma once
// CKA during training (`biascka train --cka-every K`): the model's layers against each other, against the
// labels and against themselves at the previous evaluation, over a fixed probe set, at initialisation (epoch
// 0: the curves start from the random network) and after every K-th epoch (K, 2K, ...; an early stop or a
// last epoch off that grid gets none).
//
// Probe set: the first min(--cka-samples, its size) images of the run's validation split in name order
// (data::Split keeps samples sorted by path), fixed for the run. RUN/cka/probe_set.json records their names
// (relative to the split folder, so a moved dataset still matches), their count and the SHA-256 of the names;
// a resume whose split gives another set is a one-line error.
//
// One evaluation (probe_cka): the probe set as one batch of N through the model in eval mode without
// autograd; the selected layers (--cka-layers, `biascka cka --layers`' rules) and the one-hot target and bias
// labels (cka/probes.h) are the layers of one unbiased minibatch accumulator: the computation of
// `biascka cka --batch N --probes target,bias` over those images (cka_of_models), on the model's device. The
// accumulator keeps the layers' packed centred Grams (accumulator.h keep_grams), L rows of N(N-1)/2 values,
// and row_cka dots them with the previous evaluation's: each layer's CKA with itself then. Between
// evaluations only those Grams are held (on the device), never activations.
//
// Files, each written atomically, in this order (so that a run killed between any two writes resumes to the
// same bytes):
//   RUN/cka/grams_epoch_{k}.npy    the evaluation's Grams, [L, N(N-1)/2] (float64 from the CPU backend,
//                                  float32 from a GPU's: the rows as computed), read back on resume
//   RUN/cka/epoch_{k}.npy          the all-pairs layer matrix after k epochs, float64 [L, L]
//   RUN/cka/over_training.jsonl    one line per evaluation (epoch, samples, layers, probes.target and
//                                  probes.bias per layer, with_previous per layer (null for the first),
//                                  previous_epoch, seconds), rewritten whole like metrics.jsonl
//   RUN/cka_over_training.png      a strip of the matrices and the per-layer curves
// and then the older grams_epoch_*.npy are removed. The evaluation after epoch k runs once last.safetensors
// holds epoch k. On resume, the lines after the checkpoint's epoch are dropped, the latest kept line's Grams
// are read back (their shape checked against the file and the run), and an evaluation the checkpoint's epoch
// is due but lacks is made first, from the restored weights.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cka/output.h"
#include "data/disent.h"
#include "data/loader.h"
#include "engine/tensor.h"
#include "models/resnet18.h"
#include "workflows/train_options.h"

namespace biascka::workflows {

// The first `samples` images of `valid` in name order (all of them when it has fewer).
data::Split probe_split(const data::Split& valid, int64_t samples);

// One evaluation's results.
struct ProbeCka {
  cka::CkaReport report;  // the layers' all-pairs matrix, and report.probes (target, bias per layer)
  Tensor grams;           // kept Grams: [layers, packed_size(N)] on the model's device
  std::vector<double> with_previous;  // per layer; empty when `previous` was undefined
};

// The CKA of `model` over the first batch of `probes` (a loader whose batch is the whole probe set):
// layers selected by `layers`, probes target and bias; `previous`: the Grams of an earlier evaluation (any
// device, F32 or F64) or undefined. The model's train/eval mode is restored.
ProbeCka probe_cka(ResNet18& model, data::Loader& probes, const std::string& layers, const Tensor& previous);

class TrainingCka {
 public:
  // `checkpoint_epoch`: the epochs last.safetensors has finished (0 for a new run). Writes (new run) or
  // checks (resume) probe_set.json; on resume reads back the kept lines and Grams.
  TrainingCka(const TrainOptions& o, const data::Split& valid, const std::vector<std::string>& model_layers,
              const std::string& run_folder, int64_t checkpoint_epoch, bool resume);

  // Whether an evaluation belongs after `epoch` finished epochs and has not been written yet.
  bool due(int64_t epoch) const;
  // Evaluates the model after `epoch` epochs and writes the files.
  void evaluate(ResNet18& model, int64_t epoch);

 private:
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  std::string grams_path(int64_t epoch) const;
  nlohmann::json probe_set_json() const;
  void check_or_write_probe_set(bool resume) const;
  void read_back(int64_t checkpoint_epoch);
  void write_figure() const;

  TrainOptions o_;
  std::string run_, dir_;
  data::Split probes_;
  std::vector<std::string> layers_;
  std::optional<data::Loader> loader_;
  std::vector<nlohmann::json> lines_;  // the evaluations so far, in epoch order
  Tensor previous_;                    // the latest evaluation's Grams (undefined before the first)
};

}  // namespace biascka::workflows
