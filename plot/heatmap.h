#pragma once
// Matrix heatmaps for CKA (and any other rows x cols table of numbers): coloured cells, optional tick
// labels on both axes (vertical on the x axis, so 69 layer names stay legible), title, axis titles and a
// colour bar with ticks. The origin is at the bottom-left by default (row 0 at the bottom), as in the
// paper's Figure 1. NaN cells are grey. Parts can be left out so that a figure can tile many heatmaps
// and share one colour bar (render_colorbar).
#include <cstdint>
#include <string>
#include <vector>

#include "plot/canvas.h"

namespace biascka::plot {

struct HeatmapSpec {
  int64_t rows = 0, cols = 0;
  std::vector<double> values;  // row-major, rows x cols
  std::vector<bool>
      faded;  // empty, or row-major rows x cols: cells drawn halfway to white (uncertain values)
  std::vector<std::string> row_labels, col_labels;  // empty, or one per row / column
  std::string title, x_title, y_title, colorbar_title;
  double vmin = 0, vmax = 1;  // the colour scale; values outside are clamped
  ColorMap cmap = ColorMap::Magma;
  int cell = 0;    // pixels per cell; 0: fit the longer side of the matrix into `size` pixels
  int size = 700;  // matrix area when cell == 0 (each cell at least 1 pixel)
  int scale = 1;   // font scale of titles (tick labels stay at the small font)
  bool origin_bottom_left = true;
  bool colorbar = true;
  bool tick_labels = true;
  int label_every = 0;         // label every k-th row/column; 0: every one that fits without overlap
  int annotate_min_cell = 36;  // print each value in its cell when cells are at least this wide (0: never)
};

Canvas render_heatmap(const HeatmapSpec& spec);

// A vertical colour bar `height` pixels tall with tick values (and a title running up its side).
Canvas render_colorbar(double vmin, double vmax, ColorMap cmap, int height, const std::string& title = "");

// Evenly spaced "nice" tick values (steps of 1, 2 or 5 times a power of ten) covering [lo, hi].
std::vector<double> nice_ticks(double lo, double hi, int max_ticks = 6);

}  // namespace biascka::plot
