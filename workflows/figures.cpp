#include "workflows/figures.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <utility>

#include "engine/error.h"
#include "engine/io/atomic_file.h"
#include "losses/objectives.h"
#include "plot/heatmap.h"
#include "plot/line_chart.h"
#include "workflows/json_file.h"

namespace biascka::workflows {

namespace {

std::vector<std::string> datasets_of(const std::vector<RunRecord>& runs) {
  std::vector<std::string> out;
  for (const auto& r : runs)
    if (std::find(out.begin(), out.end(), r.dataset) == out.end()) out.push_back(r.dataset);
  return out;
}

std::vector<std::string> losses_of(const std::vector<RunRecord>& runs) {
  std::vector<std::string> out;
  for (const auto& o : losses::objectives())
    for (const auto& r : runs)
      if (r.loss == o.name) {
        out.push_back(o.name);
        break;
      }
  return out;
}

}  // namespace

bool write_figure1(const std::vector<RunRecord>& runs, const std::string& path) {
  // (dataset, loss) -> the lowest-seed run with a CKA matrix
  std::map<std::pair<std::string, std::string>, const RunRecord*> pick;
  for (const auto& r : runs) {
    if (r.cka_json.empty()) continue;
    auto& p = pick[{r.dataset, r.loss}];
    if (!p || r.seed < p->seed) p = &r;
  }
  if (pick.empty()) return false;
  const std::vector<std::string> datasets = datasets_of(runs), losses = losses_of(runs);
  const int cell = 230, gap = 14, top = 64, header = 22;
  int left = 90;  // wide enough for the longest row label (dataset name) at font scale 2
  for (const auto& d : datasets) left = std::max(left, 24 + plot::Canvas::text_width(label_of(runs, d), 2));
  const int bar_w = 90;
  const int width = left + static_cast<int>(losses.size()) * (cell + gap) + bar_w;
  const int height = top + header + static_cast<int>(datasets.size()) * (cell + gap) + 40;
  plot::Canvas fig(width, height);
  const std::string title = "CKA between every pair of ResNet18 layers, per dataset and objective";
  fig.text((width - plot::Canvas::text_width(title, 2)) / 2, 10, title, plot::kBlack, 2);
  std::string subtitle;
  for (size_t li = 0; li < losses.size(); ++li) {
    const std::string label = losses::objective(losses[li]).label;
    const int x = left + static_cast<int>(li) * (cell + gap);
    fig.text(x + (cell - plot::Canvas::text_width(label, 2)) / 2, top, label, plot::kBlack, 2);
  }
  for (size_t di = 0; di < datasets.size(); ++di) {
    const int y = top + header + static_cast<int>(di) * (cell + gap);
    const std::string label = label_of(runs, datasets[di]);
    fig.text(12, y + cell / 2 - 6, label, plot::kBlack, 2);
    for (size_t li = 0; li < losses.size(); ++li) {
      const int x = left + static_cast<int>(li) * (cell + gap);
      auto it = pick.find({datasets[di], losses[li]});
      if (it == pick.end()) {
        fig.rect(x, y, cell, cell, plot::kGrey);
        fig.text(x + cell / 2 - 24, y + cell / 2 - 3, "no run", plot::kGrey);
        continue;
      }
      const std::string& path = it->second->cka_json;
      const auto j = read_json_file(path);
      const nlohmann::json none;
      const nlohmann::json& matrix = j.contains("matrix") ? j["matrix"] : none;
      const bool square = matrix.is_array() && !matrix.empty() &&
                          std::all_of(matrix.begin(), matrix.end(), [&](const nlohmann::json& row) {
                            return row.is_array() && row.size() == matrix.size();
                          });
      BIASCKA_CHECK(square, path, ": field 'matrix' must be a square array of rows of numbers");
      plot::HeatmapSpec s;
      s.rows = static_cast<int64_t>(matrix.size());
      s.cols = s.rows;
      for (const auto& row : matrix)
        for (const auto& v : row) s.values.push_back(v.is_number() ? v.get<double>() : NAN);
      s.size = cell;
      s.colorbar = false;
      s.tick_labels = false;
      s.annotate_min_cell = 0;
      const plot::Canvas h = plot::render_heatmap(s);
      fig.blit(h, x + (cell - h.width()) / 2, y + (cell - h.height()) / 2);
      if (subtitle.empty())
        subtitle = j.value("estimator", std::string("unbiased")) + " minibatch CKA (batch " +
                   std::to_string(j.value("batch", 0)) + ", " + std::to_string(j.value("samples", 0)) +
                   " images) of each cell's first seed on its test split; layer 1 = conv1 at the bottom-left";
    }
  }
  fig.text((width - plot::Canvas::text_width(subtitle)) / 2, 34, subtitle, plot::kBlack);
  const plot::Canvas bar =
      plot::render_colorbar(0, 1, plot::ColorMap::Magma,
                            std::max(120, static_cast<int>(datasets.size()) * (cell + gap) - gap), "CKA");
  fig.blit(bar, width - bar_w + 10, top + header);
  fig.save_png(path);
  return true;
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

}  // namespace biascka::workflows
