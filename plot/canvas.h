#pragma once
// A small RGB raster for the project's pictures (CKA heatmaps, contact sheets, figure grids, curves):
// rectangles, lines, text from stb_easy_font's built-in ASCII font (scaled, optionally rotated to run
// bottom-to-top for axis labels), image blits, PNG output written atomically.
#include <cstdint>
#include <string>
#include <vector>

namespace biascka::plot {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
  bool operator==(const Rgb&) const = default;
};
constexpr Rgb kWhite{255, 255, 255};
constexpr Rgb kBlack{0, 0, 0};
constexpr Rgb kGrey{128, 128, 128};

class Canvas {
 public:
  Canvas(int width, int height, Rgb background = kWhite);
  int width() const { return w_; }
  int height() const { return h_; }

  void set(int x, int y, Rgb c);  // ignores pixels outside
  Rgb get(int x, int y) const;
  void fill_rect(int x, int y, int w, int h, Rgb c);
  void rect(int x, int y, int w, int h, Rgb c, int thickness = 1);  // outline
  void line(double x0, double y0, double x1, double y1, Rgb c, int thickness = 1);
  // Text with its top-left corner at (x, y); `vertical` turns it 90 degrees counter-clockwise (reading
  // upwards) with (x, y) the top-left of the rotated box. Newlines start new lines.
  void text(int x, int y, const std::string& s, Rgb c, int scale = 1, bool vertical = false);
  static int text_width(const std::string& s, int scale = 1);
  static int text_height(const std::string& s, int scale = 1);

  // Copies another canvas, or an RGB8 image (w x h x 3) enlarged `scale` times (nearest), at (x, y).
  void blit(const Canvas& src, int x, int y);
  void blit_rgb(const uint8_t* rgb, int w, int h, int x, int y, int scale = 1);

  const std::vector<uint8_t>& pixels() const { return px_; }  // RGB8, row-major
  void save_png(const std::string& path) const;               // atomically; throws naming the file

 private:
  int w_, h_;
  std::vector<uint8_t> px_;
};

// Colour maps sampled at t in [0, 1] (clamped; NaN gives grey): Viridis and Magma are perceptually uniform
// sequential maps; Diverging is ColorBrewer's RdBu reversed (blue, white at t = 0.5, red), for signed values
// on a scale centred on 0 (vmin = -vmax).
enum class ColorMap { Viridis, Magma, Diverging };
Rgb colormap(ColorMap map, double t);

}  // namespace biascka::plot
