#include "plot/heatmap.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "engine/error.h"

namespace biascka::plot {

namespace {
// Halfway to white: a cell whose value is uncertain.
Rgb faded(Rgb c) {
  auto half = [](uint8_t v) { return static_cast<uint8_t>((v + 255 + 1) / 2); };
  return {half(c.r), half(c.g), half(c.b)};
}

constexpr Rgb kInk{40, 40, 40};
constexpr Rgb kFrame{90, 90, 90};
constexpr int kGlyph = 8;      // visible height of the small font's glyphs (stb_easy_font), in pixels
constexpr int kLine = 12;      // its line height
constexpr int kPad = 10;       // outer margin
constexpr int kTick = 3;       // tick mark length
constexpr int kBarWidth = 18;  // colour bar width

int max_text_width(const std::vector<std::string>& labels) {
  int w = 0;
  for (const std::string& s : labels) w = std::max(w, Canvas::text_width(s));
  return w;
}

std::string format_tick(double v, double step) {
  const int decimals = step >= 1 ? 0 : std::min(6, static_cast<int>(std::ceil(-std::log10(step) - 1e-9)));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, std::fabs(v) < step * 1e-9 ? 0.0 : v);
  return buf;
}

// Label every k-th index so that labels spaced `cell` pixels apart do not overlap.
int label_stride(const HeatmapSpec& s, int cell) {
  if (s.label_every > 0) return s.label_every;
  return std::max(1, (kGlyph + 2 + cell - 1) / cell);
}

}  // namespace

std::vector<double> nice_ticks(double lo, double hi, int max_ticks) {
  std::vector<double> ticks;
  if (!(hi > lo) || !std::isfinite(lo) || !std::isfinite(hi)) return {lo};
  const double raw = (hi - lo) / std::max(1, max_ticks - 1);
  const double exponent = std::floor(std::log10(raw));
  const double mag = std::pow(10.0, exponent);
  double m = 10.0;
  for (double cand : {1.0, 2.0, 2.5, 5.0})
    if (cand * mag >= raw * (1 - 1e-12)) {
      m = cand;
      break;
    }
  // Tick k is k * m * 10^exponent, computed as an exact multiple divided by an exact power of ten so that
  // 0.6 prints and compares as 0.6.
  const double inv = exponent < 0 ? std::pow(10.0, -exponent) : 0.0;
  auto value = [&](double k) { return exponent < 0 ? k * m / inv : k * m * mag; };
  const double step = m * mag;
  for (double k = std::ceil(lo / step - 1e-9); value(k) <= hi + step * 1e-9; k += 1)
    ticks.push_back(value(k) + 0.0);
  return ticks;
}

Canvas render_colorbar(double vmin, double vmax, ColorMap cmap, int height, const std::string& title) {
  BIASCKA_CHECK(height >= 2, "colour bar of height ", height);
  const std::vector<double> ticks = nice_ticks(vmin, vmax);
  const double step = ticks.size() > 1 ? ticks[1] - ticks[0] : 1.0;
  std::vector<std::string> labels;
  for (double t : ticks) labels.push_back(format_tick(t, step));
  const int label_w = max_text_width(labels);
  const int title_w = title.empty() ? 0 : kLine + 4;
  const int top = kGlyph / 2 + 1;  // room for the end ticks' labels
  Canvas c(kBarWidth + kTick + 3 + label_w + title_w + 2, height + 2 * top);
  for (int y = 0; y < height; ++y) {
    const double t = height == 1 ? 0.0 : 1.0 - static_cast<double>(y) / (height - 1);  // top = vmax
    c.fill_rect(0, top + y, kBarWidth, 1, colormap(cmap, t));
  }
  c.rect(0, top, kBarWidth, height, kFrame);
  for (size_t i = 0; i < ticks.size(); ++i) {
    const double f = (ticks[i] - vmin) / (vmax - vmin);
    const int y = top + static_cast<int>(std::lround((1.0 - f) * (height - 1)));
    c.fill_rect(kBarWidth, y, kTick, 1, kInk);
    c.text(kBarWidth + kTick + 2, y - kGlyph / 2 + 1, labels[i], kInk);
  }
  if (!title.empty())
    c.text(kBarWidth + kTick + 3 + label_w + 4, top + std::max(0, (height - Canvas::text_width(title)) / 2),
           title, kInk, 1, true);
  return c;
}

Canvas render_heatmap(const HeatmapSpec& s) {
  BIASCKA_CHECK(s.rows > 0 && s.cols > 0 && static_cast<int64_t>(s.values.size()) == s.rows * s.cols,
                "heatmap '", s.title, "': ", s.values.size(), " values for a ", s.rows, " x ", s.cols,
                " matrix");
  BIASCKA_CHECK(s.row_labels.empty() || static_cast<int64_t>(s.row_labels.size()) == s.rows, "heatmap '",
                s.title, "': ", s.row_labels.size(), " row labels for ", s.rows, " rows");
  BIASCKA_CHECK(s.col_labels.empty() || static_cast<int64_t>(s.col_labels.size()) == s.cols, "heatmap '",
                s.title, "': ", s.col_labels.size(), " column labels for ", s.cols, " columns");
  BIASCKA_CHECK(s.vmax > s.vmin, "heatmap '", s.title, "': empty colour range [", s.vmin, ", ", s.vmax, "]");
  const int cell = s.cell > 0 ? s.cell : std::max(1, s.size / static_cast<int>(std::max(s.rows, s.cols)));
  const int mw = static_cast<int>(s.cols) * cell, mh = static_cast<int>(s.rows) * cell;
  const bool row_ticks = s.tick_labels && !s.row_labels.empty();
  const bool col_ticks = s.tick_labels && !s.col_labels.empty();
  const int stride = label_stride(s, cell);
  const int big = kLine * s.scale;  // a title line

  // Margins around the matrix.
  const int left =
      kPad + (s.y_title.empty() ? 0 : big + 6) + (row_ticks ? max_text_width(s.row_labels) + kTick + 4 : 0);
  const int top = kPad + (s.title.empty() ? 0 : big + 8);
  const int below =
      (col_ticks ? max_text_width(s.col_labels) + kTick + 4 : 0) + (s.x_title.empty() ? 0 : big + 6);
  Canvas bar = s.colorbar ? render_colorbar(s.vmin, s.vmax, s.cmap, mh, s.colorbar_title) : Canvas(1, 1);
  const int right = s.colorbar ? 16 + bar.width() : 0;
  Canvas c(left + mw + right + kPad, top + mh + below + kPad);

  auto cell_y = [&](int64_t r) {
    return top + static_cast<int>(s.origin_bottom_left ? s.rows - 1 - r : r) * cell;
  };
  for (int64_t r = 0; r < s.rows; ++r)
    for (int64_t col = 0; col < s.cols; ++col) {
      const double v = s.values[static_cast<size_t>(r * s.cols + col)];
      Rgb color = colormap(s.cmap, (v - s.vmin) / (s.vmax - s.vmin));
      if (!s.faded.empty() && s.faded[static_cast<size_t>(r * s.cols + col)]) color = faded(color);
      c.fill_rect(left + static_cast<int>(col) * cell, cell_y(r), cell, cell, color);
    }
  c.rect(left - 1, top - 1, mw + 2, mh + 2, kFrame);
  if (s.annotate_min_cell > 0 && cell >= s.annotate_min_cell)
    for (int64_t r = 0; r < s.rows; ++r)
      for (int64_t col = 0; col < s.cols; ++col) {
        const double v = s.values[static_cast<size_t>(r * s.cols + col)];
        char buf[32];
        std::snprintf(buf, sizeof buf, std::isnan(v) ? "nan" : std::fabs(v) >= 100 ? "%.0f" : "%.2f", v);
        // Light text on dark cells, dark text on light ones (by the cell colour's luma, so that it holds
        // for the diverging map too, light in the middle and dark at both ends).
        const Rgb fill = colormap(s.cmap, (v - s.vmin) / (s.vmax - s.vmin));
        const double luma = 0.299 * fill.r + 0.587 * fill.g + 0.114 * fill.b;
        const Rgb ink = (std::isnan(v) || luma >= 110) ? kInk : kWhite;
        c.text(left + static_cast<int>(col) * cell + (cell - Canvas::text_width(buf)) / 2,
               cell_y(r) + (cell - kGlyph) / 2 + 1, buf, ink);
      }

  if (row_ticks)
    for (int64_t r = 0; r < s.rows; r += stride) {
      const int y = cell_y(r) + cell / 2;
      c.fill_rect(left - 1 - kTick, y, kTick, 1, kInk);
      const std::string& l = s.row_labels[static_cast<size_t>(r)];
      c.text(left - kTick - 3 - Canvas::text_width(l), y - kGlyph / 2 + 1, l, kInk);
    }
  if (col_ticks)
    for (int64_t col = 0; col < s.cols; col += stride) {
      const int x = left + static_cast<int>(col) * cell + cell / 2;
      c.fill_rect(x, top + mh + 1, 1, kTick, kInk);
      // Vertical text reads upwards and ends next to the axis, like matplotlib's rotated tick labels.
      const std::string& l = s.col_labels[static_cast<size_t>(col)];
      c.text(x - kGlyph / 2, top + mh + kTick + 3, l, kInk, 1, true);
    }
  if (!s.title.empty())
    c.text(left + std::max(-left + kPad, (mw - Canvas::text_width(s.title, s.scale)) / 2), kPad, s.title,
           kInk, s.scale);
  if (!s.x_title.empty())
    c.text(left + std::max(0, (mw - Canvas::text_width(s.x_title, s.scale)) / 2), c.height() - kPad - big + 2,
           s.x_title, kInk, s.scale);
  if (!s.y_title.empty())
    c.text(kPad, top + std::max(0, (mh - Canvas::text_width(s.y_title, s.scale)) / 2), s.y_title, kInk,
           s.scale, true);
  if (s.colorbar) c.blit(bar, left + mw + 16, top - kGlyph / 2 - 1);
  return c;
}

}  // namespace biascka::plot
