#include "workflows/compare_models.h"

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

// The stacked accumulator's layer source for one batch: block m is model m's layers, then the probes. A
// model's layers are run (and cached) when first asked for; asking for another model's drops them. The
// probes come from the batch's labels, the same tensors in every block.
class StackedSource {
 public:
  StackedSource(const std::vector<ComparedModel>& models, const std::vector<std::string>& layers,
                size_t block)
      : models_(models), layers_(layers), block_(block) {}

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
    const size_t m = i / block_, k = i % block_;
    if (k >= layers_.size()) return probes_.at(k - layers_.size());
    if (m != cached_) {
      acts_.clear();  // before the next model runs: one model's activations at a time
      const auto t0 = std::chrono::steady_clock::now();
      acts_ = capture_layers(*models_[m].model, images_, layers_, false);
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
  const std::vector<std::string>& layers_;
  size_t block_;
  Tensor images_;
  std::vector<Tensor> probes_, acts_;
  size_t cached_ = kNone;
};

void check_models(const std::vector<ComparedModel>& models, const std::vector<std::string>& layers,
                  const CompareOptions& o) {
  BIASCKA_CHECK(!models.empty(), "compare: no models");
  std::set<std::string> names;
  for (const ComparedModel& m : models) {
    BIASCKA_CHECK(m.model, "compare: model '", m.name, "' is not loaded");
    BIASCKA_CHECK(names.insert(m.name).second, "compare: two models are named '", m.name, "'");
    BIASCKA_CHECK(m.model->device() == models.front().model->device(), "compare: model '", m.name, "' is on ",
                  m.model->device().str(), ", model '", models.front().name, "' on ",
                  models.front().model->device().str(), " (all models run on one device)");
    BIASCKA_CHECK(select_layers(m.model->layer_names(), o.layers) == layers, "compare: model '", m.name,
                  "' (", m.source, ") does not have the layers of model '", models.front().name, "'");
  }
  BIASCKA_CHECK(o.probes.empty() || o.cka.kernel.kind == cka::Kernel::Linear,
                "--probes: only with the linear kernel");
}

// Model m's own report from the stacked one: its diagonal block and the probes, intervals from the block's
// kept batches with the model's bootstrap seed, then the probes split off (as cka_of_models does).
cka::CkaReport own_report(const cka::CkaReport& stacked, const cka::BatchHistory* history, size_t m,
                          const CompareResult& res, const CompareOptions& o, const data::Loader& loader) {
  const size_t block = res.layers.size() + o.probes.size(), total = stacked.layers.size();
  std::vector<size_t> rows;
  std::vector<std::string> names = res.layers;
  for (const std::string& p : o.probes) names.push_back(cka::probe_layer_name(p));
  for (size_t i = 0; i < block; ++i) rows.push_back(cka::stacked_row(m, i, block));
  cka::CkaReport r = cka::block_report(stacked, rows, rows, names, names, false);
  if (history)
    cka::add_intervals(r, {o.cka.bootstrap, res.models[m].bootstrap_seed, 0.95},
                       [&] { return cka::block_history(*history, total, rows); });
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
  const std::vector<std::string> layers = models.empty()
                                              ? std::vector<std::string>{}
                                              : select_layers(models.front().model->layer_names(), o.layers);
  check_models(models, layers, o);
  std::vector<std::string> stacked_names;
  std::vector<std::string> block_names = layers;  // one model's block: its layers, then the probes
  for (const std::string& p : o.probes) block_names.push_back(cka::probe_layer_name(p));
  for (const ComparedModel& m : models)
    for (const std::string& layer : block_names)
      stacked_names.push_back(cka::stacked_layer_name(m.name, layer));
  const int64_t batch = loader.options().batch;
  BIASCKA_CHECK(batch >= cka::min_batch(o.cka.estimator), "CKA batch of ", batch, ": the ",
                cka::estimator_name(o.cka.estimator), " estimator needs at least ",
                cka::min_batch(o.cka.estimator), " samples per batch");
  for (const std::string& n : cka::plan_notes(loader.split().dir, loader.size(), batch, false,
                                              o.cka.estimator, stacked_names.size(), 0))
    warn(n);
  if (o.cka.bootstrap > 0 &&
      !cka::bootstrap_fits(o.cka.bootstrap, layers.size() + o.probes.size(), layers.size() + o.probes.size()))
    fail("compare: --bootstrap ", o.cka.bootstrap, " over ", layers.size(),
         " layers is more than the limit (", cka::kMaxBootstrapWork, " replicate cells); lower --bootstrap");
  std::vector<std::unique_ptr<EvalModeGuard>> guards;
  for (const ComparedModel& m : models) guards.push_back(std::make_unique<EvalModeGuard>(m.model));
  NoGrad no_grad;
  cka::CkaOptions co = o.cka;
  co.keep_batches = co.bootstrap > 0;  // each model's intervals come from its block of the kept batches
  co.bootstrap = 0;                    // none over the whole stacked matrix
  co.block_layers = static_cast<int64_t>(block_names.size());  // each model's values as if alone
  cka::MinibatchCka acc(stacked_names, {}, co);
  const Device device = models.front().model->device();
  BatchStager stager(device);
  StackedSource source(models, layers, block_names.size());
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

  CompareResult res;
  res.models = models;
  res.layers = o.layers == "torch_cka"
                   ? torch_cka_axis_labels(torch_cka_axis(models.front().model->layer_names()), o.axis_labels)
                   : layers;
  res.stacked = cka::make_report(acc, batch, false);
  res.stacked.sources = {{"data", loader.split().dir}, {"layers", o.layers}};
  const std::unique_ptr<const cka::BatchHistory> history =
      co.keep_batches ? std::make_unique<const cka::BatchHistory>(acc.batch_history()) : nullptr;
  for (size_t m = 0; m < models.size(); ++m)
    res.own.push_back(own_report(res.stacked, history.get(), m, res, o, loader));
  const auto nm = static_cast<int64_t>(models.size()), nl = static_cast<int64_t>(layers.size());
  res.layer_models =
      cka::layer_model_matrices(res.stacked.matrix, nm, nl, static_cast<int64_t>(block_names.size()));
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
  const size_t l = r.layers.size(), block = r.stacked.layers.size() / r.models.size();
  std::vector<size_t> rows, cols;
  for (size_t i = 0; i < l; ++i) {
    rows.push_back(cka::stacked_row(a, i, block));
    cols.push_back(cka::stacked_row(b, i, block));
  }
  cka::CkaReport p = cka::block_report(r.stacked, rows, cols, r.layers, r.layers, true);
  p.sources = {{"checkpoint", r.models[a].source},
               {"checkpoint_b", r.models[b].source},
               {"data", r.stacked.sources.empty() ? "" : r.stacked.sources.front().second}};
  return p;
}

}  // namespace biascka::workflows
