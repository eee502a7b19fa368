#include "cka/activations.h"

#include <algorithm>
#include <cstddef>
#include <memory>
#include <regex>

#include "cka/probes.h"
#include "engine/error.h"

namespace biascka::cka {

namespace {

std::string joined(const std::vector<TensorInfo>& infos) {
  std::string s;
  for (const TensorInfo& t : infos) s += (s.empty() ? "" : ", ") + t.name;
  return s;
}

// The labels of probe `probe`: tensor label.<probe>, int64 [samples], values in [0, kMaxProbeClasses).
Tensor probe_labels(const SafetensorsReader& file, const std::string& probe, int64_t samples) {
  const std::string name = "label." + probe;
  const auto& infos = file.tensors();
  const auto it =
      std::find_if(infos.begin(), infos.end(), [&](const TensorInfo& t) { return t.name == name; });
  BIASCKA_CHECK(it != infos.end(), file.path(), ": no tensor '", name, "' for --probes ", probe, " (int64 [",
                samples, "] labels)");
  BIASCKA_CHECK(it->dtype == DType::I64 && it->shape == Shape{samples}, file.path(), ": tensor '", name,
                "' must be int64 [", samples, "] (one label per sample), got ", it->stored_dtype, " ",
                shape_str(it->shape));
  const Tensor labels = file.load(name);
  const int64_t* v = labels.data<int64_t>();
  for (int64_t i = 0; i < samples; ++i)
    BIASCKA_CHECK(v[i] >= 0 && v[i] < kMaxProbeClasses, file.path(), ": tensor '", name, "': label ", v[i],
                  " of sample ", i, " outside [0, ", kMaxProbeClasses, ")");
  return labels;
}

int64_t classes_of(const Tensor& labels) {
  const int64_t* v = labels.data<int64_t>();
  return labels.numel() == 0 ? 1 : *std::max_element(v, v + labels.numel()) + 1;
}

}  // namespace

ActivationLayers activation_layers(const SafetensorsReader& file, const std::string& select) {
  std::regex re;
  if (!select.empty()) {
    try {
      re = std::regex(select, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      fail(file.path(), ": invalid layer pattern '", select, "' (", e.what(),
           "); tensors: ", joined(file.tensors()));
    }
  }
  ActivationLayers out;
  const TensorInfo* first = nullptr;
  for (const TensorInfo& t : file.tensors()) {
    if (t.name.rfind("label.", 0) == 0) continue;  // labels (probes), not a layer
    if (!select.empty() && !std::regex_match(t.name, re)) continue;
    BIASCKA_CHECK(!t.shape.empty() && t.shape[0] > 0, file.path(), ": tensor '", t.name, "' of shape ",
                  shape_str(t.shape), " has no samples on its first axis");
    if (!first) first = &t;
    BIASCKA_CHECK(t.shape[0] == first->shape[0], file.path(), ": layers disagree on the number of samples: '",
                  first->name, "' has ", first->shape[0], ", '", t.name, "' has ", t.shape[0]);
    out.tensors.push_back(t.name);
    out.labels.push_back(t.name.rfind("act.", 0) == 0 ? t.name.substr(4) : t.name);
  }
  BIASCKA_CHECK(first != nullptr, file.path(), ": no tensor matches '", select,
                "'; tensors: ", joined(file.tensors()));
  out.samples = first->shape[0];
  return out;
}

CkaReport cka_from_activations(const ActivationsRequest& req) {
  const Estimator e = req.options.estimator;
  const SafetensorsReader fa(req.path_a);
  const ActivationLayers la = activation_layers(fa, req.select);
  const bool cross = !req.path_b.empty();
  std::unique_ptr<SafetensorsReader> fb;
  ActivationLayers lb;
  if (cross) {
    fb = std::make_unique<SafetensorsReader>(req.path_b);
    lb = activation_layers(*fb, req.select);
    BIASCKA_CHECK(lb.samples == la.samples, req.path_b, ": ", lb.samples, " samples, but ", req.path_a,
                  " has ", la.samples, " (CKA compares the same inputs)");
  }
  const int64_t total = la.samples;
  const int64_t batch = req.full ? total : req.batch;
  BIASCKA_CHECK(batch >= min_batch(e), "CKA batch of ", batch, req.full ? " samples (the whole file)" : "",
                ": the ", estimator_name(e), " estimator needs at least ", min_batch(e),
                " samples per batch");

  BIASCKA_CHECK(req.probes.empty() || (!cross && req.options.kernel.kind == Kernel::Linear),
                "--probes: only for one activations file and the linear kernel");
  std::vector<Tensor> labels;
  std::vector<int64_t> classes;
  std::vector<std::string> names = la.labels;
  for (const std::string& p : req.probes) {
    labels.push_back(probe_labels(fa, p, total));
    classes.push_back(classes_of(labels.back()));
    names.push_back(probe_layer_name(p));
  }
  MinibatchCka acc(names, cross ? lb.labels : std::vector<std::string>{}, req.options);
  const size_t layers = la.tensors.size();
  for (int64_t r0 = 0; r0 < total; r0 += batch) {
    const int64_t r1 = std::min(total, r0 + batch);
    const LayerSource sa = [&](size_t i) {
      if (i < layers) return fa.load_rows(la.tensors[i], r0, r1);
      const int64_t* l = labels[i - layers].data<int64_t>();
      return one_hot(Tensor::from_vector(std::vector<int64_t>(l + r0, l + r1), {r1 - r0}),
                     classes[i - layers], fa.path() + ": label." + req.probes[i - layers]);
    };
    const LayerSource sb = [&](size_t i) { return fb->load_rows(lb.tensors[i], r0, r1); };
    acc.add_batch(r1 - r0, sa, cross ? &sb : nullptr);
  }
  CkaReport r = make_report(acc, batch, req.full);
  split_probes(r, req.probes);
  r.sources.emplace_back("activations", req.path_a);
  if (cross) r.sources.emplace_back("activations_b", req.path_b);
  if (!req.select.empty()) r.sources.emplace_back("layers", req.select);
  return r;
}

}  // namespace biascka::cka
