#include "workflows/train.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <new>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "data/disent.h"
#include "data/loader.h"
#include "engine/adam.h"
#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/io/atomic_file.h"
#include "engine/ops/conv2d.h"
#include "models/resnet18.h"
#include "workflows/checkpoint.h"
#include "workflows/evaluate.h"
#include "workflows/interrupt.h"
#include "workflows/json_file.h"
#include "workflows/option_limits.h"
#include "workflows/train_step.h"

namespace biascka::workflows {

namespace fs = std::filesystem;

namespace {

std::string pct(double v) {
  if (!std::isfinite(v)) return "n/a";
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.2f%%", 100 * v);
  return buf;
}

nlohmann::json num(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

// Running sums of one training epoch (also what a mid-epoch checkpoint carries).
struct EpochSums {
  double loss = 0;  // sum of batch-mean loss times batch size
  int64_t seen = 0, correct = 0, aligned = 0, correct_aligned = 0, correct_conflicting = 0;
  double seconds = 0;
  nlohmann::json to_json() const {
    return {{"loss", loss},
            {"seen", seen},
            {"correct", correct},
            {"aligned", aligned},
            {"correct_aligned", correct_aligned},
            {"correct_conflicting", correct_conflicting},
            {"seconds", seconds}};
  }
  void add(const StepTotals& t) {
    loss += t.loss_sum;
    seen += t.seen;
    correct += t.correct;
    aligned += t.aligned;
    correct_aligned += t.correct_aligned;
    correct_conflicting += t.correct_conflicting;
  }
  static EpochSums from_json(const nlohmann::json& j, const std::string& file) {
    EpochSums s;
    if (j.empty()) return s;
    const JsonFields f(j, file);
    s.loss = f.number("loss");
    s.seen = f.integer("seen");
    s.correct = f.integer("correct");
    s.aligned = f.integer("aligned");
    s.correct_aligned = f.integer("correct_aligned");
    s.correct_conflicting = f.integer("correct_conflicting");
    s.seconds = f.number("seconds");
    return s;
  }
};

// A float setting as the double of its shortest decimal (1e-3f is written 0.001, not 0.0010000000474974513);
// reading it back into a float gives the same float.
double json_float(float v) {
  char buf[32];
  const auto end = std::to_chars(buf, buf + sizeof buf, v).ptr;
  return std::strtod(std::string(buf, end).c_str(), nullptr);
}

// Fields a resumed run may change in settings.json: more epochs or patience, or a dataset that moved.
bool may_change_on_resume(const std::string& key) {
  return key == "epochs" || key == "patience" || key == "data" || key == "device";
}

struct RunPaths {
  std::string run, settings, last, best, metrics, summary;
  explicit RunPaths(const std::string& r)
      : run(r),
        settings(r + "/settings.json"),
        last(r + "/last.safetensors"),
        best(r + "/best.safetensors"),
        metrics(r + "/metrics.jsonl"),
        summary(r + "/summary.json") {}
};

// A resumed run's options: settings.json validated like the command line, with the choices that belong
// to the user now (where to run, how to show progress) taken from `given`.
TrainOptions resumed_options(const TrainOptions& given, const RunPaths& p) {
  BIASCKA_CHECK(fs::exists(p.settings), p.run, ": nothing to resume (no settings.json)");
  TrainOptions saved = TrainOptions::from_json(read_json_file(p.settings), p.settings);
  saved.out = p.run;
  saved.device = given.device;
  saved.workers = given.workers;
  saved.progress = given.progress;
  saved.cuda_graph = given.cuda_graph;
  saved.interrupt_after_steps = given.interrupt_after_steps;
  saved.validate(p.settings);
  return saved;
}

// last.safetensors must be the checkpoint of the run settings.json describes: same architecture, same
// objective, same training settings (all but may_change_on_resume()).
void check_checkpoint_matches(const TensorFile& last, const TrainOptions& o, const std::string& settings_file,
                              int64_t classes, bool log_softmax_head) {
  auto meta = [&](const char* key) {
    const auto it = last.metadata.find(key);
    return it == last.metadata.end() ? std::string() : it->second;
  };
  const std::string want_classes = std::to_string(classes),
                    head = log_softmax_head ? "log_softmax" : "linear";
  BIASCKA_CHECK(meta("num_classes").empty() || meta("num_classes") == want_classes, last.path, ": has ",
                meta("num_classes"), " classes, but the training data of ", settings_file, " now has ",
                classes);
  BIASCKA_CHECK(meta("head").empty() || meta("head") == head, settings_file, ": loss '", o.loss, "' needs a ",
                head, " head, but ", last.path, " has a ", meta("head"), " head");
  if (meta("settings").empty()) return;
  nlohmann::json trained;
  try {
    trained = nlohmann::json::parse(meta("settings"));
  } catch (const nlohmann::json::exception&) {
    fail(last.path, ": its 'settings' metadata is not valid JSON");
  }
  const nlohmann::json now = o.to_json();
  for (const auto& [key, value] : now.items()) {
    if (may_change_on_resume(key) || !trained.contains(key) || trained[key] == value) continue;
    fail(settings_file, ": ", key, " is ", value.dump(), " but ", last.path, " was trained with ",
         trained[key].dump(), " (only epochs, patience and data may change for a resumed run)");
  }
}

// The three splits: the training split fixes the classes (data::train_split's rule), valid and test are
// checked against them.
struct RunData {
  data::Split train, valid;
  std::optional<data::Split> test;
  int64_t classes = 0;
  data::Normalization norm;
  explicit RunData(const TrainOptions& o)
      : train(data::train_split(o.data)),
        valid(data::valid_split(o.data, train.num_classes)),
        test(data::test_split(o.data, train.num_classes)),
        classes(train.num_classes),
        norm(data::normalization_for(o.data, o.normalization)) {}
  data::LoaderOptions loader_options(const TrainOptions& o, bool training, int64_t max_samples) const {
    data::LoaderOptions lo;
    lo.batch = o.batch;
    lo.shuffle = training;
    lo.drop_last_single = training;  // see train.h
    lo.seed = o.seed;
    lo.workers = o.workers;
    lo.image_size = o.image_size;
    lo.norm = norm;
    lo.max_samples = max_samples;
    return lo;
  }
};

// One training run in a locked folder: the model, the optimiser and the loop state, the epochs, and the
// final evaluation.
class Run {
 public:
  Run(TrainOptions o, bool resume)
      : o_(std::move(o)),
        p_(o_.out),
        objective_(losses::objective(o_.loss)),
        dev_(Device::parse(o_.device)),
        data_(o_),
        train_loader_(data_.train, data_.loader_options(o_, true, o_.max_train)),
        valid_loader_(data_.valid, data_.loader_options(o_, false, o_.max_eval)) {
    BIASCKA_CHECK(train_loader_.batches_per_epoch() > 0, o_.data,
                  ": a single training image; batch "
                  "normalisation needs at least 2 per batch");
    settings_ = o_.to_json();
    settings_["classes"] = data_.classes;
    settings_["train_images"] = train_loader_.size();
    settings_["valid_images"] = valid_loader_.size();
    settings_["normalization_preset"] = data_.norm.name;
    if (!resume) write_text_atomic(p_.settings, settings_.dump(2) + "\n");
    ResNet18Config cfg;
    cfg.num_classes = data_.classes;
    cfg.cifar_stem = o_.stem == "cifar";
    cfg.log_softmax_head = objective_.log_softmax_head;
    model_.emplace(cfg, o_.seed, dev_);
    opt_.emplace(model_->named_parameters(), AdamOptions{o_.lr, 0.9f, 0.999f, 1e-8f, o_.weight_decay});
    state_.dropout_seed = model_->dropout_seed();
    if (resume && fs::exists(p_.last)) {
      const TensorFile last = read_checkpoint(p_.last);
      check_checkpoint_matches(last, o_, p_.settings, data_.classes, objective_.log_softmax_head);
      model_->load_state_dict(last);
      opt_->load_state(last);
      state_ = read_run_state(last);
      model_->set_dropout_state(state_.dropout_seed, state_.dropout_offset);
    }
    metrics_ = read_jsonl_file(p_.metrics, state_.epoch);
    meta_ = {{"loss", o_.loss}, {"settings", o_.to_json().dump()}, {"biascka", "0.1.0"}};
  }

  TrainResult run() {
    // From here on there is a checkpoint to write: a signal is deferred until the next step saves it.
    DeferInterrupts defer;
    TrainStep stepper(*model_, *opt_, objective_, o_.objective_params, o_.cuda_graph);
    for (int64_t epoch = state_.epoch; epoch < o_.epochs && state_.bad_epochs < o_.patience; ++epoch) {
      if (!train_epoch(epoch, stepper)) return interrupted();
      if (stop_requested()) {  // last.safetensors is this epoch's end
        note(o_.progress, "interrupted after epoch " + std::to_string(epoch + 1) + "; saved " + p_.last +
                              " (continue with --resume " + p_.run + ")");
        return interrupted();
      }
    }
    if (stop_requested()) return interrupted();
    nlohmann::json summary = final_summary();
    if (stop_requested()) return interrupted();  // summary.json is written by --resume
    write_text_atomic(p_.summary, summary.dump(2) + "\n");
    return {"finished", summary};
  }

 private:
  bool stop_requested() const { return interrupt_requested() || test_stop_; }
  TrainResult interrupted() const { return {"interrupted", nlohmann::json{{"status", "interrupted"}}}; }
  ProgressMode eval_mode() const {
    return o_.progress == ProgressMode::Quiet ? ProgressMode::Quiet : ProgressMode::Lines;
  }

  void save_last() {
    state_.dropout_offset = model_->dropout_offset();
    save_checkpoint(p_.last, *model_, &*opt_, &state_, meta_);
  }

  [[noreturn]] void diverged(int64_t epoch, int64_t step, double loss) {
    nlohmann::json summary = {
        {"status", "diverged"},
        {"settings", settings_},
        {"best_epoch", state_.best_epoch},
        {"message", "loss became " + std::to_string(loss) + " at epoch " + std::to_string(epoch + 1) +
                        ", step " + std::to_string(step + 1)}};
    write_text_atomic(p_.summary, summary.dump(2) + "\n");
    fail(p_.run, ": the ", o_.loss, " loss became ", loss, " at epoch ", epoch + 1, ", step ", step + 1,
         "; stopped (",
         state_.best_epoch ? "best.safetensors of epoch " + std::to_string(state_.best_epoch) + " kept"
                           : std::string("no epoch finished, so there is no best.safetensors"),
         "; try a lower --lr)");
  }

  // One epoch (or the rest of one, resumed mid-way), its validation, the checkpoints and the metrics
  // line. False when interrupted in the middle (last.safetensors then holds the position).
  bool train_epoch(int64_t epoch, TrainStep& stepper) {
    model_->train();
    // A run resumed mid-epoch carries the sums of the batches trained before the interruption.
    const EpochSums before = EpochSums::from_json(
        state_.step_in_epoch ? state_.partial : nlohmann::json::object(), p_.last + " (run_state.partial)");
    const int64_t skip = state_.step_in_epoch;
    Progress progress("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(o_.epochs),
                      train_loader_.batches_per_epoch(), o_.progress);
    const auto t0 = std::chrono::steady_clock::now();
    auto sums_now = [&] {
      EpochSums s = before;
      const StepTotals t = stepper.totals();
      if (t.first_bad_step >= 0) diverged(epoch, skip + t.first_bad_step, t.bad_loss);
      s.add(t);
      s.seconds =
          before.seconds + std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      return s;
    };
    int64_t images_timed = 0;
    stepper.reset(train_loader_.batches_per_epoch());
    train_loader_.start_epoch(epoch,
                              skip);  // resumed mid-epoch: the first `skip` batches were trained already
    data::Batch batch;
    for (int64_t step = skip; train_loader_.next(batch); ++step) {
      stepper.run(batch);
      images_timed += batch.size();
      if (!device_is_asynchronous(dev_) ||
          progress.due(step + 1)) {  // on the GPU, totals wait for the device: only to print
        const EpochSums s = sums_now();
        progress.update(step + 1, images_timed,
                        "loss " + std::to_string(s.loss / std::max<int64_t>(s.seen, 1)).substr(0, 6) +
                            " acc " + pct(double(s.correct) / std::max<int64_t>(s.seen, 1)));
      }
      if (o_.interrupt_after_steps > 0 && ++steps_this_call_ == o_.interrupt_after_steps) test_stop_ = true;
      if (stop_requested()) {
        const EpochSums s = sums_now();
        state_.step_in_epoch = step + 1;
        state_.partial = s.to_json();
        save_last();
        progress.finish("interrupted at epoch " + std::to_string(epoch + 1) + ", step " +
                        std::to_string(step + 1) + "; saved " + p_.last + " (continue with --resume " +
                        p_.run + ")");
        return false;
      }
    }
    const EpochSums sums = sums_now();
    const double train_seconds = sums.seconds - before.seconds;
    const EvalResult valid = evaluate(*model_, valid_loader_, data_.classes, &objective_, o_.objective_params,
                                      eval_mode(), "valid");
    const bool improved = valid.accuracy > state_.best_valid_accuracy;
    state_.epoch = epoch + 1;
    state_.step_in_epoch = 0;
    state_.partial = nlohmann::json::object();
    if (improved) {
      state_.best_valid_accuracy = valid.accuracy;
      state_.best_epoch = epoch + 1;
      state_.bad_epochs = 0;
      save_checkpoint(p_.best, *model_, nullptr, nullptr, meta_);
    } else {
      ++state_.bad_epochs;
    }
    const int64_t conflicting = sums.seen - sums.aligned;
    metrics_.push_back(
        {{"epoch", epoch + 1},
         {"train_loss", sums.loss / std::max<int64_t>(sums.seen, 1)},
         {"train_accuracy", double(sums.correct) / std::max<int64_t>(sums.seen, 1)},
         {"train_aligned_accuracy", num(sums.aligned ? double(sums.correct_aligned) / sums.aligned : NAN)},
         {"train_conflicting_accuracy",
          num(conflicting ? double(sums.correct_conflicting) / conflicting : NAN)},
         {"valid_loss", num(valid.loss)},
         {"valid_accuracy", num(valid.accuracy)},
         {"valid_aligned_accuracy", num(valid.aligned_accuracy)},
         {"valid_conflicting_accuracy", num(valid.conflicting_accuracy)},
         {"seconds", sums.seconds},
         {"images_per_s", images_timed / std::max(train_seconds, 1e-9)},
         {"best_epoch", state_.best_epoch}});
    std::string text;
    for (const auto& l : metrics_) text += l.dump() + "\n";
    write_text_atomic(p_.metrics, text);
    save_last();
    note(o_.progress, "epoch " + std::to_string(epoch + 1) + "/" + std::to_string(o_.epochs) +
                          ": train loss " +
                          std::to_string(sums.loss / std::max<int64_t>(sums.seen, 1)).substr(0, 6) + " acc " +
                          pct(double(sums.correct) / std::max<int64_t>(sums.seen, 1)) + " | valid acc " +
                          pct(valid.accuracy) + " (aligned " + pct(valid.aligned_accuracy) +
                          ", conflicting " + pct(valid.conflicting_accuracy) + ")" + (improved ? " *" : ""));
    if (state_.bad_epochs >= o_.patience)
      note(o_.progress, "early stop: no valid improvement for " + std::to_string(o_.patience) + " epochs");
    return true;
  }

  // The best checkpoint on valid and on the test split.
  nlohmann::json final_summary() {
    const bool stopped_early = state_.bad_epochs >= o_.patience;
    nlohmann::json summary = {{"status", "finished"},
                              {"settings", settings_},
                              {"epochs_run", state_.epoch},
                              {"stopped_early", stopped_early},
                              {"best_epoch", state_.best_epoch},
                              {"valid", {{"accuracy", num(state_.best_valid_accuracy)}}}};
    if (state_.best_epoch > 0) {
      model_->load_state_dict(read_checkpoint(p_.best));
      summary["valid"] = evaluate(*model_, valid_loader_, data_.classes, &objective_, o_.objective_params,
                                  eval_mode(), "valid")
                             .to_json();
      if (data_.test && !stop_requested()) {
        data::Loader test_loader(*data_.test, data_.loader_options(o_, false, o_.max_eval));
        summary["test"] = evaluate(*model_, test_loader, data_.classes, &objective_, o_.objective_params,
                                   eval_mode(), "test")
                              .to_json();
        summary["test"]["split"] = data_.test->dir;
      }
    }
    double seconds = 0;
    for (const auto& m :
         metrics_)  // read back from metrics.jsonl: a non-number is not trusted, not thrown on
      if (m.contains("seconds") && m["seconds"].is_number()) seconds += m["seconds"].get<double>();
    summary["train_seconds"] = seconds;
    return summary;
  }

  TrainOptions o_;
  RunPaths p_;
  const losses::Objective& objective_;
  Device dev_;
  RunData data_;
  data::Loader train_loader_, valid_loader_;
  nlohmann::json settings_;
  std::optional<ResNet18> model_;
  std::optional<Adam> opt_;
  RunState state_;
  std::vector<nlohmann::json> metrics_;
  Metadata meta_;
  int64_t steps_this_call_ = 0;
  bool test_stop_ = false;
};

}  // namespace

nlohmann::json TrainOptions::to_json() const {
  return {{"data", data},
          {"loss", loss},
          {"sos_alpha", json_float(objective_params.sos_alpha)},
          {"sos_beta", json_float(objective_params.sos_beta)},
          {"seed", seed},
          {"device", device},
          {"epochs", epochs},
          {"patience", patience},
          {"batch", batch},
          {"lr", json_float(lr)},
          {"weight_decay", json_float(weight_decay)},
          {"max_train", max_train},
          {"max_eval", max_eval},
          {"stem", stem},
          {"normalization", normalization},
          {"image_size", image_size},
          {"no_tf32", no_tf32}};
}

TrainOptions TrainOptions::from_json(const nlohmann::json& j, const std::string& file) {
  const JsonFields f(j, file);
  // Floats go through double: a value beyond float's range becomes inf (not an undefined conversion),
  // which validate() refuses.
  auto to_float = [](double v) {
    if (std::isnan(v) || std::fabs(v) <= std::numeric_limits<float>::max()) return static_cast<float>(v);
    return v > 0 ? INFINITY : -INFINITY;
  };
  // Integers that are ints in memory: out of int's range they are clamped to a value validate() refuses.
  auto to_int = [](int64_t v) {
    return static_cast<int>(
        std::clamp<int64_t>(v, std::numeric_limits<int>::min(), std::numeric_limits<int>::max()));
  };
  TrainOptions o;
  o.data = f.text("data");
  o.loss = f.text("loss");
  o.objective_params.sos_alpha = to_float(f.number("sos_alpha"));
  o.objective_params.sos_beta = to_float(f.number("sos_beta"));
  o.seed = f.non_negative_integer("seed");
  o.device = f.text("device");
  o.epochs = f.integer("epochs");
  o.patience = f.integer("patience");
  o.batch = f.integer("batch");
  o.lr = to_float(f.number("lr"));
  o.weight_decay = to_float(f.number("weight_decay"));
  o.max_train = f.integer("max_train");
  o.max_eval = f.integer("max_eval");
  o.stem = f.text("stem");
  o.normalization = f.text("normalization");
  o.image_size = to_int(f.integer("image_size"));
  o.no_tf32 = f.boolean("no_tf32");
  return o;
}

void TrainOptions::validate(const std::string& settings_file) const {
  // "--max-train" on the command line, "RUN/settings.json: max_train" for a file.
  auto name = [&](std::string key) {
    if (!settings_file.empty()) return settings_file + ": " + key;
    for (char& c : key)
      if (c == '_') c = '-';
    return "--" + key;
  };
  auto require = [&](bool ok, const char* key, const auto& value, const std::string& rule) {
    if (!ok) fail(name(key), " ", value, ": ", rule);
  };
  try {
    losses::objective(loss);
  } catch (const Error& e) {
    fail(name("loss"), " ", loss, ": ", e.what());
  }
  const float alpha = objective_params.sos_alpha, beta = objective_params.sos_beta;
  require(std::isfinite(alpha) && alpha > 0, "sos_alpha", alpha, "must be a positive number");
  require(std::isfinite(beta), "sos_beta", beta, "must be a finite number");
  require(seed <= uint64_t(std::numeric_limits<int64_t>::max()), "seed", seed, "must be below 2^63");
  check_range(name("epochs"), epochs, 1, 1000000);
  check_range(name("patience"), patience, 1, 1000000);
  check_range(name("batch"), batch, 2, kMaxBatch, "batch normalisation needs at least 2 samples");
  require(std::isfinite(lr) && lr > 0, "lr", lr, "must be a positive number");
  require(std::isfinite(weight_decay) && weight_decay >= 0, "weight_decay", weight_decay,
          "must be a non-negative number");
  check_range(name("max_train"), max_train, 0, std::numeric_limits<int64_t>::max(), "0: all");
  check_range(name("max_eval"), max_eval, 0, std::numeric_limits<int64_t>::max(), "0: all");
  require(stem == "imagenet" || stem == "cifar", "stem", stem, "must be imagenet or cifar");
  if (!normalization.empty()) {
    try {
      data::normalization_preset(normalization);
    } catch (const Error& e) {
      fail(name("normalization"), " ", normalization, ": ", e.what());
    }
  }
  check_range(name("image_size"), image_size, 0, kMaxImageSize, "0: the images' own size");
  parse_device(name("device"), device);
  check_range("--workers", workers, 0, kMaxWorkers, "0: one per core");
  check_batch_memory(settings_file.empty() ? "" : settings_file + ": ", batch, image_size);
}

TrainResult train(const TrainOptions& o, bool resume) {
  BIASCKA_CHECK(!o.out.empty(), "train: --out RUN is required");
  if (resume)
    BIASCKA_CHECK(fs::is_directory(o.out), o.out, ": nothing to resume (no such folder)");
  else
    o.validate();  // before the folder is made
  const RunLock lock(o.out, resume ? "train --resume" : "train");
  return train(o, resume, lock);
}

TrainResult train(const TrainOptions& given, bool resume, const RunLock& lock) {
  BIASCKA_CHECK(lock.folder() == given.out, "train: holding the lock of ", lock.folder(), ", not of ",
                given.out);
  const RunPaths p(given.out);
  if (const int64_t n = remove_stale_temporaries(p.run, true))
    note(given.progress,
         p.run + ": removed " + std::to_string(n) + " temporary file(s) left by an interrupted write");
  if (resume && fs::exists(p.summary)) {
    const nlohmann::json summary = read_json_file(p.summary);
    if (summary.value("status", "") == "finished") return {"finished", summary};
  }
  TrainOptions o = given;
  if (resume) {
    o = resumed_options(given, p);
  } else {
    o.validate();
    BIASCKA_CHECK(!fs::exists(p.last) && !fs::exists(p.summary), p.run,
                  " already holds a run (resume it with --resume ", p.run, ", or choose another --out)");
  }
  const Device dev = Device::parse(o.device);
  require_device(dev);
  set_math_mode(dev, o.no_tf32 ? MathMode::Exact : MathMode::Tf32);
  try {
    Run run(o, resume);
    return run.run();
  } catch (const std::bad_alloc&) {
    fail(p.run, ": out of memory with --batch ", o.batch,
         o.image_size ? " and --image-size " + std::to_string(o.image_size) : std::string(),
         "; lower --batch", o.image_size ? " or --image-size" : "");
  }
}

}  // namespace biascka::workflows
