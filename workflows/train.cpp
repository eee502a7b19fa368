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
#include <optional>
#include <string>
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
#include "workflows/train_step.h"

namespace biascka::workflows {

namespace fs = std::filesystem;

namespace {

std::atomic<bool> g_interrupted{false};
extern "C" void on_sigint(int) {
  g_interrupted = true;
  std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C kills at once
}

// Installs the Ctrl-C handler for the scope of a run.
struct SigintScope {
  void (*previous)(int);
  SigintScope() : previous(std::signal(SIGINT, on_sigint)) { g_interrupted = false; }
  ~SigintScope() { std::signal(SIGINT, previous); }
};

std::string pct(double v) {
  if (!std::isfinite(v)) return "n/a";
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.2f%%", 100 * v);
  return buf;
}

nlohmann::json num(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

std::vector<nlohmann::json> read_metrics(const std::string& path, int64_t keep) {
  std::vector<nlohmann::json> lines;
  std::ifstream in(path);
  std::string line;
  while (static_cast<int64_t>(lines.size()) < keep && std::getline(in, line))
    if (!line.empty()) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

void write_metrics(const std::string& path, const std::vector<nlohmann::json>& lines) {
  std::string text;
  for (const auto& l : lines) text += l.dump() + "\n";
  write_text_atomic(path, text);
}

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
  static EpochSums from_json(const nlohmann::json& j) {
    EpochSums s;
    if (j.empty()) return s;
    s.loss = j.at("loss");
    s.seen = j.at("seen");
    s.correct = j.at("correct");
    s.aligned = j.at("aligned");
    s.correct_aligned = j.at("correct_aligned");
    s.correct_conflicting = j.at("correct_conflicting");
    s.seconds = j.at("seconds");
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

}  // namespace

bool interrupt_requested() { return g_interrupted; }

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

TrainOptions TrainOptions::from_json(const nlohmann::json& j) {
  TrainOptions o;
  o.data = j.at("data");
  o.loss = j.at("loss");
  o.objective_params.sos_alpha = j.at("sos_alpha");
  o.objective_params.sos_beta = j.at("sos_beta");
  o.seed = j.at("seed");
  o.device = j.at("device");
  o.epochs = j.at("epochs");
  o.patience = j.at("patience");
  o.batch = j.at("batch");
  o.lr = j.at("lr");
  o.weight_decay = j.at("weight_decay");
  o.max_train = j.at("max_train");
  o.max_eval = j.at("max_eval");
  o.stem = j.at("stem");
  o.normalization = j.at("normalization");
  o.image_size = j.at("image_size");
  o.no_tf32 = j.at("no_tf32");
  return o;
}

TrainResult train(const TrainOptions& given, bool resume) {
  TrainOptions o = given;
  const std::string run = o.out;
  BIASCKA_CHECK(!run.empty(), "train: --out RUN is required");
  const std::string settings_path = run + "/settings.json", last_path = run + "/last.safetensors",
                    best_path = run + "/best.safetensors", metrics_path = run + "/metrics.jsonl",
                    summary_path = run + "/summary.json";
  if (resume) {
    BIASCKA_CHECK(fs::exists(settings_path), run, ": nothing to resume (no settings.json)");
    if (fs::exists(summary_path)) {
      const auto summary = nlohmann::json::parse(read_file(summary_path));
      if (summary.value("status", "") == "finished") return {"finished", summary};
    }
    TrainOptions saved = TrainOptions::from_json(nlohmann::json::parse(read_file(settings_path)));
    saved.out = run;
    saved.device = o.device;  // where to continue is the user's choice now
    saved.workers = o.workers;
    saved.progress = o.progress;
    saved.cuda_graph = o.cuda_graph;
    saved.interrupt_after_steps = o.interrupt_after_steps;
    o = saved;
  } else {
    BIASCKA_CHECK(!fs::exists(last_path) && !fs::exists(summary_path), run,
                  " already holds a run (resume it with --resume ", run, ", or choose another --out)");
  }
  BIASCKA_CHECK(o.batch >= 2, "train: --batch must be at least 2 (batch normalisation), got ", o.batch);
  BIASCKA_CHECK(o.epochs >= 1 && o.patience >= 1, "train: --epochs and --patience must be positive");
  BIASCKA_CHECK(o.stem == "imagenet" || o.stem == "cifar", "train: --stem must be imagenet or cifar, got ",
                o.stem);
  const losses::Objective& objective = losses::objective(o.loss);
  const Device dev = Device::parse(o.device);
  require_device(dev);
  set_allow_tf32(!o.no_tf32);

  // Data: the three splits agree on the number of classes.
  data::Split train_split = data::train_split(o.data);
  data::Split valid_split = data::valid_split(o.data);
  std::optional<data::Split> test_split = data::test_split(o.data);
  int64_t classes = std::max(train_split.num_classes, valid_split.num_classes);
  if (test_split) classes = std::max(classes, test_split->num_classes);
  const data::Normalization norm = data::normalization_for(o.data, o.normalization);
  auto loader_options = [&](bool shuffle, int64_t max_samples) {
    data::LoaderOptions lo;
    lo.batch = o.batch;
    lo.shuffle = shuffle;
    lo.seed = o.seed;
    lo.workers = o.workers;
    lo.image_size = o.image_size;
    lo.norm = norm;
    lo.max_samples = max_samples;
    return lo;
  };
  data::Loader train_loader(train_split, loader_options(true, o.max_train));
  data::Loader valid_loader(valid_split, loader_options(false, o.max_eval));

  fs::create_directories(run);
  nlohmann::json settings = o.to_json();
  settings["classes"] = classes;
  settings["train_images"] = train_loader.size();
  settings["valid_images"] = valid_loader.size();
  settings["normalization_preset"] = norm.name;
  if (!resume) write_text_atomic(settings_path, settings.dump(2) + "\n");

  ResNet18Config cfg;
  cfg.num_classes = classes;
  cfg.cifar_stem = o.stem == "cifar";
  cfg.log_softmax_head = objective.log_softmax_head;
  ResNet18 model(cfg, o.seed, dev);
  Adam opt(model.named_parameters(), AdamOptions{o.lr, 0.9f, 0.999f, 1e-8f, o.weight_decay});
  RunState state;
  state.dropout_seed = model.dropout_seed();
  if (resume && fs::exists(last_path)) {
    const TensorFile last = read_safetensors(last_path);
    model.load_state_dict(last);
    opt.load_state(last);
    state = read_run_state(last);
    model.set_dropout_state(state.dropout_seed, state.dropout_offset);
  }
  std::vector<nlohmann::json> metrics = read_metrics(metrics_path, state.epoch);
  const Metadata meta = {{"loss", o.loss}, {"settings", o.to_json().dump()}, {"biascka", "0.1.0"}};
  SigintScope sigint;

  auto save_last = [&] {
    state.dropout_offset = model.dropout_offset();
    save_checkpoint(last_path, model, &opt, &state, meta);
  };
  auto diverged = [&](int64_t epoch, int64_t step, double loss) {
    nlohmann::json summary = {
        {"status", "diverged"},
        {"settings", settings},
        {"best_epoch", state.best_epoch},
        {"message", "loss became " + std::to_string(loss) + " at epoch " + std::to_string(epoch + 1) +
                        ", step " + std::to_string(step + 1)}};
    write_text_atomic(summary_path, summary.dump(2) + "\n");
    fail(run, ": the ", o.loss, " loss became ", loss, " at epoch ", epoch + 1, ", step ", step + 1,
         "; stopped (best.safetensors",
         state.best_epoch ? " of epoch " + std::to_string(state.best_epoch) : "", " kept; try a lower --lr)");
  };

  bool stopped_early = false;
  int64_t steps_this_call = 0;
  TrainStep stepper(model, opt, objective, o.objective_params, o.cuda_graph);
  for (int64_t epoch = state.epoch; epoch < o.epochs; ++epoch) {
    model.train();
    // A run resumed mid-epoch carries the sums of the batches trained before the interruption.
    const EpochSums before =
        EpochSums::from_json(state.step_in_epoch ? state.partial : nlohmann::json::object());
    const int64_t skip = state.step_in_epoch;
    Progress progress("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(o.epochs),
                      train_loader.batches_per_epoch(), o.progress);
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
    stepper.reset(train_loader.batches_per_epoch());
    train_loader.start_epoch(epoch,
                             skip);  // resumed mid-epoch: the first `skip` batches were trained already
    data::Batch batch;
    for (int64_t step = skip; train_loader.next(batch); ++step) {
      stepper.run(batch);
      images_timed += batch.size();
      if (!dev.is_cuda() ||
          progress.due(step + 1)) {  // on the GPU, totals wait for the device: only to print
        const EpochSums s = sums_now();
        progress.update(step + 1, images_timed,
                        "loss " + std::to_string(s.loss / std::max<int64_t>(s.seen, 1)).substr(0, 6) +
                            " acc " + pct(double(s.correct) / std::max<int64_t>(s.seen, 1)));
      }
      if (o.interrupt_after_steps > 0 && ++steps_this_call == o.interrupt_after_steps) g_interrupted = true;
      if (g_interrupted) {
        const EpochSums s = sums_now();
        state.step_in_epoch = step + 1;
        state.partial = s.to_json();
        save_last();
        progress.finish("interrupted at epoch " + std::to_string(epoch + 1) + ", step " +
                        std::to_string(step + 1) + "; saved " + last_path + " (continue with --resume " +
                        run + ")");
        return {"interrupted", nlohmann::json{{"status", "interrupted"}}};
      }
    }
    const EpochSums sums = sums_now();
    const double train_seconds = sums.seconds - before.seconds;
    const EvalResult valid =
        evaluate(model, valid_loader, classes, &objective, o.objective_params,
                 o.progress == ProgressMode::Quiet ? ProgressMode::Quiet : ProgressMode::Lines, "valid");
    const bool improved = valid.accuracy > state.best_valid_accuracy;
    state.epoch = epoch + 1;
    state.step_in_epoch = 0;
    state.partial = nlohmann::json::object();
    if (improved) {
      state.best_valid_accuracy = valid.accuracy;
      state.best_epoch = epoch + 1;
      state.bad_epochs = 0;
      save_checkpoint(best_path, model, nullptr, nullptr, meta);
    } else {
      ++state.bad_epochs;
    }
    const int64_t conflicting = sums.seen - sums.aligned;
    metrics.push_back(
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
         {"best_epoch", state.best_epoch}});
    write_metrics(metrics_path, metrics);
    save_last();
    note(o.progress, "epoch " + std::to_string(epoch + 1) + "/" + std::to_string(o.epochs) + ": train loss " +
                         std::to_string(sums.loss / std::max<int64_t>(sums.seen, 1)).substr(0, 6) + " acc " +
                         pct(double(sums.correct) / std::max<int64_t>(sums.seen, 1)) + " | valid acc " +
                         pct(valid.accuracy) + " (aligned " + pct(valid.aligned_accuracy) + ", conflicting " +
                         pct(valid.conflicting_accuracy) + ")" + (improved ? " *" : ""));
    if (state.bad_epochs >= o.patience) {
      stopped_early = true;
      note(o.progress, "early stop: no valid improvement for " + std::to_string(o.patience) + " epochs");
      break;
    }
  }
  if (state.epoch < o.epochs && !stopped_early) stopped_early = state.bad_epochs >= o.patience;

  // The best checkpoint on the test split.
  nlohmann::json summary = {
      {"status", "finished"},           {"settings", settings},
      {"epochs_run", state.epoch},      {"stopped_early", stopped_early},
      {"best_epoch", state.best_epoch}, {"valid", {{"accuracy", num(state.best_valid_accuracy)}}}};
  if (state.best_epoch > 0) {
    const TensorFile best = read_safetensors(best_path);
    model.load_state_dict(best);
    const ProgressMode eval_mode =
        o.progress == ProgressMode::Quiet ? ProgressMode::Quiet : ProgressMode::Lines;
    summary["valid"] =
        evaluate(model, valid_loader, classes, &objective, o.objective_params, eval_mode, "valid").to_json();
    if (test_split) {
      data::Loader test_loader(*test_split, loader_options(false, o.max_eval));
      summary["test"] =
          evaluate(model, test_loader, classes, &objective, o.objective_params, eval_mode, "test").to_json();
      summary["test"]["split"] = test_split->dir;
    }
  }
  double seconds = 0;
  for (const auto& m : metrics) seconds += m.value("seconds", 0.0);
  summary["train_seconds"] = seconds;
  write_text_atomic(summary_path, summary.dump(2) + "\n");
  return {"finished", summary};
}

}  // namespace biascka::workflows
