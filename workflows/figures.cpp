#include "workflows/figures.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "cka/probes.h"
#include "engine/error.h"
#include "engine/io/atomic_file.h"
#include "losses/objectives.h"
#include "plot/heatmap.h"
#include "plot/line_chart.h"
#include "workflows/cka_runs.h"
#include "workflows/json_file.h"

namespace biascka::workflows {

namespace {

// How a grid of per-cell matrices is drawn: figure1.png and cka_seed_std.png differ only in these.
struct MatrixGridStyle {
  std::string title, subtitle, bar_title;
  double vmin = 0, vmax = 1;
  plot::ColorMap cmap = plot::ColorMap::Magma;
  int cell = 230;  // pixels per heatmap
};

// One heatmap per dataset (rows) and objective (columns) from `matrices` (each (dataset, loss) once), a
// grey "no run" square where a cell has none, and one colour bar.
void write_matrix_grid(const std::vector<RunRecord>& runs,
                       const std::vector<std::pair<const SeedMatrices*, const cka::SquareMatrix*>>& matrices,
                       const MatrixGridStyle& style, const std::string& path) {
  const std::vector<std::string> datasets = datasets_of(runs), losses = losses_of(runs);
  const int cell = style.cell, gap = 14, top = 64, header = 22;
  int left = 90;  // wide enough for the longest row label (dataset name) at font scale 2
  for (const auto& d : datasets) left = std::max(left, 24 + plot::Canvas::text_width(label_of(runs, d), 2));
  const int bar_w = 90;
  const int width = std::max(
      left + static_cast<int>(losses.size()) * (cell + gap) + bar_w,
      std::max(plot::Canvas::text_width(style.title, 2), plot::Canvas::text_width(style.subtitle)) + 20);
  const int height = top + header + static_cast<int>(datasets.size()) * (cell + gap) + 40;
  plot::Canvas fig(width, height);
  fig.text((width - plot::Canvas::text_width(style.title, 2)) / 2, 10, style.title, plot::kBlack, 2);
  fig.text((width - plot::Canvas::text_width(style.subtitle)) / 2, 34, style.subtitle, plot::kBlack);
  const int label_scale = cell >= 150 ? 2 : 1;
  for (size_t li = 0; li < losses.size(); ++li) {
    const std::string label = losses::objective(losses[li]).label;
    const int x = left + static_cast<int>(li) * (cell + gap);
    fig.text(x + (cell - plot::Canvas::text_width(label, label_scale)) / 2, top, label, plot::kBlack,
             label_scale);
  }
  for (size_t di = 0; di < datasets.size(); ++di) {
    const int y = top + header + static_cast<int>(di) * (cell + gap);
    fig.text(12, y + cell / 2 - 6, label_of(runs, datasets[di]), plot::kBlack, 2);
    for (size_t li = 0; li < losses.size(); ++li) {
      const int x = left + static_cast<int>(li) * (cell + gap);
      const auto it = std::find_if(matrices.begin(), matrices.end(), [&](const auto& m) {
        return m.first->dataset == datasets[di] && m.first->loss == losses[li];
      });
      if (it == matrices.end()) {
        fig.rect(x, y, cell, cell, plot::kGrey);
        fig.text(x + cell / 2 - 24, y + cell / 2 - 3, "no run", plot::kGrey);
        continue;
      }
      plot::HeatmapSpec s;
      s.rows = s.cols = it->second->n;
      s.values = it->second->values;
      s.vmin = style.vmin;
      s.vmax = style.vmax;
      s.cmap = style.cmap;
      s.size = cell;
      s.colorbar = false;
      s.tick_labels = false;
      s.annotate_min_cell = 0;
      const plot::Canvas h = plot::render_heatmap(s);
      fig.blit(h, x + (cell - h.width()) / 2, y + (cell - h.height()) / 2);
    }
  }
  const plot::Canvas bar = plot::render_colorbar(
      style.vmin, style.vmax, style.cmap,
      std::max(120, static_cast<int>(datasets.size()) * (cell + gap) - gap), style.bar_title);
  fig.blit(bar, left + static_cast<int>(losses.size()) * (cell + gap) + 10, top + header);
  fig.save_png(path);
}

std::string seeds_text(const std::vector<SeedMatrices>& cells) {
  size_t lo = cells.front().seeds.size(), hi = lo;
  for (const auto& c : cells) {
    lo = std::min(lo, c.seeds.size());
    hi = std::max(hi, c.seeds.size());
  }
  return lo == hi ? std::to_string(lo) : std::to_string(lo) + "-" + std::to_string(hi);
}

}  // namespace

bool write_figure1(const std::vector<RunRecord>& runs, const std::vector<SeedMatrices>& cells,
                   const std::string& path) {
  if (cells.empty()) return false;
  std::vector<std::pair<const SeedMatrices*, const cka::SquareMatrix*>> matrices;
  for (const auto& c : cells) matrices.emplace_back(&c, &c.mean);
  const auto j = read_json_file(cells.front().first_json);
  MatrixGridStyle style;
  style.title = "CKA between every pair of ResNet18 layers, per dataset and objective";
  style.subtitle = j.value("estimator", std::string("unbiased")) + " minibatch CKA (batch " +
                   std::to_string(j.value("batch", 0)) + ", " + std::to_string(j.value("samples", 0)) +
                   " images) on the test split, mean over " + seeds_text(cells) +
                   " seed(s) per cell; layer 1 = conv1 at the bottom-left";
  style.bar_title = "CKA";
  write_matrix_grid(runs, matrices, style, path);
  return true;
}

double write_seed_std(const std::vector<RunRecord>& runs, const std::vector<SeedMatrices>& cells,
                      const std::string& path) {
  std::vector<std::pair<const SeedMatrices*, const cka::SquareMatrix*>> matrices;
  double top = 0;
  for (const auto& c : cells)
    if (c.seeds.size() > 1) {
      matrices.emplace_back(&c, &c.std);
      top = std::max(top, c.max_std);
    }
  if (matrices.empty()) return NAN;
  MatrixGridStyle style;
  style.title = "CKA seed spread: std over seeds of each cell";
  char scale[32];
  std::snprintf(scale, sizeof scale, "%.3g", top);
  style.subtitle =
      "population std per layer pair, " + seeds_text(cells) + " seeds per cell; common scale 0.." + scale;
  style.bar_title = "std";
  style.vmax = top > 0 ? top : 1e-6;  // all seeds equal: a scale all the same
  style.cmap = plot::ColorMap::Viridis;
  style.cell = 120;
  write_matrix_grid(runs, matrices, style, path);
  return top;
}

bool write_curves(const std::vector<RunRecord>& runs, const std::string& path) {
  const std::vector<std::string> datasets = datasets_of(runs), losses = losses_of(runs);
  if (datasets.empty()) return false;
  const int pw = 520, ph = 340;
  const int cols = std::min<int>(3, static_cast<int>(datasets.size()));
  const int rows = (static_cast<int>(datasets.size()) + cols - 1) / cols;
  plot::Canvas fig(cols * pw, rows * ph + 30);
  const std::string title = "Validation accuracy per epoch (every run; one colour per objective)";
  const int tscale = plot::Canvas::text_width(title, 2) + 16 <= fig.width() ? 2 : 1;
  fig.text((fig.width() - plot::Canvas::text_width(title, tscale)) / 2, 8, title, plot::kBlack, tscale);
  for (size_t di = 0; di < datasets.size(); ++di) {
    plot::LineChartSpec spec;
    spec.title = label_of(runs, datasets[di]);
    spec.x_title = "epoch";
    spec.y_title = "valid accuracy (%)";
    spec.width = pw;
    spec.height = ph;
    spec.x_min = 1;
    spec.integer_x = true;
    for (size_t li = 0; li < losses.size(); ++li) {
      bool labelled = false;
      for (const auto& r : runs) {
        if (r.dataset != datasets[di] || r.loss != losses[li] || r.valid_curve.empty()) continue;
        plot::Series s;
        for (size_t e = 0; e < r.valid_curve.size(); ++e) {
          s.x.push_back(static_cast<double>(e + 1));
          s.y.push_back(100.0 * r.valid_curve[e]);
        }
        s.color = plot::palette(static_cast<int>(li));
        if (!labelled) s.label = losses::objective(losses[li]).label;
        labelled = true;
        spec.series.push_back(std::move(s));
      }
    }
    const plot::Canvas panel = plot::render_line_chart(spec);
    fig.blit(panel, static_cast<int>(di % cols) * pw, 30 + static_cast<int>(di / cols) * ph);
  }
  fig.save_png(path);
  return true;
}

namespace {

// The mean over a cell's seeds of each layer's probe values; empty when no seed of the cell has probes.
// Seeds with another number of layers than the first are an error naming the file.
struct CellProbes {
  std::vector<std::string> layers;
  std::vector<double> target, bias;
  int seeds = 0;
};

CellProbes cell_probes(const std::vector<RunRecord>& runs, const std::string& dataset,
                       const std::string& loss) {
  CellProbes c;
  for (const auto& r : runs) {
    if (r.dataset != dataset || r.loss != loss || r.cka_json.empty()) continue;
    const nlohmann::json j = read_json_file(r.cka_json);
    const RunProbes p = probes_from_json(j, r.cka_json);
    if (p.empty()) continue;
    if (c.seeds == 0) {
      c.layers = j.value("layers", std::vector<std::string>());
      c.target.assign(p.target.size(), 0.0);
      c.bias.assign(p.bias.size(), 0.0);
    }
    BIASCKA_CHECK(p.target.size() == c.target.size(), r.cka_json, ": ", p.target.size(), " probe rows, but ",
                  c.target.size(), " in another seed of ", dataset, " / ", loss);
    for (size_t i = 0; i < p.target.size(); ++i) {
      c.target[i] += p.target[i];
      c.bias[i] += p.bias[i];
    }
    ++c.seeds;
  }
  for (size_t i = 0; i < c.target.size(); ++i) {
    c.target[i] /= c.seeds;
    c.bias[i] /= c.seeds;
  }
  return c;
}

}  // namespace

bool write_probe_panels(const std::vector<RunRecord>& runs, const std::string& path) {
  const std::vector<std::string> datasets = datasets_of(runs), losses = losses_of(runs);
  const int pw = 300, ph = 220, left = 110, top = 40;
  plot::Canvas fig(left + static_cast<int>(losses.size()) * pw, top + static_cast<int>(datasets.size()) * ph);
  bool any = false;
  for (size_t di = 0; di < datasets.size(); ++di) {
    fig.text(8, top + static_cast<int>(di) * ph + ph / 2 - 6, label_of(runs, datasets[di]), plot::kBlack, 2);
    for (size_t li = 0; li < losses.size(); ++li) {
      const CellProbes c = cell_probes(runs, datasets[di], losses[li]);
      if (c.seeds == 0) continue;
      any = true;
      plot::LineChartSpec spec;
      spec.title = std::string(losses::objective(losses[li]).label) + " (" + std::to_string(c.seeds) +
                   " seed" + (c.seeds == 1 ? "" : "s") + ")";
      spec.x_title = "layer index";
      spec.y_title = "CKA";
      spec.width = pw;
      spec.height = ph;
      spec.y_min = 0;
      spec.y_max = 1;
      spec.integer_x = true;
      plot::Series target{{}, c.target, plot::palette(0), "target", 2},
          bias{{}, c.bias, plot::palette(3), "bias", 2};
      for (size_t i = 0; i < c.target.size(); ++i) {
        target.x.push_back(static_cast<double>(i));
        bias.x.push_back(static_cast<double>(i));
      }
      spec.series = {std::move(target), std::move(bias)};
      if (c.layers.size() == c.target.size())
        for (size_t s : cka::stage_starts(c.layers)) spec.x_marks.push_back(static_cast<double>(s) - 0.5);
      fig.blit(plot::render_line_chart(spec), left + static_cast<int>(li) * pw,
               top + static_cast<int>(di) * ph);
    }
  }
  if (!any) return false;
  const std::string title = "CKA of each layer with the target and the bias label (mean over seeds)";
  const int scale = plot::Canvas::text_width(title, 2) + 16 <= fig.width() ? 2 : 1;
  fig.text((fig.width() - plot::Canvas::text_width(title, scale)) / 2, 10, title, plot::kBlack, scale);
  fig.save_png(path);
  return true;
}

}  // namespace biascka::workflows
