#pragma once
// Line charts for training curves: one panel with axes, nice ticks, light grid, any number of series
// (each a colour and an optional legend entry), a title and axis titles. Figures tile several panels
// with Canvas::blit.
#include <cmath>
#include <string>
#include <vector>

#include "plot/canvas.h"

namespace biascka::plot {

struct Series {
  std::vector<double> x, y;  // same length; NaN y values break the line
  Rgb color;
  std::string label;  // legend entry; empty: not listed
  int thickness = 1;
};

struct LineChartSpec {
  std::vector<Series> series;
  std::string title, x_title, y_title;
  int width = 480, height = 320;
  double x_min = NAN, x_max = NAN, y_min = NAN, y_max = NAN;  // NaN: from the data
  bool legend = true;
  bool integer_x = false;       // x is a count (epochs): ticks on whole numbers only
  std::vector<double> x_marks;  // dashed vertical lines at these x (e.g. where a stage of layers starts)
};

Canvas render_line_chart(const LineChartSpec& spec);

// A qualitative palette (Tableau 10) for up to ten series; wraps around.
Rgb palette(int i);

}  // namespace biascka::plot
