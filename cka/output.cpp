#include "cka/output.h"

#include "cka/output_format.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <system_error>

#include "engine/error.h"
#include "engine/io/atomic_file.h"
#include "engine/io/npy.h"
#include "plot/line_chart.h"

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
  const CkaOptions& o = acc.options();
  add_intervals(r, {o.bootstrap, o.bootstrap_seed, 0.95}, [&acc] { return acc.batch_history(); });
  return r;
}

void add_intervals(CkaReport& r, const BootstrapSpec& spec, const std::function<BatchHistory()>& history) {
  if (spec.replicates <= 0) return;
  if (r.batches < 2) {
    r.warnings.push_back(detail::concat("bootstrap: ", r.batches,
                                        " batch, no interval (resampling needs at least 2 batches)"));
    return;
  }
  r.bootstrap = spec;
  const CkaIntervals ci = bootstrap_intervals(history(), r.matrix.size(0), r.matrix.size(1), spec);
  r.ci_low = ci.low;
  r.ci_high = ci.high;
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
  if (r.ci_low.defined()) {  // wide intervals faded (NaN intervals are NaN cells, grey already)
    const Tensor lo = r.ci_low.to_dtype(DType::F64), hi = r.ci_high.to_dtype(DType::F64);
    s.faded.resize(s.values.size());
    for (size_t i = 0; i < s.values.size(); ++i)
      s.faded[i] = hi.data<double>()[i] - lo.data<double>()[i] > kWideInterval;
    s.title += ", faded: 95% interval wider than " + detail::concat(kWideInterval);
  }
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

double cell(const Tensor& m, int64_t i, int64_t j) { return m.data<double>()[i * m.size(1) + j]; }

// cka.json's probes section: per layer, each probe's value and (bootstrap) interval.
nlohmann::json probes_json(const CkaReport& r) {
  const ProbeReport& p = r.probes;
  nlohmann::json rows = nlohmann::json::array();
  for (size_t i = 0; i < r.layers.size(); ++i) {
    nlohmann::json row;
    row["layer"] = r.layers[i];
    for (size_t k = 0; k < p.probes.size(); ++k) {
      const auto ii = static_cast<int64_t>(i), kk = static_cast<int64_t>(k);
      row[p.probes[k]] = json_number(cell(p.value, ii, kk));
      if (p.ci_low.defined())
        row[p.probes[k] + "_ci"] = {json_number(cell(p.ci_low, ii, kk)),
                                    json_number(cell(p.ci_high, ii, kk))};
    }
    rows.push_back(std::move(row));
  }
  nlohmann::json j;
  j["probes"] = p.probes;
  j["kernel"] = "linear on the one-hot labels";
  j["layers"] = std::move(rows);
  return j;
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
  j["matrix"] = json_matrix(m);
  if (r.ci_low.defined()) {
    j["ci_low"] = json_matrix(r.ci_low);
    j["ci_high"] = json_matrix(r.ci_high);
    j["bootstrap"] = {{"replicates", r.bootstrap.replicates},
                      {"seed", r.bootstrap.seed},
                      {"level", r.bootstrap.level},
                      {"method", "percentile bootstrap over batches (batches as independent draws)"}};
  }
  if (!r.probes.empty()) j["probes"] = probes_json(r);
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
    for (int64_t k = 0; k < cols; ++k) csv << ',' << format_number(p[i * cols + k]);
    csv << '\n';
  }
  write_text_atomic((fs::path(dir) / "cka.csv").string(), csv.str());
  write_npy((fs::path(dir) / "cka.npy").string(), m);
  std::vector<std::string> written = {"cka.json", "cka.csv", "cka.npy"};
  if (r.ci_low.defined()) {
    std::vector<double> both;
    for (const Tensor& t : {r.ci_low.to_dtype(DType::F64), r.ci_high.to_dtype(DType::F64)})
      both.insert(both.end(), t.data<double>(), t.data<double>() + t.numel());
    write_npy((fs::path(dir) / "cka_ci.npy").string(), Tensor::from_vector(both, {2, rows, cols}));
    written.push_back("cka_ci.npy");
  }
  if (std::max(rows, cols) <= kMaxHeatmapLayers) {
    plot::render_heatmap(heatmap_spec(r)).save_png((fs::path(dir) / "cka.png").string());
    written.push_back("cka.png");
  }
  for (const std::string& f : write_probe_outputs(dir, r)) written.push_back(f);
  return written;
}

std::vector<std::string> write_probe_outputs(const std::string& dir, const CkaReport& r) {
  namespace fs = std::filesystem;
  const ProbeReport& p = r.probes;
  if (p.empty()) return {};
  const bool ci = p.ci_low.defined();
  std::ostringstream csv;
  csv << "layer,index";
  for (const std::string& name : p.probes) {
    csv << ',' << name;
    if (ci) csv << ',' << name << "_ci_low," << name << "_ci_high";
  }
  csv << '\n';
  plot::LineChartSpec chart;
  chart.title = "CKA of each layer with the labels";
  chart.x_title = "layer index (" + describe(r) + (ci ? "; thin: 95% interval" : "") + ")";
  chart.y_max = 1;
  chart.y_title = "CKA";
  chart.width = 720;
  chart.height = 400;
  chart.integer_x = true;
  for (size_t s = 0; s < p.probes.size(); ++s) {
    // The value (thick, in the legend), then the interval's two bounds (thin, same colour).
    chart.series.push_back({{}, {}, plot::palette(static_cast<int>(s)), p.probes[s], 2});
    for (int bound = 0; ci && bound < 2; ++bound)
      chart.series.push_back({{}, {}, plot::palette(static_cast<int>(s)), "", 1});
  }
  for (size_t i = 0; i < r.layers.size(); ++i) {
    const auto ii = static_cast<int64_t>(i);
    csv << csv_field(r.layers[i]) << ',' << i;
    size_t series = 0;
    for (size_t k = 0; k < p.probes.size(); ++k) {
      const auto kk = static_cast<int64_t>(k);
      std::vector<double> values = {cell(p.value, ii, kk)};
      if (ci) values.insert(values.end(), {cell(p.ci_low, ii, kk), cell(p.ci_high, ii, kk)});
      for (double v : values) {
        csv << ',' << format_number(v);
        chart.series[series].x.push_back(static_cast<double>(i));
        chart.series[series++].y.push_back(v);
      }
    }
    csv << '\n';
  }
  for (size_t s : stage_starts(r.layers)) chart.x_marks.push_back(static_cast<double>(s) - 0.5);
  write_text_atomic((fs::path(dir) / "probes.csv").string(), csv.str());
  plot::render_line_chart(chart).save_png((fs::path(dir) / "probes.png").string());
  return {"probes.csv", "probes.png"};
}

}  // namespace biascka::cka
