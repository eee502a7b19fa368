#include "cka/activations.h"

#include <algorithm>
#include <cstddef>
#include <memory>
#include <regex>

#include "engine/error.h"

namespace biascka::cka {

namespace {

std::string joined(const std::vector<TensorInfo>& infos) {
  std::string s;
  for (const TensorInfo& t : infos) s += (s.empty() ? "" : ", ") + t.name;
  return s;
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

  MinibatchCka acc(la.labels, cross ? lb.labels : std::vector<std::string>{}, req.options);
  for (int64_t r0 = 0; r0 < total; r0 += batch) {
    const int64_t r1 = std::min(total, r0 + batch);
    const LayerSource sa = [&](size_t i) { return fa.load_rows(la.tensors[i], r0, r1); };
    const LayerSource sb = [&](size_t i) { return fb->load_rows(lb.tensors[i], r0, r1); };
    acc.add_batch(r1 - r0, sa, cross ? &sb : nullptr);
  }
  CkaReport r = make_report(acc, batch, req.full);
  r.sources.emplace_back("activations", req.path_a);
  if (cross) r.sources.emplace_back("activations_b", req.path_b);
  if (!req.select.empty()) r.sources.emplace_back("layers", req.select);
  return r;
}

}  // namespace biascka::cka
