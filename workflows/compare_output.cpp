#include "workflows/compare_output.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <system_error>

#include "cka/output_format.h"
#include "cka/probes.h"
#include "engine/error.h"
#include "engine/io/atomic_file.h"
#include "engine/io/npy.h"
#include "plot/heatmap.h"
#include "plot/line_chart.h"
#include "workflows/json_file.h"

namespace biascka::workflows {

namespace fs = std::filesystem;

namespace {

const double* layer_block(const Tensor& t, size_t layer) {
  return t.data<double>() + static_cast<int64_t>(layer) * t.size(1) * t.size(2);
}

nlohmann::json square_json(const double* v, size_t n) {
  return cka::json_matrix(Tensor::from_vector(std::vector<double>(v, v + n * n),
                                              {static_cast<int64_t>(n), static_cast<int64_t>(n)}));
}

nlohmann::json compare_json(const CompareResult& r, const std::vector<cka::StageSimilarity>& stages) {
  const size_t nm = r.models.size(), ng = r.groups.groups.size();
  nlohmann::json j;
  for (const ComparedModel& m : r.models)
    j["models"].push_back({{"name", m.name}, {"group", m.group}, {"checkpoint", m.source}});
  for (size_t g = 0; g < ng; ++g)
    j["groups"].push_back({{"name", r.groups.groups[g]}, {"models", r.groups.group_sizes[g]}});
  j["layers"] = r.layers;
  j["stacked_layers"] = r.stacked.layers;
  j["description"] = cka::describe(r.stacked);
  j["estimator"] = cka::estimator_name(r.stacked.estimator);
  j["kernel"] = cka::kernel_name(r.stacked.kernel.kind);
  j["batch"] = r.stacked.batch;
  j["samples"] = r.stacked.samples;
  j["batches"] = r.stacked.batches;
  j["noise_floor"] = "per layer, the mean CKA between distinct models of one group (seeds of an objective)";
  nlohmann::json layers = nlohmann::json::array();
  for (size_t l = 0; l < r.layers.size(); ++l)
    layers.push_back({{"layer", r.layers[l]},
                      {"models", square_json(layer_block(r.layer_models, l), nm)},
                      {"groups", square_json(layer_block(r.groups.mean, l), ng)},
                      {"noise_floor", cka::json_number(r.groups.floor.data<double>()[l])},
                      {"between_groups", cka::json_number(r.groups.between.data<double>()[l])}});
  j["per_layer"] = std::move(layers);
  nlohmann::json st = nlohmann::json::array();
  for (const cka::StageSimilarity& s : stages)
    st.push_back({{"stage", s.stage},
                  {"first_layer", r.layers[s.first]},
                  {"layers", s.count},
                  {"groups", square_json(s.mean.data(), ng)},
                  {"noise_floor", cka::json_number(s.floor)},
                  {"between_groups", cka::json_number(s.between)}});
  j["stages"] = std::move(st);
  j["timing"] = {{"forward_s", r.forward_s},
                 {"forward_passes", r.forward_passes},
                 {"gram_s", r.stacked.timing.gram_s},
                 {"hsic_s", r.stacked.timing.hsic_s},
                 {"device", r.stacked.gram_device.str()}};
  j["warnings"] = r.stacked.warnings;
  for (const auto& [k, v] : r.stacked.sources) j["sources"][k] = v;
  return j;
}

std::string compare_csv(const CompareResult& r) {
  std::ostringstream csv;
  csv << "layer,index,model_a,model_b,group_a,group_b,cka\n";
  const size_t nm = r.models.size();
  for (size_t l = 0; l < r.layers.size(); ++l)
    for (size_t a = 0; a < nm; ++a)
      for (size_t b = a + 1; b < nm; ++b)
        csv << cka::csv_field(r.layers[l]) << ',' << l << ',' << cka::csv_field(r.models[a].name) << ','
            << cka::csv_field(r.models[b].name) << ',' << cka::csv_field(r.models[a].group) << ','
            << cka::csv_field(r.models[b].group) << ','
            << cka::format_number(layer_block(r.layer_models, l)[a * nm + b]) << '\n';
  return csv.str();
}

void make_dir(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  BIASCKA_CHECK(!ec, dir, ": cannot create the output folder (", ec.message(), ")");
}

}  // namespace

std::vector<std::pair<size_t, size_t>> parse_model_pairs(const std::string& list,
                                                         const std::vector<std::string>& names) {
  std::vector<std::pair<size_t, size_t>> out;
  if (list == "none" || list.empty()) return out;
  if (list == "all") {
    for (size_t a = 0; a < names.size(); ++a)
      for (size_t b = a + 1; b < names.size(); ++b) out.emplace_back(a, b);
    return out;
  }
  auto index = [&](const std::string& n) {
    const auto it = std::find(names.begin(), names.end(), n);
    BIASCKA_CHECK(it != names.end(), "--pairs: no model named '", n, "'");
    return static_cast<size_t>(it - names.begin());
  };
  std::stringstream ss(list);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const size_t colon = item.find(':');
    BIASCKA_CHECK(colon != std::string::npos, "--pairs: '", item, "' is not MODEL_A:MODEL_B (or all, none)");
    out.emplace_back(index(item.substr(0, colon)), index(item.substr(colon + 1)));
  }
  return out;
}

namespace {

double number_or_nan(const nlohmann::json& v, const std::string& path, const char* what) {
  if (v.is_null()) return std::nan("");
  BIASCKA_CHECK(v.is_number(), path, ": ", what, " must be a number or null");
  return v.get<double>();
}

}  // namespace

CompareSummary compare_summary_from_json(const nlohmann::json& j, const std::string& path) {
  CompareSummary s;
  BIASCKA_CHECK(j.contains("groups") && j["groups"].is_array(), path, ": field 'groups' must be an array");
  for (const nlohmann::json& g : j["groups"]) {
    BIASCKA_CHECK(g.is_object(), path, ": every group must be an object");
    const JsonFields f(g, path);
    s.groups.push_back(f.text("name"));
    s.group_sizes.push_back(f.integer("models"));
  }
  const size_t ng = s.groups.size();
  BIASCKA_CHECK(j.contains("stages") && j["stages"].is_array(), path, ": field 'stages' must be an array");
  for (const nlohmann::json& st : j["stages"]) {
    BIASCKA_CHECK(st.is_object(), path, ": every stage must be an object");
    const JsonFields f(st, path);
    CompareStageSummary c;
    c.stage = f.text("stage");
    c.layers = f.integer("layers");
    c.floor = number_or_nan(st.value("noise_floor", nlohmann::json()), path, "noise_floor");
    c.between = number_or_nan(st.value("between_groups", nlohmann::json()), path, "between_groups");
    const nlohmann::json& g = st.contains("groups") ? st["groups"] : nlohmann::json();
    BIASCKA_CHECK(g.is_array() && g.size() == ng, path, ": stage '", c.stage, "': 'groups' must be a ", ng,
                  " x ", ng, " matrix");
    c.lowest = std::nan("");
    for (size_t a = 0; a < ng; ++a) {
      BIASCKA_CHECK(g[a].is_array() && g[a].size() == ng, path, ": stage '", c.stage,
                    "': 'groups' must be a ", ng, " x ", ng, " matrix");
      for (size_t b = a + 1; b < ng; ++b) {
        const double v = number_or_nan(g[a][b], path, "a group CKA");
        if (!std::isnan(v) && (c.lowest_pair.empty() || v < c.lowest)) {
          c.lowest = v;
          c.lowest_pair = s.groups[a] + " / " + s.groups[b];
        }
      }
    }
    s.stages.push_back(std::move(c));
  }
  return s;
}

namespace {

// compare.png from the stage means already computed for compare.json.
bool write_figure(const std::string& path, const CompareResult& r,
                  const std::vector<cka::StageSimilarity>& stages, const std::string& title) {
  const auto ng = static_cast<int64_t>(r.groups.groups.size());
  if (stages.empty() || ng == 0) return false;
  std::vector<plot::Canvas> panels;
  for (const cka::StageSimilarity& s : stages) {
    plot::HeatmapSpec h;
    h.rows = h.cols = ng;
    h.values = s.mean;
    h.row_labels = h.col_labels = r.groups.groups;
    h.title = s.stage + " (" + std::to_string(s.count) + " layer" + (s.count == 1 ? "" : "s") + ")";
    h.size = 200;
    h.colorbar = false;
    h.origin_bottom_left = false;  // read like a table: first group at the top
    panels.push_back(plot::render_heatmap(h));
  }
  plot::LineChartSpec chart;
  chart.title =
      "per layer: CKA between groups (mean over pairs) against the seed noise floor (within groups)";
  chart.x_title = "layer index (dashed: a new stage)";
  chart.y_title = "CKA";
  chart.y_min = 0;
  chart.y_max = 1;
  chart.integer_x = true;
  chart.height = 300;
  plot::Series floor{{}, {}, plot::palette(0), "noise floor: between seeds of one group", 2};
  plot::Series between{{}, {}, plot::palette(1), "between groups", 2};
  for (size_t l = 0; l < r.layers.size(); ++l) {
    floor.x.push_back(static_cast<double>(l));
    floor.y.push_back(r.groups.floor.data<double>()[l]);
    between.x.push_back(static_cast<double>(l));
    between.y.push_back(r.groups.between.data<double>()[l]);
  }
  chart.series = {floor, between};
  for (size_t s : cka::stage_starts(r.layers)) chart.x_marks.push_back(static_cast<double>(s) - 0.5);
  const int gap = 16, top = 56;
  int row_w = gap, row_h = 0;
  for (const plot::Canvas& p : panels) {
    row_w += p.width() + gap;
    row_h = std::max(row_h, p.height());
  }
  const plot::Canvas bar =
      plot::render_colorbar(0, 1, plot::ColorMap::Magma, std::max(120, row_h - 40), "CKA");
  row_w += bar.width() + gap;
  chart.width = std::max(640, row_w - 2 * gap);
  const plot::Canvas curves = plot::render_line_chart(chart);
  const std::string subtitle =
      "group x group CKA averaged over each stage's layers and the groups' models; diagonal: between seeds "
      "(the "
      "noise floor; grey with one seed). " +
      cka::describe(r.stacked);
  const int width = std::max({row_w, curves.width() + 2 * gap, plot::Canvas::text_width(title, 2) + 2 * gap,
                              plot::Canvas::text_width(subtitle) + 2 * gap});
  plot::Canvas fig(width, top + row_h + gap + curves.height() + gap);
  fig.text((width - plot::Canvas::text_width(title, 2)) / 2, 10, title, plot::kBlack, 2);
  fig.text((width - plot::Canvas::text_width(subtitle)) / 2, 34, subtitle, plot::kBlack);
  int x = gap;
  for (const plot::Canvas& p : panels) {
    fig.blit(p, x, top);
    x += p.width() + gap;
  }
  fig.blit(bar, x, top + 20);
  fig.blit(curves, gap, top + row_h + gap);
  fig.save_png(path);
  return true;
}

}  // namespace

std::vector<std::string> write_compare_outputs(const std::string& dir, const CompareResult& r,
                                               const std::vector<std::pair<size_t, size_t>>& pairs,
                                               bool own_reports) {
  make_dir(dir);
  const fs::path d(dir);
  std::vector<std::string> written;
  for (size_t m = 0; own_reports && m < r.models.size(); ++m) {
    const std::string sub = "models/" + r.models[m].name;
    cka::write_cka_outputs((d / sub).string(), r.own[m]);
    written.push_back(sub + "/");
  }
  for (const auto& [a, b] : pairs) {
    const std::string sub = "pairs/" + r.models[a].name + "__" + r.models[b].name;
    cka::write_cka_outputs((d / sub).string(), pair_report(r, a, b));
    written.push_back(sub + "/");
  }
  const std::vector<cka::StageSimilarity> stages = cka::stage_similarity(r.groups, r.layers);
  write_text_atomic((d / "compare.json").string(), compare_json(r, stages).dump(2) + "\n");
  write_text_atomic((d / "compare.csv").string(), compare_csv(r));
  write_npy((d / "compare.npy").string(), r.layer_models);
  write_npy((d / "compare_full.npy").string(), r.stacked.matrix.to_dtype(DType::F64));
  written.insert(written.end(), {"compare.json", "compare.csv", "compare.npy", "compare_full.npy"});
  if (write_figure((d / "compare.png").string(), r, stages,
                   "CKA between models, layer by layer: " + std::to_string(r.models.size()) + " models in " +
                       std::to_string(r.groups.groups.size()) + " groups"))
    written.push_back("compare.png");
  return written;
}

}  // namespace biascka::workflows
