#include "workflows/compare_models.h"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <memory>
#include <set>
#include <utility>

#include "cka/bootstrap.h"
#include "cka/probes.h"
#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/staging.h"
#include "models/torch_cka_axis.h"
#include "workflows/layer_capture.h"

namespace biascka::workflows {

namespace {

// Where each model's rows are in the stacked accumulator: model m's block starts at first[m] and holds its
// selected layers (models may differ: nll's network has one more layer), then the probes.
struct StackLayout {
  std::vector<std::vector<std::string>> layers;
  std::vector<size_t> first;
  size_t probes = 0;
  size_t block(size_t m) const { return layers[m].size() + probes; }
  size_t model_of(size_t row) const {
    return static_cast<size_t>(std::upper_bound(first.begin(), first.end(), row) - first.begin()) - 1;
  }
};

// The stacked accumulator's layer source for one batch. A model's layers are run (and cached) when first
// asked for; asking for another model's drops them. The probes come from the batch's labels, the same
// tensors in every block.
class StackedSource {
 public:
  StackedSource(const std::vector<ComparedModel>& models, const StackLayout& layout)
      : models_(models), layout_(layout) {}

  void start(Tensor images, std::vector<Tensor> probes) {
    images_ = std::move(images);
    probes_ = std::move(probes);
    cached_ = kNone;
  }
  void finish() {
    acts_.clear();
    images_ = Tensor();
    probes_.clear();
    cached_ = kNone;
  }
  Tensor operator()(size_t i) {
    const size_t m = layout_.model_of(i), k = i - layout_.first[m];
    const std::vector<std::string>& layers = layout_.layers[m];
    if (k >= layers.size()) return probes_.at(k - layers.size());
    if (m != cached_) {
      acts_.clear();  // before the next model runs: one model's activations at a time
      const auto t0 = std::chrono::steady_clock::now();
      acts_ = capture_layers(*models_[m].model, images_, layers, false);
      forward_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      ++forward_passes;
      cached_ = m;
    }
    return acts_[k];
  }

  double forward_s = 0;
  int64_t forward_passes = 0;

 private:
  static constexpr size_t kNone = static_cast<size_t>(-1);
  const std::vector<ComparedModel>& models_;
  const StackLayout& layout_;
  Tensor images_;
  std::vector<Tensor> probes_, acts_;
  size_t cached_ = kNone;
};

void check_models(const std::vector<ComparedModel>& models, const CompareOptions& o) {
  BIASCKA_CHECK(!models.empty(), "compare: no models");
  std::set<std::string> names;
  for (const ComparedModel& m : models) {
    BIASCKA_CHECK(m.model, "compare: model '", m.name, "' is not loaded");
    BIASCKA_CHECK(names.insert(m.name).second, "compare: two models are named '", m.name, "'");
    BIASCKA_CHECK(m.model->device() == models.front().model->device(), "compare: model '", m.name, "' is on ",
                  m.model->device().str(), ", model '", models.front().name, "' on ",
                  models.front().model->device().str(), " (all models run on one device)");
  }
  BIASCKA_CHECK(o.probes.empty() || o.cka.kernel.kind == cka::Kernel::Linear,
                "--probes: only with the linear kernel");
}

// Each model's selected layers, and their row labels (--layers torch_cka: as --axis-labels asks).
StackLayout stack_layout(const std::vector<ComparedModel>& models, const CompareOptions& o,
                         std::vector<std::vector<std::string>>* labels) {
  StackLayout l;
  l.probes = o.probes.size();
  size_t row = 0;
  for (const ComparedModel& m : models) {
    const std::vector<std::string> names = m.model->layer_names();
    l.layers.push_back(select_layers(names, o.layers));
    labels->push_back(o.layers == "torch_cka" ? torch_cka_axis_labels(torch_cka_axis(names), o.axis_labels)
                                              : l.layers.back());
    l.first.push_back(row);
    row += l.block(l.first.size() - 1);
  }
  return l;
}

// The layers of model 0's selection that every model has (in model 0's order), and each model's row of
// each: the per-layer model x model matrices are over these.
std::vector<std::vector<size_t>> common_rows(const StackLayout& l, std::vector<size_t>* in_first) {
  std::vector<std::vector<size_t>> rows(l.layers.size());
  for (size_t j = 0; j < l.layers[0].size(); ++j) {
    std::vector<size_t> at;
    for (size_t m = 0; m < l.layers.size(); ++m) {
      const auto it = std::find(l.layers[m].begin(), l.layers[m].end(), l.layers[0][j]);
      if (it == l.layers[m].end()) break;
      at.push_back(l.first[m] + static_cast<size_t>(it - l.layers[m].begin()));
    }
    if (at.size() < l.layers.size()) continue;
    in_first->push_back(j);
    for (size_t m = 0; m < at.size(); ++m) rows[m].push_back(at[m]);
  }
  return rows;
}

// Model m's own report from the stacked one: its diagonal block and the probes, intervals from the block's
// kept batches with the model's bootstrap seed, then the probes split off (as cka_of_models does).
cka::CkaReport own_report(const cka::CkaReport& stacked, const cka::BatchHistory* history, size_t m,
                          const CompareResult& res, const CompareOptions& o, const data::Loader& loader) {
  std::vector<std::string> names = res.model_layers[m];
  for (const std::string& p : o.probes) names.push_back(cka::probe_layer_name(p));
  std::vector<size_t> rows;
  for (size_t i = 0; i < names.size(); ++i) rows.push_back(res.block_first[m] + i);
  cka::CkaReport r = cka::block_report(stacked, rows, rows, names, names, false);
  if (history)
    cka::add_intervals(r, {o.cka.bootstrap, res.models[m].bootstrap_seed, 0.95},
                       [&] { return cka::block_history(*history, stacked.layers.size(), rows); });
  cka::split_probes(r, o.probes);
  r.sources = {{"checkpoint", res.models[m].source},
               {"data", loader.split().dir},
               {"layers", o.layers},
               {"subset", "all"}};
  return r;
}

}  // namespace

CompareResult compare_models(const std::vector<ComparedModel>& models, data::Loader& loader,
                             const CompareOptions& o) {
  check_models(models, o);
  CompareResult res;
  res.models = models;
  const StackLayout layout = stack_layout(models, o, &res.model_layers);
  std::vector<size_t> common;  // positions in model 0's selection
  const std::vector<std::vector<size_t>> rows = common_rows(layout, &common);
  BIASCKA_CHECK(!common.empty(), "compare: the models share no selected layer (--layers ", o.layers, ")");
  std::vector<std::string> stacked_names;
  std::vector<int64_t> blocks;
  size_t largest = 0;
  for (size_t m = 0; m < models.size(); ++m) {
    for (const std::string& layer : layout.layers[m])
      stacked_names.push_back(cka::stacked_layer_name(models[m].name, layer));
    for (const std::string& p : o.probes)
      stacked_names.push_back(cka::stacked_layer_name(models[m].name, cka::probe_layer_name(p)));
    blocks.push_back(static_cast<int64_t>(layout.block(m)));
    largest = std::max(largest, layout.block(m));
  }
  const int64_t batch = loader.options().batch;
  BIASCKA_CHECK(batch >= cka::min_batch(o.cka.estimator), "CKA batch of ", batch, ": the ",
                cka::estimator_name(o.cka.estimator), " estimator needs at least ",
                cka::min_batch(o.cka.estimator), " samples per batch");
  for (const std::string& n : cka::plan_notes(loader.split().dir, loader.size(), batch, false,
                                              o.cka.estimator, stacked_names.size(), 0))
    warn(n);
  if (o.cka.bootstrap > 0 && !cka::bootstrap_fits(o.cka.bootstrap, largest, largest))
    fail("compare: --bootstrap ", o.cka.bootstrap, " over ", largest, " layers is more than the limit (",
         cka::kMaxBootstrapWork, " replicate cells); lower --bootstrap");
  std::vector<std::unique_ptr<EvalModeGuard>> guards;
  for (const ComparedModel& m : models) guards.push_back(std::make_unique<EvalModeGuard>(m.model));
  NoGrad no_grad;
  cka::CkaOptions co = o.cka;
  co.keep_batches = co.bootstrap > 0;  // each model's intervals come from its block of the kept batches
  co.bootstrap = 0;                    // none over the whole stacked matrix
  co.blocks = blocks;                  // each model's values as if alone
  cka::MinibatchCka acc(stacked_names, {}, co);
  BatchStager stager(models.front().model->device());
  StackedSource source(models, layout);
  const cka::LayerSource layer_source = [&source](size_t i) { return source(i); };
  Progress progress("compare", loader.batches_per_epoch(), o.progress);
  int64_t step = 0, images = 0;
  data::Batch b;
  loader.start_epoch(0);
  while (loader.next(b)) {
    source.start(stager.stage(b.images), probe_activations(b, o.probes, loader.split(), acc.device()));
    acc.add_batch(b.size(), layer_source);
    source.finish();
    images += b.size();
    progress.update(++step, images, "");
  }
  progress.finish("");

  res.block_first = layout.first;
  for (const size_t j : common) res.layers.push_back(res.model_layers[0][j]);
  res.stacked = cka::make_report(acc, batch, false);
  res.stacked.sources = {{"data", loader.split().dir}, {"layers", o.layers}};
  const std::unique_ptr<const cka::BatchHistory> history =
      co.keep_batches ? std::make_unique<const cka::BatchHistory>(acc.batch_history()) : nullptr;
  for (size_t m = 0; m < models.size(); ++m)
    res.own.push_back(own_report(res.stacked, history.get(), m, res, o, loader));
  res.layer_models = cka::layer_model_matrices(res.stacked.matrix, rows);
  std::vector<std::string> group_of;
  for (const ComparedModel& m : models) group_of.push_back(m.group.empty() ? m.name : m.group);
  res.groups = cka::group_similarity(res.layer_models, group_of);
  res.forward_s = source.forward_s;
  res.forward_passes = source.forward_passes;
  res.stacked.forward_s = source.forward_s;
  return res;
}

cka::CkaReport pair_report(const CompareResult& r, size_t a, size_t b) {
  BIASCKA_CHECK(a < r.models.size() && b < r.models.size(), "compare: no model ",
                a < r.models.size() ? b : a);
  auto rows_of = [&r](size_t m) {
    std::vector<size_t> rows;
    for (size_t i = 0; i < r.model_layers[m].size(); ++i) rows.push_back(r.block_first[m] + i);
    return rows;
  };
  cka::CkaReport p =
      cka::block_report(r.stacked, rows_of(a), rows_of(b), r.model_layers[a], r.model_layers[b], true);
  p.sources = {{"checkpoint", r.models[a].source},
               {"checkpoint_b", r.models[b].source},
               {"data", r.stacked.sources.empty() ? "" : r.stacked.sources.front().second}};
  return p;
}

}  // namespace biascka::workflows
