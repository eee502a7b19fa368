#include "plot/line_chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "plot/heatmap.h"

namespace biascka::plot {

Rgb palette(int i) {
  static constexpr Rgb kTab10[10] = {{31, 119, 180},  {255, 127, 14}, {44, 160, 44},   {214, 39, 40},
                                     {148, 103, 189}, {140, 86, 75},  {227, 119, 194}, {127, 127, 127},
                                     {188, 189, 34},  {23, 190, 207}};
  return kTab10[((i % 10) + 10) % 10];
}

namespace {
std::string tick_text(double v) {
  char buf[32];
  if (std::fabs(v - std::round(v)) < 1e-9)
    std::snprintf(buf, sizeof buf, "%.0f", v);
  else
    std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}
}  // namespace

Canvas render_line_chart(const LineChartSpec& s) {
  Canvas c(s.width, s.height);
  double x0 = s.x_min, x1 = s.x_max, y0 = s.y_min, y1 = s.y_max;
  double dx0 = INFINITY, dx1 = -INFINITY, dy0 = INFINITY, dy1 = -INFINITY;
  for (const Series& se : s.series)
    for (size_t i = 0; i < se.x.size() && i < se.y.size(); ++i) {
      if (!std::isfinite(se.x[i]) || !std::isfinite(se.y[i])) continue;
      dx0 = std::min(dx0, se.x[i]);
      dx1 = std::max(dx1, se.x[i]);
      dy0 = std::min(dy0, se.y[i]);
      dy1 = std::max(dy1, se.y[i]);
    }
  if (std::isnan(x0)) x0 = std::isfinite(dx0) ? dx0 : 0;
  if (std::isnan(x1)) x1 = std::isfinite(dx1) ? dx1 : 1;
  if (std::isnan(y0)) y0 = std::isfinite(dy0) ? dy0 : 0;
  if (std::isnan(y1)) y1 = std::isfinite(dy1) ? dy1 : 1;
  if (x1 <= x0) x1 = x0 + 1;
  if (y1 <= y0) y1 = y0 + 1;

  // Layout: title on top, y ticks on the left, x ticks below, legend to the right of the plot area.
  int legend_w = 0;
  if (s.legend)
    for (const Series& se : s.series)
      if (!se.label.empty()) legend_w = std::max(legend_w, Canvas::text_width(se.label) + 24);
  const int left = 48, top = s.title.empty() ? 10 : 26, bottom = s.x_title.empty() ? 24 : 38;
  const int right = 12 + legend_w;
  const int pw = std::max(20, s.width - left - right), ph = std::max(20, s.height - top - bottom);
  auto px = [&](double x) { return left + (x - x0) / (x1 - x0) * pw; };
  auto py = [&](double y) { return top + ph - (y - y0) / (y1 - y0) * ph; };

  if (!s.title.empty()) c.text((s.width - Canvas::text_width(s.title, 2)) / 2, 4, s.title, kBlack, 2);
  const Rgb grid{230, 230, 230};
  for (double t : nice_ticks(y0, y1, 6)) {
    if (t < y0 - 1e-12 || t > y1 + 1e-12) continue;
    const int y = static_cast<int>(std::lround(py(t)));
    c.fill_rect(left, y, pw, 1, grid);
    const std::string txt = tick_text(t);
    c.text(left - 6 - Canvas::text_width(txt), y - 3, txt, kBlack);
  }
  std::vector<double> xticks = nice_ticks(x0, x1, 8);
  if (s.integer_x) {
    const double step = std::max(1.0, std::ceil(xticks.size() > 1 ? xticks[1] - xticks[0] : 1.0));
    xticks.clear();
    for (double t = std::ceil(x0); t <= x1 + 1e-9; t += step) xticks.push_back(t);
  }
  for (double t : xticks) {
    if (t < x0 - 1e-12 || t > x1 + 1e-12) continue;
    const int x = static_cast<int>(std::lround(px(t)));
    c.fill_rect(x, top, 1, ph, grid);
    const std::string txt = tick_text(t);
    c.text(x - Canvas::text_width(txt) / 2, top + ph + 6, txt, kBlack);
  }
  for (double m : s.x_marks) {
    if (!(m >= x0 && m <= x1)) continue;
    const int x = static_cast<int>(std::lround(px(m)));
    for (int y = top; y < top + ph; y += 6) c.fill_rect(x, y, 1, 3, kGrey);
  }
  c.rect(left, top, pw + 1, ph + 1, kBlack);
  if (!s.x_title.empty())
    c.text(left + (pw - Canvas::text_width(s.x_title)) / 2, top + ph + 20, s.x_title, kBlack);
  if (!s.y_title.empty())
    c.text(4, top + (ph - Canvas::text_width(s.y_title)) / 2, s.y_title, kBlack, 1, /*vertical=*/true);

  for (const Series& se : s.series) {
    bool have_prev = false;
    double prev_x = 0, prev_y = 0;
    for (size_t i = 0; i < se.x.size() && i < se.y.size(); ++i) {
      if (!std::isfinite(se.y[i]) || !std::isfinite(se.x[i])) {
        have_prev = false;
        continue;
      }
      const double x = px(std::clamp(se.x[i], x0, x1)), y = py(std::clamp(se.y[i], y0, y1));
      if (have_prev)
        c.line(prev_x, prev_y, x, y, se.color, se.thickness);
      else
        c.fill_rect(static_cast<int>(x) - 1, static_cast<int>(y) - 1, 3, 3, se.color);
      prev_x = x;
      prev_y = y;
      have_prev = true;
    }
  }
  if (legend_w > 0) {
    int ly = top + 4;
    for (const Series& se : s.series) {
      if (se.label.empty()) continue;
      const int lx = left + pw + 10;
      c.fill_rect(lx, ly + 2, 12, 3, se.color);
      c.text(lx + 16, ly, se.label, kBlack);
      ly += 12;
    }
  }
  return c;
}

}  // namespace biascka::plot
