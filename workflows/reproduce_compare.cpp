#include "workflows/reproduce_compare.h"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <utility>

#include "cka/output.h"
#include "data/disent.h"
#include "data/loader.h"
#include "engine/device.h"
#include "models/resnet18_checkpoint.h"
#include "workflows/compare_models.h"
#include "workflows/compare_output.h"
#include "workflows/run_dir.h"
#include "workflows/run_lock.h"
#include "workflows/split_loader.h"

namespace biascka::workflows {

namespace fs = std::filesystem;

namespace {

// The runs of a dataset that have a result to compare: training ended with a best checkpoint (a run that
// diverged before its first checkpoint has none).
std::vector<GridRun> comparable(const std::vector<GridRun>& runs) {
  std::vector<GridRun> out;
  for (const GridRun& r : runs)
    if (RunDir(r.run_dir).has_ended() && fs::exists(r.run_dir + "/best.safetensors")) out.push_back(r);
  return out;
}

void compare_dataset(const std::vector<GridRun>& runs, const ReproduceOptions& o, const std::string& device) {
  std::vector<std::unique_ptr<RunLock>> locks;
  for (const GridRun& r : runs) locks.push_back(std::make_unique<RunLock>(r.run_dir, "reproduce"));
  std::string split_dir = data::find_test_dir(runs.front().data_dir);
  if (split_dir.empty()) split_dir = data::find_valid_dir(runs.front().data_dir);
  note(o.progress, "== " + runs.front().dataset + ": CKA of " + std::to_string(runs.size()) +
                       " runs in one pass over " + split_dir);
  const Device dev = Device::parse(device);
  std::vector<std::unique_ptr<ResNet18>> loaded;
  std::vector<ComparedModel> models;
  for (const GridRun& r : runs) {
    const std::string best = r.run_dir + "/best.safetensors";
    loaded.push_back(std::make_unique<ResNet18>(load_resnet18(best, dev)));
    models.push_back({r.loss + "-seed" + std::to_string(r.seed), r.loss, best, loaded.back().get(),
                      static_cast<uint64_t>(r.seed)});
  }
  ImageOptions image;
  image.workers = o.workers;
  data::Loader loader(data::scan_split(split_dir),
                      split_loader_options(runs.front().data_dir, image, o.cka_batch, o.cka_samples));
  CompareOptions co;
  co.layers = o.cka_layers;
  // The label probes and 95% bootstrap intervals (from each run's seed) come from the same pass.
  co.probes = {"target", "bias"};
  co.cka.bootstrap = 1000;
  co.cka.device = dev;
  co.progress = o.progress == ProgressMode::Quiet ? ProgressMode::Quiet : ProgressMode::Lines;
  const CompareResult res = compare_models(models, loader, co);
  for (size_t m = 0; m < runs.size(); ++m) {
    cka::CkaReport report = res.own[m];
    report.sources = {{"checkpoint", models[m].source}, {"data", split_dir}};
    remove_stale_temporaries(runs[m].run_dir + "/cka", false);
    cka::write_cka_outputs(runs[m].run_dir + "/cka", report);
  }
  const std::string dir = compare_dir(o, runs.front().dataset);
  remove_stale_temporaries(dir, false);
  write_compare_outputs(dir, res, {}, false);
}

}  // namespace

std::string compare_dir(const ReproduceOptions& o, const std::string& dataset) {
  return (fs::path(o.out) / "compare" / dataset).string();
}

bool needs_compare(const std::vector<GridRun>& runs, const ReproduceOptions& o) {
  const std::vector<GridRun> done = comparable(runs);
  if (done.empty()) return false;
  for (const GridRun& r : done)
    if (!fs::exists(r.run_dir + "/cka/cka.json")) return true;
  return !fs::exists(compare_dir(o, done.front().dataset) + "/compare.json");
}

void compare_datasets(const std::vector<GridRun>& grid, const ReproduceOptions& o,
                      const std::string& device) {
  std::vector<std::string> datasets;
  for (const GridRun& r : grid)
    if (datasets.empty() || datasets.back() != r.dataset) datasets.push_back(r.dataset);
  for (const std::string& d : datasets) {
    std::vector<GridRun> runs;
    for (const GridRun& r : grid)
      if (r.dataset == d) runs.push_back(r);
    if (needs_compare(runs, o)) compare_dataset(comparable(runs), o, device);
  }
}

}  // namespace biascka::workflows
