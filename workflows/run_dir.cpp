#include "workflows/run_dir.h"

#include <cstddef>
#include <filesystem>
#include <utility>

#include "engine/error.h"
#include "engine/io/atomic_file.h"
#include "workflows/json_file.h"
#include "workflows/run_lock.h"

namespace biascka::workflows {

namespace fs = std::filesystem;

namespace {

// "data, epochs and patience": the fields a resumed run may change in settings.json.
std::string editable_fields() {
  std::vector<std::string> keys;
  const TrainOptions any;
  for_each_train_field(
      [&](const TrainField& f, const auto&) {
        if (f.on_resume == OnResume::Editable) keys.push_back(f.key);
      },
      any);
  std::string text;
  for (size_t i = 0; i < keys.size(); ++i)
    text += (i == 0 ? "" : i + 1 == keys.size() ? " and " : ", ") + keys[i];
  return text;
}

std::string metadata_text(const TensorFile& file, const char* key) {
  const auto it = file.metadata.find(key);
  return it == file.metadata.end() ? std::string() : it->second;
}

}  // namespace

RunDir::RunDir(std::string folder)
    : folder_(std::move(folder)),
      settings_(folder_ + "/settings.json"),
      last_(folder_ + "/last.safetensors"),
      best_(folder_ + "/best.safetensors"),
      metrics_(folder_ + "/metrics.jsonl"),
      summary_(folder_ + "/summary.json") {}

void RunDir::remove_stale_temporaries(ProgressMode progress) const {
  if (const int64_t n = workflows::remove_stale_temporaries(folder_, true))
    note(progress,
         folder_ + ": removed " + std::to_string(n) + " temporary file(s) left by an interrupted write");
}

std::optional<nlohmann::json> RunDir::finished_summary() const {
  if (!fs::exists(summary_)) return std::nullopt;
  nlohmann::json summary = read_json_file(summary_);
  if (summary.value("status", "") != "finished") return std::nullopt;
  return summary;
}

bool RunDir::has_ended() const {
  if (!fs::exists(summary_)) return false;
  const std::string status = read_json_file(summary_).value("status", "");
  return status == "finished" || status == "diverged";
}

void RunDir::check_empty_for_new_run() const {
  BIASCKA_CHECK(!fs::exists(last_) && !fs::exists(summary_), folder_,
                " already holds a run (resume it with --resume ", folder_, ", or choose another --out)");
}

TrainOptions RunDir::resumed_options(const TrainOptions& given) const {
  BIASCKA_CHECK(fs::exists(settings_), folder_, ": nothing to resume (no settings.json)");
  const TrainOptions saved = TrainOptions::from_json(read_json_file(settings_), settings_);
  TrainOptions o = given;  // what settings.json does not keep: the user's choice now
  o.out = folder_;
  // Every kept field but those the command chooses: from settings.json.
  for_each_train_field(
      [](const TrainField& f, auto& now, const auto& kept) {
        if (f.on_resume != OnResume::FromCommand) now = kept;
      },
      o, saved);
  o.validate(settings_);
  return o;
}

void RunDir::check_checkpoint_matches(const TensorFile& last, const TrainOptions& o, int64_t classes,
                                      bool log_softmax_head) const {
  const std::string want_classes = std::to_string(classes),
                    head = log_softmax_head ? "log_softmax" : "linear";
  const std::string has_classes = metadata_text(last, "num_classes"), has_head = metadata_text(last, "head");
  BIASCKA_CHECK(has_classes.empty() || has_classes == want_classes, last.path, ": has ", has_classes,
                " classes, but the training data of ", settings_, " now has ", classes);
  BIASCKA_CHECK(has_head.empty() || has_head == head, settings_, ": loss '", o.loss, "' needs a ", head,
                " head, but ", last.path, " has a ", has_head, " head");
  const std::string trained_text = metadata_text(last, "settings");
  if (trained_text.empty()) return;
  nlohmann::json trained;
  try {
    trained = nlohmann::json::parse(trained_text);
  } catch (const nlohmann::json::exception&) {
    fail(last.path, ": its 'settings' metadata is not valid JSON");
  }
  const nlohmann::json now = o.to_json();
  for (const auto& [key, value] : now.items()) {  // in key order: the first difference is reported
    const TrainField* field = find_train_field(key);
    if ((field && field->on_resume != OnResume::Fixed) || !trained.contains(key) || trained[key] == value)
      continue;
    fail(settings_, ": ", key, " is ", value.dump(), " but ", last.path, " was trained with ",
         trained[key].dump(), " (only ", editable_fields(), " may change for a resumed run)");
  }
}

void RunDir::write_settings(const nlohmann::json& settings) const {
  write_text_atomic(settings_, settings.dump(2) + "\n");
}

std::vector<nlohmann::json> RunDir::read_metrics(int64_t epochs) const {
  return read_jsonl_file(metrics_, epochs);
}

void RunDir::write_metrics(const std::vector<nlohmann::json>& lines) const {
  std::string text;
  for (const auto& l : lines) text += l.dump() + "\n";
  write_text_atomic(metrics_, text);
}

void RunDir::write_summary(const nlohmann::json& summary) const {
  write_text_atomic(summary_, summary.dump(2) + "\n");
}

}  // namespace biascka::workflows
