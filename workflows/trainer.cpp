#include "workflows/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <utility>

#include "engine/device.h"
#include "engine/error.h"
#include "workflows/evaluate.h"
#include "workflows/interrupt.h"
#include "workflows/json_file.h"
#include "workflows/split_loader.h"

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

double per_image(double sum, int64_t seen) { return sum / std::max<int64_t>(seen, 1); }

std::string epoch_label(int64_t epoch, int64_t epochs) {
  return "epoch " + std::to_string(epoch + 1) + "/" + std::to_string(epochs);
}

}  // namespace

const char* status_name(RunStatus s) {
  switch (s) {
    case RunStatus::Finished:
      return "finished";
    case RunStatus::Interrupted:
      return "interrupted";
    case RunStatus::Diverged:
      break;
  }
  return "diverged";
}

nlohmann::json EpochSums::to_json() const {
  return {{"loss", loss},
          {"seen", seen},
          {"correct", correct},
          {"aligned", aligned},
          {"correct_aligned", correct_aligned},
          {"correct_conflicting", correct_conflicting},
          {"seconds", seconds}};
}

void EpochSums::add(const StepTotals& t) {
  loss += t.loss_sum;
  seen += t.seen;
  correct += t.correct;
  aligned += t.aligned;
  correct_aligned += t.correct_aligned;
  correct_conflicting += t.correct_conflicting;
}

EpochSums EpochSums::from_json(const nlohmann::json& j, const std::string& file) {
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

// The training split fixes the classes (data::train_split's rule), valid and test are checked against them.
Trainer::Trainer(TrainOptions o, bool resume)
    : o_(std::move(o)),
      dir_(o_.out),
      objective_(losses::objective(o_.loss)),
      dev_(Device::parse(o_.device)),
      train_split_(data::train_split(o_.data)),
      valid_split_(data::valid_split(o_.data, train_split_.num_classes)),
      test_split_(data::test_split(o_.data, train_split_.num_classes)),
      train_loader_(train_split_, loader_options(true)),
      valid_loader_(valid_split_, loader_options(false)) {
  BIASCKA_CHECK(train_loader_.batches_per_epoch() > 0, o_.data,
                ": a single training image; batch normalisation needs at least 2 per batch");
  const int64_t classes = train_split_.num_classes;
  settings_ = o_.to_json();
  settings_["classes"] = classes;
  settings_["train_images"] = train_loader_.size();
  settings_["valid_images"] = valid_loader_.size();
  settings_["normalization_preset"] = train_loader_.options().norm.name;
  if (!resume) dir_.write_settings(settings_);
  ResNet18Config cfg;
  cfg.num_classes = classes;
  cfg.cifar_stem = o_.stem == "cifar";
  cfg.log_softmax_head = objective_.log_softmax_head;
  model_.emplace(cfg, o_.seed, dev_);
  opt_.emplace(model_->named_parameters(), AdamOptions{o_.lr, 0.9f, 0.999f, 1e-8f, o_.weight_decay});
  state_.dropout_seed = model_->dropout_seed();
  if (resume && fs::exists(dir_.last())) {
    const TensorFile last = read_checkpoint(dir_.last());
    dir_.check_checkpoint_matches(last, o_, classes, objective_.log_softmax_head);
    model_->load_state_dict(last);
    opt_->load_state(last);
    state_ = read_run_state(last);
    model_->set_dropout_state(state_.dropout_seed, state_.dropout_offset);
  }
  metrics_ = dir_.read_metrics(state_.epoch);
  if (o_.cka_every > 0)
    cka_.emplace(o_, valid_split_, model_->layer_names(), dir_.folder(), state_.epoch, resume);
  meta_ = {{"loss", o_.loss}, {"settings", o_.to_json().dump()}, {"biascka", "0.1.0"}};
}

data::LoaderOptions Trainer::loader_options(bool training) const {
  const ImageOptions image{o_.normalization, o_.image_size, o_.workers};
  return split_loader_options(o_.data, image, o_.batch, training ? o_.max_train : o_.max_eval,
                              training ? SplitOrder::Training : SplitOrder::Fixed, o_.seed);
}

TrainOutcome Trainer::run() {
  const TrainOutcome interrupted{RunStatus::Interrupted, nlohmann::json{{"status", "interrupted"}}, ""};
  // From here on there is a checkpoint to write: a signal is deferred until the next step saves it.
  DeferInterrupts defer;
  TrainStep stepper(*model_, *opt_, objective_, o_.objective_params, o_.cuda_graph);
  // The CKA at initialisation, or one that a run killed after its checkpoint did not write.
  if (cka_ && state_.step_in_epoch == 0 && cka_->due(state_.epoch)) cka_->evaluate(*model_, state_.epoch);
  for (int64_t epoch = state_.epoch; epoch < o_.epochs && state_.bad_epochs < o_.patience; ++epoch) {
    EpochWork work;
    const EpochEnd end = train_steps(epoch, stepper, &work);
    if (end == EpochEnd::Diverged) return diverged();
    if (end == EpochEnd::Interrupted) return interrupted;
    finish_epoch(epoch, work);
    if (cka_ && cka_->due(epoch + 1)) cka_->evaluate(*model_, epoch + 1);  // last.safetensors holds epoch + 1
    if (stop_requested()) {  // last.safetensors is this epoch's end
      note(o_.progress, "interrupted after epoch " + std::to_string(epoch + 1) + "; saved " + dir_.last() +
                            " (continue with --resume " + dir_.folder() + ")");
      return interrupted;
    }
  }
  if (stop_requested()) return interrupted;
  nlohmann::json summary = final_summary();
  if (stop_requested()) return interrupted;  // summary.json is written by --resume
  dir_.write_summary(summary);
  return {RunStatus::Finished, summary, ""};
}

bool Trainer::stop_requested() const { return interrupt_requested() || test_stop_; }

ProgressMode Trainer::eval_mode() const {
  return o_.progress == ProgressMode::Quiet ? ProgressMode::Quiet : ProgressMode::Lines;
}

void Trainer::save_last() {
  state_.dropout_offset = model_->dropout_offset();
  save_checkpoint(dir_.last(), *model_, &*opt_, &state_, meta_);
}

TrainOutcome Trainer::diverged() {
  const Divergence& d = divergence_;
  nlohmann::json summary = {
      {"status", "diverged"},
      {"settings", settings_},
      {"best_epoch", state_.best_epoch},
      {"message", "loss became " + std::to_string(d.loss) + " at epoch " + std::to_string(d.epoch + 1) +
                      ", step " + std::to_string(d.step + 1)}};
  dir_.write_summary(summary);
  const std::string kept = state_.best_epoch
                               ? "best.safetensors of epoch " + std::to_string(state_.best_epoch) + " kept"
                               : std::string("no epoch finished, so there is no best.safetensors");
  return {RunStatus::Diverged, summary,
          detail::concat(dir_.folder(), ": the ", o_.loss, " loss became ", d.loss, " at epoch ", d.epoch + 1,
                         ", step ", d.step + 1, "; stopped (", kept, "; try a lower --lr)")};
}

Trainer::EpochEnd Trainer::train_steps(int64_t epoch, TrainStep& stepper, EpochWork* work) {
  model_->train();
  // A run resumed mid-epoch carries the sums of the batches trained before the interruption.
  const EpochSums before = EpochSums::from_json(
      state_.step_in_epoch ? state_.partial : nlohmann::json::object(), dir_.last() + " (run_state.partial)");
  const int64_t skip = state_.step_in_epoch;
  Progress progress(epoch_label(epoch, o_.epochs), train_loader_.batches_per_epoch(), o_.progress);
  const auto t0 = std::chrono::steady_clock::now();
  // The sums so far; false (and divergence_ set) when a step's loss was not finite.
  auto sums_now = [&] {
    const StepTotals t = stepper.totals();
    if (t.first_bad_step >= 0) {
      divergence_ = {epoch, skip + t.first_bad_step, t.bad_loss};
      return false;
    }
    work->sums = before;
    work->sums.add(t);
    work->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    work->sums.seconds = before.seconds + work->seconds;
    return true;
  };
  stepper.reset(train_loader_.batches_per_epoch());
  train_loader_.start_epoch(epoch, skip);  // resumed mid-epoch: the first `skip` batches were trained already
  data::Batch batch;
  for (int64_t step = skip; train_loader_.next(batch); ++step) {
    stepper.run(batch);
    work->images += batch.size();
    if (!device_is_asynchronous(dev_) ||
        progress.due(step + 1)) {  // on the GPU, totals wait for the device: only to print
      if (!sums_now()) return EpochEnd::Diverged;
      const EpochSums& s = work->sums;
      progress.update(step + 1, work->images,
                      "loss " + std::to_string(per_image(s.loss, s.seen)).substr(0, 6) + " acc " +
                          pct(per_image(s.correct, s.seen)));
    }
    if (o_.interrupt_after_steps > 0 && ++steps_this_call_ == o_.interrupt_after_steps) test_stop_ = true;
    if (stop_requested()) {
      if (!sums_now()) return EpochEnd::Diverged;
      state_.step_in_epoch = step + 1;
      state_.partial = work->sums.to_json();
      save_last();
      progress.finish("interrupted at epoch " + std::to_string(epoch + 1) + ", step " +
                      std::to_string(step + 1) + "; saved " + dir_.last() + " (continue with --resume " +
                      dir_.folder() + ")");
      return EpochEnd::Interrupted;
    }
  }
  return sums_now() ? EpochEnd::Done : EpochEnd::Diverged;
}

void Trainer::finish_epoch(int64_t epoch, const EpochWork& work) {
  const EvalResult valid = evaluate(*model_, valid_loader_, train_split_.num_classes, &objective_,
                                    o_.objective_params, eval_mode(), "valid");
  const bool improved = valid.accuracy > state_.best_valid_accuracy;
  state_.epoch = epoch + 1;
  state_.step_in_epoch = 0;
  state_.partial = nlohmann::json::object();
  if (improved) {
    state_.best_valid_accuracy = valid.accuracy;
    state_.best_epoch = epoch + 1;
    state_.bad_epochs = 0;
    save_checkpoint(dir_.best(), *model_, nullptr, nullptr, meta_);
  } else {
    ++state_.bad_epochs;
  }
  metrics_.push_back(metrics_line(epoch, work, valid));
  dir_.write_metrics(metrics_);
  save_last();
  const EpochSums& s = work.sums;
  note(o_.progress, epoch_label(epoch, o_.epochs) + ": train loss " +
                        std::to_string(per_image(s.loss, s.seen)).substr(0, 6) + " acc " +
                        pct(per_image(s.correct, s.seen)) + " | valid acc " + pct(valid.accuracy) +
                        " (aligned " + pct(valid.aligned_accuracy) + ", conflicting " +
                        pct(valid.conflicting_accuracy) + ")" + (improved ? " *" : ""));
  if (state_.bad_epochs >= o_.patience)
    note(o_.progress, "early stop: no valid improvement for " + std::to_string(o_.patience) + " epochs");
}

nlohmann::json Trainer::metrics_line(int64_t epoch, const EpochWork& work, const EvalResult& valid) const {
  const EpochSums& s = work.sums;
  const int64_t conflicting = s.seen - s.aligned;
  return {
      {"epoch", epoch + 1},
      {"train_loss", per_image(s.loss, s.seen)},
      {"train_accuracy", per_image(s.correct, s.seen)},
      {"train_aligned_accuracy", num(s.aligned ? double(s.correct_aligned) / s.aligned : NAN)},
      {"train_conflicting_accuracy", num(conflicting ? double(s.correct_conflicting) / conflicting : NAN)},
      {"valid_loss", num(valid.loss)},
      {"valid_accuracy", num(valid.accuracy)},
      {"valid_aligned_accuracy", num(valid.aligned_accuracy)},
      {"valid_conflicting_accuracy", num(valid.conflicting_accuracy)},
      {"seconds", s.seconds},
      {"images_per_s", work.images / std::max(work.seconds, 1e-9)},
      {"best_epoch", state_.best_epoch}};
}

// The best checkpoint on valid and on the test split.
nlohmann::json Trainer::final_summary() {
  const bool stopped_early = state_.bad_epochs >= o_.patience;
  nlohmann::json summary = {{"status", "finished"},
                            {"settings", settings_},
                            {"epochs_run", state_.epoch},
                            {"stopped_early", stopped_early},
                            {"best_epoch", state_.best_epoch},
                            {"valid", {{"accuracy", num(state_.best_valid_accuracy)}}}};
  const int64_t classes = train_split_.num_classes;
  if (state_.best_epoch > 0) {
    model_->load_state_dict(read_checkpoint(dir_.best()));
    summary["valid"] =
        evaluate(*model_, valid_loader_, classes, &objective_, o_.objective_params, eval_mode(), "valid")
            .to_json();
    if (test_split_ && !stop_requested()) {
      data::Loader test_loader(*test_split_, loader_options(false));
      summary["test"] =
          evaluate(*model_, test_loader, classes, &objective_, o_.objective_params, eval_mode(), "test")
              .to_json();
      summary["test"]["split"] = test_split_->dir;
    }
  }
  double seconds = 0;
  for (const auto& m : metrics_)  // read back from metrics.jsonl: a non-number is not trusted, not thrown on
    if (m.contains("seconds") && m["seconds"].is_number()) seconds += m["seconds"].get<double>();
  summary["train_seconds"] = seconds;
  return summary;
}

}  // namespace biascka::workflows
