#pragma once
// The options of one training run and their one field list.
//
// Every run-defining option (those settings.json keeps) is named once, in for_each_train_field(): its JSON
// key (the command-line option is the key with '-' for '_', option_name()), its limits, and what a resumed
// run does with it. to_json, from_json, validate, the resume override (run_dir.h), the check of a resumed
// run against its checkpoint and the flags a reproduce grid passes to its workers (reproduce.cpp) all walk
// that list instead of spelling the fields again.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "losses/objectives.h"
#include "workflows/option_limits.h"
#include "workflows/progress.h"

namespace biascka::workflows {

// The training protocol a reproduce grid shares across all its runs (ReproduceOptions derives from it).
struct TrainProtocol {
  int64_t epochs = 100;
  int64_t patience = 12;
  int64_t batch = 512;
  int64_t max_train = 0;  // 0: every training image; else a seeded subset of this size
  int64_t max_eval = 0;   // 0: every valid/test image; else a seeded subset
  bool no_tf32 = false;
};

struct TrainOptions : TrainProtocol {
  std::string data;  // a pct folder: DATA/align, DATA/conflict, DATA/valid (or ../valid), ../test
  std::string out;   // the run folder
  std::string loss = "sce";
  losses::ObjectiveParams objective_params;
  uint64_t seed = 0;
  std::string device = "cpu";
  float lr = 1e-3f;
  float weight_decay = 1e-5f;
  std::string stem = "imagenet";  // imagenet (7x7/2 + max-pool, torchvision's) | cifar (3x3/1)
  std::string normalization;      // "" = from the folder name (cmnist, cifar10c, bffhq)
  int image_size = 0;             // 0 = native (bffhq: 224)
  // CKA during training (cka_over_training.h): every cka_every epochs (0: off) over the first cka_samples
  // validation images, the layers cka_layers selects (`biascka cka --layers`' rules).
  int64_t cka_every = 0;
  int64_t cka_samples = 512;
  std::string cka_layers = "all";
  // Not run-defining (not in settings.json): how this process runs it.
  int workers = 0;                    // loader threads (0 = cores)
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

// What `train --resume` does with a field of settings.json.
enum class OnResume {
  Fixed,        // read from settings.json; must be what last.safetensors was trained with
  Editable,     // read from settings.json, which the user may have changed (more epochs, a moved dataset)
  FromCommand,  // the resuming command's value (where to run), whatever settings.json says
};

// One run-defining field: its key and its limits. Which limit applies follows from the field's type:
// integers [lo, hi] (`why` explains a bound), floats `number`, text `check_text`.
struct TrainField {
  enum class Number { Positive, NonNegative, Finite };
  const char* key;
  OnResume on_resume = OnResume::Fixed;
  int64_t lo = 0, hi = 0;
  const char* why = "";
  Number number = Number::Finite;
  // Throws "NAME VALUE: PROBLEM" when the text is not a valid value (nullptr: any text).
  void (*check_text)(const std::string& name, const std::string& value) = nullptr;
  // A field added after runs were made: a settings.json without it reads as the default (what those runs
  // did), not as an error.
  bool default_when_absent = false;
};

inline constexpr int64_t kMaxEpochs = 1000000;  // --epochs, --patience, --cka-every

// "--max-train" for the key "max_train".
std::string option_name(std::string_view key);

// The protocol's fields, in the order `reproduce` passes them to its workers.
// visit(field, value...) with the field's value in each of `p...` (one object, or a pair to copy between).
template <class Visit, class... Protocol>
void for_each_protocol_field(Visit&& visit, Protocol&... p) {
  constexpr int64_t kMaxSamples = INT64_MAX;
  visit(TrainField{.key = "epochs", .on_resume = OnResume::Editable, .lo = 1, .hi = kMaxEpochs}, p.epochs...);
  visit(TrainField{.key = "patience", .on_resume = OnResume::Editable, .lo = 1, .hi = kMaxEpochs},
        p.patience...);
  visit(
      TrainField{
          .key = "batch", .lo = 2, .hi = kMaxBatch, .why = "batch normalisation needs at least 2 samples"},
      p.batch...);
  visit(TrainField{.key = "max_train", .lo = 0, .hi = kMaxSamples, .why = "0: all"}, p.max_train...);
  visit(TrainField{.key = "max_eval", .lo = 0, .hi = kMaxSamples, .why = "0: all"}, p.max_eval...);
  visit(TrainField{.key = "no_tf32"}, p.no_tf32...);
}

void check_loss_name(const std::string& name, const std::string& value);
void check_stem_name(const std::string& name, const std::string& value);
void check_normalization_name(const std::string& name, const std::string& value);
void check_device_name(const std::string& name, const std::string& value);
void check_cka_layers(const std::string& name, const std::string& value);  // a keyword or a valid regex

// Every run-defining field of TrainOptions (const or not): visit(const TrainField&, value&...), with the
// field's value in each of `o...`.
template <class Visit, class... Options>
void for_each_train_field(Visit&& visit, Options&... o) {
  using N = TrainField::Number;
  constexpr int64_t kMaxCkaSamples = 16384;
  visit(TrainField{.key = "data", .on_resume = OnResume::Editable}, o.data...);
  visit(TrainField{.key = "loss", .check_text = check_loss_name}, o.loss...);
  visit(TrainField{.key = "sos_alpha", .number = N::Positive}, o.objective_params.sos_alpha...);
  visit(TrainField{.key = "sos_beta", .number = N::Finite}, o.objective_params.sos_beta...);
  visit(TrainField{.key = "seed", .hi = INT64_MAX, .why = "must be below 2^63"}, o.seed...);
  for_each_protocol_field(visit, o...);
  visit(TrainField{.key = "lr", .number = N::Positive}, o.lr...);
  visit(TrainField{.key = "weight_decay", .number = N::NonNegative}, o.weight_decay...);
  visit(TrainField{.key = "stem", .check_text = check_stem_name}, o.stem...);
  visit(TrainField{.key = "normalization", .check_text = check_normalization_name}, o.normalization...);
  visit(TrainField{.key = "image_size", .lo = 0, .hi = kMaxImageSize, .why = "0: the images' own size"},
        o.image_size...);
  visit(TrainField{.key = "device", .on_resume = OnResume::FromCommand, .check_text = check_device_name},
        o.device...);
  visit(TrainField{.key = "cka_every", .hi = kMaxEpochs, .why = "0: off", .default_when_absent = true},
        o.cka_every...);
  visit(TrainField{.key = "cka_samples",
                   .lo = 4,
                   .hi = kMaxCkaSamples,
                   .why = "the unbiased CKA needs at least 4 samples; the Grams grow as N^2",
                   .default_when_absent = true},
        o.cka_samples...);
  visit(TrainField{.key = "cka_layers", .check_text = check_cka_layers, .default_when_absent = true},
        o.cka_layers...);
}

// The field `key` of the list (nullptr when there is none).
const TrainField* find_train_field(std::string_view key);

}  // namespace biascka::workflows
