#include "workflows/cka_model.h"

#include <chrono>
#include <cstddef>
#include <utility>
#include <vector>

#include "cka/probes.h"
#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/staging.h"
#include "models/torch_cka_axis.h"
#include "workflows/layer_capture.h"

namespace biascka::workflows {

namespace {

// Rows of several [b_k, ...] chunks stacked into one [sum b_k, ...] tensor on their device (full-data mode).
Tensor concat_rows(const std::vector<Tensor>& chunks) {
  Shape shape = chunks.front().shape();
  int64_t rows = 0;
  for (const Tensor& c : chunks) rows += c.size(0);
  shape[0] = rows;
  const Device dev = chunks.front().device();
  Tensor out = Tensor::empty(shape, chunks.front().dtype(), dev);
  char* dst = static_cast<char*>(out.raw_data());
  for (const Tensor& c : chunks) {
    device_copy(dst, dev, c.raw_data(), c.device(), c.nbytes());
    dst += c.nbytes();
  }
  return out;
}

}  // namespace

cka::CkaReport cka_of_models(ResNet18& model_a, ResNet18* model_b, data::Loader& loader,
                             const CkaModelOptions& o) {
  BIASCKA_CHECK(o.epochs_over_data >= 1, "CKA: --epochs-over-data must be at least 1, got ",
                o.epochs_over_data);
  BIASCKA_CHECK(o.probes.empty() || (!model_b && o.cka.kernel.kind == cka::Kernel::Linear),
                "--probes: only for one model and the linear kernel");
  const std::vector<std::string> layers = select_layers(model_a.layer_names(), o.layers);
  std::vector<std::string> la = layers;  // the accumulator's layers: the model's, then the probes
  for (const std::string& p : o.probes) la.push_back(cka::probe_layer_name(p));
  const std::vector<std::string> lb =
      model_b ? select_layers(model_b->layer_names(), o.layers) : std::vector<std::string>{};
  const int64_t batch = o.full ? loader.size() : loader.options().batch;
  BIASCKA_CHECK(batch >= cka::min_batch(o.cka.estimator), "CKA batch of ", batch, ": the ",
                cka::estimator_name(o.cka.estimator), " estimator needs at least ",
                cka::min_batch(o.cka.estimator), " samples per batch");
  for (const std::string& n : cka::plan_notes(loader.split().dir, loader.size(), batch, o.full,
                                              o.cka.estimator, layers.size(), lb.size()))
    warn(n);
  EvalModeGuard guard_a(&model_a), guard_b(model_b);
  NoGrad no_grad;
  cka::MinibatchCka acc(la, lb, o.cka);
  // With the Grams on the model's device, activations stay where the forward pass left them (full-data mode
  // too): on a GPU the accumulator reads them in place on its own stream while the next batch's forward
  // pass runs.
  const bool keep_on_device = acc.device() == model_a.device();
  BatchStager stager(model_a.device());  // a batch on the device once, for both models
  double forward_s = 0;
  const int64_t passes = o.full ? 1 : o.epochs_over_data;
  Progress progress("cka", passes * loader.batches_per_epoch(), o.progress);
  int64_t step = 0, images = 0;
  std::vector<std::vector<Tensor>> all_a(la.size()), all_b(lb.size());  // full-data mode only
  data::Batch b;
  for (int64_t epoch = 0; epoch < passes; ++epoch) {
    loader.start_epoch(epoch);
    while (loader.next(b)) {
      const auto t0 = std::chrono::steady_clock::now();
      const bool to_host = o.full && !keep_on_device;
      const Tensor images_on_device = stager.stage(b.images);
      std::vector<Tensor> acts_a = capture_layers(model_a, images_on_device, layers, to_host);
      for (Tensor& y :
           probe_activations(b, o.probes, loader.split(), keep_on_device ? acc.device() : Device::cpu()))
        acts_a.push_back(std::move(y));
      std::vector<Tensor> acts_b =
          model_b ? capture_layers(*model_b, images_on_device, lb, to_host) : std::vector<Tensor>{};
      forward_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      images += b.size();
      if (o.full) {
        for (size_t i = 0; i < la.size(); ++i) all_a[i].push_back(std::move(acts_a[i]));
        for (size_t i = 0; i < lb.size(); ++i) all_b[i].push_back(std::move(acts_b[i]));
      } else {
        acc.add_batch(acts_a, model_b ? &acts_b : nullptr);
      }
      progress.update(++step, images, "");
    }
  }
  if (o.full) {
    // One layer's rows are stacked only while its Gram is computed.
    const cka::LayerSource sa = [&](size_t i) { return concat_rows(all_a[i]); };
    const cka::LayerSource sb = [&](size_t i) { return concat_rows(all_b[i]); };
    acc.add_batch(images, sa, model_b ? &sb : nullptr);
  }
  progress.finish("");
  cka::CkaReport r = cka::make_report(acc, batch, o.full);
  cka::split_probes(r, o.probes);
  if (o.layers == "torch_cka") {  // the rows labelled as --axis-labels asks
    r.layers = torch_cka_axis_labels(torch_cka_axis(model_a.layer_names()), o.axis_labels);
    r.layers_b =
        model_b ? torch_cka_axis_labels(torch_cka_axis(model_b->layer_names()), o.axis_labels) : r.layers;
  }
  r.epochs_over_data = passes;
  r.forward_s = forward_s;
  r.sources.emplace_back("data", loader.split().dir);
  r.sources.emplace_back("layers", o.layers);
  return r;
}

}  // namespace biascka::workflows
