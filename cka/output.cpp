#include "cka/output.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <system_error>

#include "engine/error.h"
#include "engine/io/atomic_file.h"
#include "engine/io/npy.h"

namespace biascka::cka {

CkaReport make_report(const MinibatchCka& acc, int64_t batch, bool full) {
  CkaMatrix m = acc.result();
  CkaReport r;
  r.layers = acc.layers_a();
  r.layers_b = acc.layers_b();
  r.matrix = m.matrix;
  r.cross_model = acc.cross();
  r.full = full;
  r.estimator = acc.options().estimator;
  r.kernel = acc.options().kernel;
  r.batch = batch;
  r.samples = acc.samples();
  r.batches = acc.batches();
  r.warnings = std::move(m.warnings);
  r.timing = acc.timing();
  r.gram_device = acc.device();
  return r;
}

std::string describe(const CkaReport& r) {
  std::ostringstream os;
  os << (r.kernel.kind == Kernel::Rbf ? "RBF" : "linear") << " CKA";
  if (r.kernel.kind == Kernel::Rbf) os << " (threshold " << r.kernel.rbf_threshold << ")";
  os << ", " << estimator_name(r.estimator) << " HSIC, ";
  if (r.full)
    os << "full data";
  else
    os << "minibatches of " << r.batch;
  os << " (" << r.samples << " samples)";
  return os.str();
}

plot::HeatmapSpec heatmap_spec(const CkaReport& r) {
  plot::HeatmapSpec s;
  s.rows = r.matrix.size(0);
  s.cols = r.matrix.size(1);
  const Tensor m = r.matrix.to_dtype(DType::F64);
  s.values.assign(m.data<double>(), m.data<double>() + m.numel());
  s.row_labels = r.layers;
  s.col_labels = r.layers_b;
  s.title = describe(r);
  s.y_title = r.cross_model ? "model A layers" : "layers";
  s.x_title = r.cross_model ? "model B layers" : "layers";
  s.colorbar_title = "CKA";
  s.vmin = 0;
  s.vmax = 1;
  // Cells of about 10 pixels keep 69 layer names legible; small matrices get larger cells, very large
  // ones smaller (label_stride then labels every k-th layer).
  const int64_t most = std::max(s.rows, s.cols);
  s.cell = most <= 400 ? std::clamp(static_cast<int>(700 / most), 10, 48)
                       : std::max(1, static_cast<int>(4000 / most));
  for (auto* labels : {&s.row_labels, &s.col_labels})
    for (std::string& l : *labels)
      if (l.size() > 48) l = l.substr(0, 22) + "..." + l.substr(l.size() - 23);
  return s;
}

std::vector<std::string> plan_notes(const std::string& source, int64_t samples, int64_t batch, bool full,
                                    Estimator estimator, size_t layers_a, size_t layers_b) {
  const int64_t need = min_batch(estimator);
  BIASCKA_CHECK(samples >= need, source, ": ", samples, " sample", samples == 1 ? "" : "s", ", but the ",
                estimator_name(estimator), " estimator needs at least ", need, " per batch");
  std::vector<std::string> notes;
  if (!full && samples < batch)
    notes.push_back(detail::concat(source, ": ", samples, " samples, fewer than one batch (--batch ", batch,
                                   "): the CKA comes from one batch of ", samples));
  const size_t most = std::max(layers_a, layers_b);
  if (static_cast<int64_t>(most) > kMaxHeatmapLayers)
    notes.push_back(detail::concat(most, " layers: more than cka.png can show (at most ", kMaxHeatmapLayers,
                                   " per axis); cka.png is not written, cka.json, cka.csv and cka.npy are"));
  return notes;
}

namespace {

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

std::string number(double v) {
  if (std::isnan(v)) return "nan";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

}  // namespace

std::vector<std::string> write_cka_outputs(const std::string& dir, const CkaReport& r) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  BIASCKA_CHECK(!ec, dir, ": cannot create the output folder (", ec.message(), ")");
  const Tensor m = r.matrix.to_dtype(DType::F64);
  const int64_t rows = m.size(0), cols = m.size(1);
  BIASCKA_CHECK(
      static_cast<int64_t>(r.layers.size()) == rows && static_cast<int64_t>(r.layers_b.size()) == cols, dir,
      ": CKA report with ", r.layers.size(), " x ", r.layers_b.size(), " layer names for a ",
      shape_str(m.shape()), " matrix");
  const double* p = m.data<double>();

  nlohmann::json j;
  j["layers"] = r.layers;
  j["layers_b"] = r.layers_b;
  nlohmann::json mat = nlohmann::json::array();
  for (int64_t i = 0; i < rows; ++i) {
    nlohmann::json row = nlohmann::json::array();
    for (int64_t k = 0; k < cols; ++k) {
      const double v = p[i * cols + k];
      row.push_back(std::isnan(v) ? nlohmann::json(nullptr) : nlohmann::json(v));  // NaN: undefined
    }
    mat.push_back(std::move(row));
  }
  j["matrix"] = std::move(mat);
  j["estimator"] = estimator_name(r.estimator);
  j["kernel"] = kernel_name(r.kernel.kind);
  if (r.kernel.kind == Kernel::Rbf) j["rbf_threshold"] = r.kernel.rbf_threshold;
  j["mode"] = r.full ? "full" : "minibatch";
  j["batch"] = r.batch;
  j["samples"] = r.samples;
  j["batches"] = r.batches;
  j["epochs_over_data"] = r.epochs_over_data;
  j["cross_model"] = r.cross_model;
  j["warnings"] = r.warnings;
  nlohmann::json src = nlohmann::json::object();
  for (const auto& [k, v] : r.sources) src[k] = v;
  j["sources"] = std::move(src);
  write_text_atomic((fs::path(dir) / "cka.json").string(), j.dump(2) + "\n");

  std::ostringstream csv;
  csv << "layer";
  for (const std::string& l : r.layers_b) csv << ',' << csv_field(l);
  csv << '\n';
  for (int64_t i = 0; i < rows; ++i) {
    csv << csv_field(r.layers[static_cast<size_t>(i)]);
    for (int64_t k = 0; k < cols; ++k) csv << ',' << number(p[i * cols + k]);
    csv << '\n';
  }
  write_text_atomic((fs::path(dir) / "cka.csv").string(), csv.str());
  write_npy((fs::path(dir) / "cka.npy").string(), m);
  if (std::max(rows, cols) > kMaxHeatmapLayers) return {"cka.json", "cka.csv", "cka.npy"};
  plot::render_heatmap(heatmap_spec(r)).save_png((fs::path(dir) / "cka.png").string());
  return {"cka.json", "cka.csv", "cka.npy", "cka.png"};
}

}  // namespace biascka::cka
