// Heatmap rendering: layout (origin bottom-left, labels, colour bar), NaN cells, option switches, and a
// 69-layer CKA-like matrix written to test_tmp/heatmap/ for a look.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/error.h"
#include "models/resnet18.h"
#include "plot/heatmap.h"
#include "tests/support/test_support.h"

namespace biascka {
namespace {

using plot::HeatmapSpec;

// A matrix shaped like a trained network's CKA: similarity decaying with depth distance, a block at the end.
HeatmapSpec cka_like(const std::vector<std::string>& names) {
  HeatmapSpec s;
  s.rows = s.cols = static_cast<int64_t>(names.size());
  s.row_labels = s.col_labels = names;
  for (int64_t i = 0; i < s.rows; ++i)
    for (int64_t j = 0; j < s.cols; ++j) {
      double v = std::exp(-std::fabs(double(i - j)) / 18.0);
      if (i > 55 && j > 55) v = std::max(v, 0.85);
      s.values.push_back(v);
    }
  s.title = "linear CKA, unbiased HSIC, minibatches of 512 (10000 samples)";
  s.x_title = s.y_title = "layers";
  s.colorbar_title = "CKA";
  s.cell = 10;
  return s;
}

TEST(Heatmap, OriginBottomLeftNanGreyAndLabels) {
  HeatmapSpec s;
  s.rows = 2;
  s.cols = 3;
  s.values = {0.0, 1.0, NAN, 1.0, 1.0, 1.0};  // row 0 = [0, 1, NaN]
  s.row_labels = {"r0", "r1"};
  s.col_labels = {"c0", "c1", "c2"};
  s.cell = 20;
  s.colorbar = false;
  const plot::Canvas c = render_heatmap(s);
  // Find the matrix: the top-left pixel of the cell grid is where row 1 (top) column 0 starts.
  const plot::Rgb lo = plot::colormap(plot::ColorMap::Magma, 0.0),
                  hi = plot::colormap(plot::ColorMap::Magma, 1.0);
  int x0 = -1, y0 = -1;
  for (int y = 0; y < c.height() && x0 < 0; ++y)
    for (int x = 0; x < c.width(); ++x)
      if (c.get(x, y) == hi) {
        x0 = x;
        y0 = y;
        break;
      }
  ASSERT_GE(x0, 0);
  EXPECT_EQ(c.get(x0 + 10, y0 + 10), hi);           // row 1 drawn on top
  EXPECT_EQ(c.get(x0 + 10, y0 + 30), lo);           // row 0, column 0 at the bottom-left
  EXPECT_EQ(c.get(x0 + 30, y0 + 30), hi);           // row 0, column 1
  EXPECT_EQ(c.get(x0 + 50, y0 + 30), plot::kGrey);  // NaN
  // Labels to the left of and below the matrix: dark pixels there.
  auto dark_in = [&](int xa, int ya, int xb, int yb) {
    for (int y = ya; y < yb; ++y)
      for (int x = xa; x < xb; ++x)
        if (c.get(x, y).r < 100 && c.get(x, y).g < 100) return true;
    return false;
  };
  EXPECT_TRUE(dark_in(0, y0, x0 - 2, y0 + 40));
  EXPECT_TRUE(dark_in(x0, y0 + 42, x0 + 60, c.height()));

  // Flipping the origin puts row 0 on top.
  s.origin_bottom_left = false;
  const plot::Canvas t = render_heatmap(s);
  EXPECT_EQ(t.get(x0 + 10, y0 + 10), lo);
  // Without labels and colour bar the canvas is just the matrix and margins.
  s.tick_labels = false;
  const plot::Canvas bare = render_heatmap(s);
  EXPECT_LT(bare.width(), c.width());
  EXPECT_LE(bare.width(), 3 * 20 + 2 * 12);
}

TEST(Heatmap, ColourBarTicksAndErrors) {
  EXPECT_EQ(plot::nice_ticks(0, 1), (std::vector<double>{0, 0.2, 0.4, 0.6, 0.8, 1.0}));
  EXPECT_EQ(plot::nice_ticks(-0.1, 1).front(), 0.0);
  const plot::Canvas bar = plot::render_colorbar(0, 1, plot::ColorMap::Viridis, 200, "CKA");
  EXPECT_GE(bar.height(), 200);
  // Top of the bar is vmax's colour, bottom vmin's.
  const int top = (bar.height() - 200) / 2;
  EXPECT_EQ(bar.get(5, top + 2), plot::colormap(plot::ColorMap::Viridis, 1.0 - 2.0 / 199));
  EXPECT_EQ(bar.get(5, top + 197), plot::colormap(plot::ColorMap::Viridis, 2.0 / 199));
  HeatmapSpec s;
  s.rows = 2;
  s.cols = 2;
  s.values = {1, 2, 3};
  EXPECT_THROW(render_heatmap(s), Error);
  s.values.push_back(4);
  s.row_labels = {"only one"};
  EXPECT_THROW(render_heatmap(s), Error);
}

// 69 ResNet18 layers at 10 pixels per cell: every name is printed; saved for inspection.
TEST(Heatmap, ResNet18LayersLegible) {
  const ResNet18 model(ResNet18Config{}, 0);
  const std::vector<std::string> names = model.layer_names();
  ASSERT_EQ(names.size(), 69u);
  const HeatmapSpec s = cka_like(names);
  const plot::Canvas c = render_heatmap(s);
  EXPECT_GE(c.width(), 690 + 100);
  EXPECT_GE(c.height(), 690 + 100);
  const std::string dir = test::temp_dir("heatmap");
  c.save_png(dir + "/resnet18_cka_like.png");
  EXPECT_TRUE(std::filesystem::file_size(dir + "/resnet18_cka_like.png") > 1000);
  // A small tile for figure grids: no labels, no colour bar.
  HeatmapSpec tile = s;
  tile.tick_labels = false;
  tile.colorbar = false;
  tile.cell = 0;
  tile.size = 200;
  tile.title = "SCE";
  tile.x_title = tile.y_title = "";
  render_heatmap(tile).save_png(dir + "/tile.png");
}

// The diverging map for signed differences: white at the centre of a scale symmetric about 0, blue below,
// red above, and a cell of value 0 is drawn white on a [-v, v] heatmap.
TEST(Heatmap, DivergingMapIsWhiteAtZeroBlueBelowRedAbove) {
  const plot::Rgb mid = plot::colormap(plot::ColorMap::Diverging, 0.5),
                  lo = plot::colormap(plot::ColorMap::Diverging, 0.0),
                  hi = plot::colormap(plot::ColorMap::Diverging, 1.0);
  EXPECT_EQ(mid, (plot::Rgb{247, 247, 247}));
  EXPECT_GT(lo.b, lo.r);
  EXPECT_GT(hi.r, hi.b);
  plot::HeatmapSpec s;
  s.rows = 1;
  s.cols = 3;
  s.values = {-0.4, 0.0, 0.4};
  s.vmin = -0.4;
  s.vmax = 0.4;
  s.cmap = plot::ColorMap::Diverging;
  s.cell = 20;
  s.colorbar = false;
  s.tick_labels = false;
  const plot::Canvas c = plot::render_heatmap(s);
  int lo_x = -1, mid_x = -1, hi_x = -1, y = -1;
  for (int yy = 0; yy < c.height() && y < 0; ++yy)
    for (int x = 0; x < c.width(); ++x)
      if (c.get(x, yy) == lo) {
        lo_x = x;
        y = yy;
        break;
      }
  ASSERT_GE(y, 0);
  for (int x = lo_x; x < c.width(); ++x) {
    if (mid_x < 0 && c.get(x, y) == mid) mid_x = x;
    if (hi_x < 0 && c.get(x, y) == hi) hi_x = x;
  }
  EXPECT_GT(mid_x, lo_x);  // -0.4 blue, then 0 white, then 0.4 red, left to right
  EXPECT_GT(hi_x, mid_x);
}

}  // namespace
}  // namespace biascka
