#include "cka/probes.h"

#include <algorithm>

#include "cka/output.h"
#include "engine/error.h"

namespace biascka::cka {

std::vector<std::string> parse_probes(const std::string& list) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= list.size() && !list.empty()) {
    const size_t comma = std::min(list.find(',', start), list.size());
    const std::string p = list.substr(start, comma - start);
    BIASCKA_CHECK(p == "target" || p == "bias", "--probes: unknown probe '", p,
                  "' (expected target, bias or both)");
    BIASCKA_CHECK(std::find(out.begin(), out.end(), p) == out.end(), "--probes: '", p, "' given twice");
    out.push_back(p);
    start = comma + 1;
  }
  return out;
}

std::string probe_layer_name(const std::string& probe) { return "probe." + probe; }

Tensor one_hot(const Tensor& labels, int64_t classes, const std::string& what) {
  BIASCKA_CHECK(labels.dtype() == DType::I64 && labels.dim() == 1, what, ": labels must be int64 [N], got ",
                shape_str(labels.shape()));
  const Tensor l = labels.to(Device::cpu());
  const int64_t n = l.size(0);
  Tensor y = Tensor::zeros({n, classes});
  float* p = y.data<float>();
  const int64_t* v = l.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    BIASCKA_CHECK(v[i] >= 0 && v[i] < classes, what, ": label ", v[i], " of sample ", i, " outside [0, ",
                  classes, ")");
    p[i * classes + v[i]] = 1.f;
  }
  return y;
}

namespace {

// The [rows, cols] top-left block of m and its [rows, probes] block starting at column cols.
Tensor block(const Tensor& m, int64_t rows, int64_t col0, int64_t cols) {
  const int64_t ld = m.size(1);
  std::vector<double> out(static_cast<size_t>(rows * cols));
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j)
      out[static_cast<size_t>(i * cols + j)] = m.data<double>()[i * ld + col0 + j];
  return Tensor::from_vector(out, {rows, cols});
}

}  // namespace

void split_probes(CkaReport& r, const std::vector<std::string>& probes) {
  const int64_t k = static_cast<int64_t>(probes.size());
  if (k == 0) return;
  BIASCKA_CHECK(!r.cross_model, "CKA probes: only for one model's layers");
  const int64_t total = r.matrix.size(0), layers = total - k;
  BIASCKA_CHECK(layers >= 1 && r.matrix.size(1) == total, "CKA probes: a ", shape_str(r.matrix.shape()),
                " matrix cannot hold ", k, " probes after its layers");
  r.probes.probes = probes;
  auto split = [&](Tensor& m, Tensor& probe_part) {
    if (!m.defined()) return;
    const Tensor f = m.to_dtype(DType::F64);
    probe_part = block(f, layers, layers, k);
    m = block(f, layers, 0, layers);
  };
  split(r.matrix, r.probes.value);
  split(r.ci_low, r.probes.ci_low);
  split(r.ci_high, r.probes.ci_high);
  r.layers.resize(static_cast<size_t>(layers));
  r.layers_b.resize(static_cast<size_t>(layers));
}

std::vector<size_t> stage_starts(const std::vector<std::string>& layers) {
  auto stage = [](const std::string& name) {
    const size_t dot = name.find('.');
    return dot == std::string::npos ? std::string() : name.substr(0, dot);
  };
  std::vector<size_t> out;
  for (size_t i = 1; i < layers.size(); ++i)
    if (stage(layers[i]) != stage(layers[i - 1])) out.push_back(i);
  return out;
}

}  // namespace biascka::cka
