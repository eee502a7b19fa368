// `biascka compare`: every model of a set over one split in one pass (workflows/compare_models.h).
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "apps/cka_cli.h"
#include "apps/commands.h"
#include "apps/common.h"
#include "data/disent.h"
#include "data/loader.h"
#include "engine/error.h"
#include "models/resnet18_checkpoint.h"
#include "workflows/compare_models.h"
#include "workflows/compare_output.h"
#include "workflows/json_file.h"
#include "workflows/progress.h"
#include "workflows/run_dir.h"
#include "workflows/run_lock.h"
#include "workflows/split_loader.h"
#include "workflows/train_options.h"

namespace biascka::app {

namespace fs = std::filesystem;

namespace {

// A folder-safe model name: letters, digits, '.', '-', '_' kept, anything else '_'.
std::string safe_name(const std::string& s) {
  std::string out;
  for (const char c : s)
    out += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_') ? c : '_';
  if (out.empty() || out == "." || out == "..") out = "model";
  return out;
}

// "runs/x/best.safetensors" -> "x"; "a/b.safetensors" -> "b".
std::string name_of_checkpoint(const std::string& path) {
  const fs::path p(path);
  const std::string stem = p.stem().string();
  const bool run_file = stem == "best" || stem == "last";
  return safe_name(run_file && p.has_parent_path() ? p.parent_path().filename().string() : stem);
}

struct ModelSpec {
  std::string name, group, checkpoint;
};

// --checkpoints: PATH or GROUP=PATH each.
std::vector<ModelSpec> specs_from_checkpoints(const std::vector<std::string>& items) {
  std::vector<ModelSpec> out;
  for (const std::string& item : items) {
    const size_t eq = item.find('=');
    ModelSpec s;
    s.checkpoint = eq == std::string::npos ? item : item.substr(eq + 1);
    s.group = eq == std::string::npos ? "" : item.substr(0, eq);
    s.name = name_of_checkpoint(s.checkpoint);
    out.push_back(s);
  }
  return out;
}

// --runs: each run folder's best checkpoint, grouped by its objective; *data set to the runs' test split.
std::vector<ModelSpec> specs_from_runs(const std::vector<std::string>& dirs, std::string* data) {
  std::vector<ModelSpec> out;
  std::string run_data;
  for (const std::string& dir : dirs) {
    const workflows::RunDir run(dir);
    BIASCKA_CHECK(fs::exists(run.settings()), dir, ": not a run folder (no settings.json)");
    const workflows::TrainOptions t =
        workflows::TrainOptions::from_json(workflows::read_json_file(run.settings()), run.settings());
    BIASCKA_CHECK(fs::exists(run.best()), dir, ": no best.safetensors (the run has not saved a checkpoint)");
    BIASCKA_CHECK(run_data.empty() || t.data == run_data, dir, ": trained on ", t.data,
                  ", the runs before on ", run_data, " (compare runs of one dataset)");
    run_data = t.data;
    fs::path folder = fs::path(dir).lexically_normal();
    if (folder.filename().empty()) folder = folder.parent_path();  // "runs/x/"
    // reproduce's runs/{dataset}/{loss}/seed{k}: "seed0" alone would not say which objective.
    const std::string base = folder.filename().string(), parent = folder.parent_path().filename().string();
    const bool seed_folder = base.starts_with("seed") && !parent.empty();
    out.push_back({safe_name(seed_folder ? parent + "-" + base : base), t.loss, run.best()});
  }
  if (data->empty()) {
    *data = data::find_test_dir(run_data);
    if (data->empty()) *data = data::find_valid_dir(run_data);
    BIASCKA_CHECK(!data->empty(), run_data, ": no test or valid split next to the runs' data; give --data");
  }
  return out;
}

// Names made unique by a suffix (-2, -3, ...) in order.
void unique_names(std::vector<ModelSpec>& specs) {
  std::set<std::string> seen;
  for (ModelSpec& s : specs) {
    std::string n = s.name;
    for (int k = 2; !seen.insert(n).second; ++k) n = s.name + "-" + std::to_string(k);
    s.name = n;
  }
}

}  // namespace

void add_compare_command(CLI::App& root) {
  struct Opts {
    std::vector<std::string> checkpoints, runs;
    std::string data, out, pairs = "none";
    CkaCli cka;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = root.add_subcommand(
      "compare",
      "CKA between many models over one split in one pass: each batch goes through every model in turn and\n"
      "all models' centred Grams join one stacked product, so one pass gives every model's own all-pairs\n"
      "matrix (the values `biascka cka` gives), every cross-model matrix, and per layer the model x model\n"
      "matrix. Models in a group (the seeds of one objective: --runs groups by objective, --checkpoints\n"
      "GROUP=PATH) give the noise floor: CKA between seeds, per layer, against which differences between\n"
      "objectives are read.\n"
      "Writes DIR/compare.json, compare.csv, compare.npy [layers, models, models], compare_full.npy (the\n"
      "stacked matrix), compare.png (per ResNet18 stage the group x group CKA, diagonal = seed noise floor;\n"
      "per layer the floor against the between-group mean), DIR/models/NAME/cka.* (each model's own matrix,\n"
      "probes and intervals, as `biascka cka`) and, with --pairs, DIR/pairs/A__B/cka.* (cross-model).\n"
      "--gram-memory bounds the stacked Grams (layer groups across models; a model whose layers are needed\n"
      "again runs again). One process per DIR (DIR/.lock).\n"
      "Examples: biascka compare --runs out/runs/cmnist-* --out cmp/cmnist --probes target,bias\n"
      "          biascka compare --checkpoints sce=a.safetensors sce=b.safetensors gce=c.safetensors "
      "--data ROOT/cmnist/test --out cmp/x --pairs all");
  auto* ckpts = cmd->add_option("--checkpoints", o->checkpoints, "model weights, PATH or GROUP=PATH each");
  cmd->add_option("--runs", o->runs, "run folders (best.safetensors; grouped by objective)")->excludes(ckpts);
  cmd->add_option("--data", o->data, "split folder (DisEnt layout); with --runs default: their test split");
  cmd->add_option("--out", o->out, "output folder")->required();
  cmd->add_option("--pairs", o->pairs, "full cross-model matrices to write: none | all | A:B,C:D (names)")
      ->capture_default_str();
  add_cka_cli(cmd, &o->cka);
  cmd->callback([o] {
    BIASCKA_CHECK(!o->checkpoints.empty() || !o->runs.empty(), "compare: give --checkpoints or --runs");
    BIASCKA_CHECK(!o->runs.empty() || !o->data.empty(), "compare: --checkpoints needs --data SPLIT_DIR");
    check_cka_cli(o->cka);
    const workflows::RunLock lock(o->out, "compare");
    workflows::remove_stale_temporaries(o->out, false);
    std::vector<ModelSpec> specs =
        o->runs.empty() ? specs_from_checkpoints(o->checkpoints) : specs_from_runs(o->runs, &o->data);
    unique_names(specs);
    std::vector<std::string> names;
    for (const ModelSpec& s : specs) names.push_back(s.name);
    const auto pairs = workflows::parse_model_pairs(o->pairs, names);
    const cka::CkaOptions co = cka_options(o->cka);
    std::vector<std::unique_ptr<ResNet18>> loaded;
    std::vector<workflows::ComparedModel> models;
    for (const ModelSpec& s : specs) {
      loaded.push_back(std::make_unique<ResNet18>(load_resnet18(s.checkpoint, co.device)));
      models.push_back({s.name, s.group, s.checkpoint, loaded.back().get(), o->cka.bootstrap_seed});
    }
    data::Loader loader(data::scan_split(o->data),
                        workflows::split_loader_options(o->data, o->cka.image, o->cka.batch,
                                                        o->cka.max_samples, workflows::SplitOrder::Fixed, 0));
    workflows::CompareOptions wo;
    wo.layers = o->cka.layers;
    wo.axis_labels = o->cka.axis_labels;
    wo.cka = co;
    wo.probes = cka_probes(o->cka);
    wo.progress = progress_mode(o->cka);
    const workflows::CompareResult r = workflows::compare_models(models, loader, wo);
    for (const std::string& w : r.stacked.warnings) workflows::warn(w);
    const std::vector<std::string> written = workflows::write_compare_outputs(o->out, r, pairs);
    std::printf(
        "%s\n%zu models x %zu layers over %lld batches on %s: %lld forward passes %.2f s, Grams %.2f s, "
        "HSIC %.2f s\n",
        cka::describe(r.stacked).c_str(), r.models.size(), r.layers.size(),
        static_cast<long long>(r.stacked.batches), r.stacked.gram_device.str().c_str(),
        static_cast<long long>(r.forward_passes), r.forward_s, r.stacked.timing.gram_s,
        r.stacked.timing.hsic_s);
    std::string files;
    for (const std::string& f : written) files += (files.empty() ? "" : ", ") + f;
    std::printf("wrote %s/{%s}\n", workflows::printable(o->out).c_str(), files.c_str());
  });
}

}  // namespace biascka::app
