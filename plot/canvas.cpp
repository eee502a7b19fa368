#include "plot/canvas.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>

#include "engine/error.h"
#include "engine/io/atomic_file.h"

// stb's implementations live in exactly one translation unit of the project: image decoding and
// resizing in data/image_io.cpp, PNG writing and the font here.
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#include <stb_easy_font.h>
#include <stb_image_write.h>

namespace biascka::plot {

Canvas::Canvas(int width, int height, Rgb bg) : w_(width), h_(height) {
  BIASCKA_CHECK(width > 0 && height > 0 && width <= 32768 && height <= 32768, "canvas of ", width, "x",
                height);
  px_.resize(static_cast<size_t>(w_) * h_ * 3);
  for (size_t i = 0; i < px_.size(); i += 3) {
    px_[i] = bg.r;
    px_[i + 1] = bg.g;
    px_[i + 2] = bg.b;
  }
}

void Canvas::set(int x, int y, Rgb c) {
  if (x < 0 || y < 0 || x >= w_ || y >= h_) return;
  uint8_t* p = &px_[(static_cast<size_t>(y) * w_ + x) * 3];
  p[0] = c.r;
  p[1] = c.g;
  p[2] = c.b;
}

Rgb Canvas::get(int x, int y) const {
  if (x < 0 || y < 0 || x >= w_ || y >= h_) return {};
  const uint8_t* p = &px_[(static_cast<size_t>(y) * w_ + x) * 3];
  return {p[0], p[1], p[2]};
}

void Canvas::fill_rect(int x, int y, int w, int h, Rgb c) {
  const int x0 = std::max(0, x), y0 = std::max(0, y), x1 = std::min(w_, x + w), y1 = std::min(h_, y + h);
  for (int yy = y0; yy < y1; ++yy)
    for (int xx = x0; xx < x1; ++xx) set(xx, yy, c);
}

void Canvas::rect(int x, int y, int w, int h, Rgb c, int t) {
  fill_rect(x, y, w, t, c);
  fill_rect(x, y + h - t, w, t, c);
  fill_rect(x, y, t, h, c);
  fill_rect(x + w - t, y, t, h, c);
}

void Canvas::line(double x0, double y0, double x1, double y1, Rgb c, int thickness) {
  const double len = std::hypot(x1 - x0, y1 - y0);
  const int steps = std::max(1, static_cast<int>(std::ceil(len * 2)));
  const int r0 = -(thickness - 1) / 2, r1 = thickness / 2;
  for (int i = 0; i <= steps; ++i) {
    const double t = static_cast<double>(i) / steps;
    const int x = static_cast<int>(std::lround(x0 + t * (x1 - x0))),
              y = static_cast<int>(std::lround(y0 + t * (y1 - y0)));
    for (int dy = r0; dy <= r1; ++dy)
      for (int dx = r0; dx <= r1; ++dx) set(x + dx, y + dy, c);
  }
}

int Canvas::text_width(const std::string& s, int scale) {
  std::string copy = s;
  return stb_easy_font_width(copy.data()) * scale;
}

int Canvas::text_height(const std::string& s, int scale) {
  std::string copy = s;
  return stb_easy_font_height(copy.data()) * scale;
}

void Canvas::text(int x, int y, const std::string& s, Rgb c, int scale, bool vertical) {
  if (s.empty()) return;
  std::string copy = s;
  std::vector<char> buf(copy.size() * 300 + 1024);  // ~270 bytes per character
  const int quads = stb_easy_font_print(0, 0, copy.data(), nullptr, buf.data(), static_cast<int>(buf.size()));
  const int width = text_width(s, 1);
  struct Vertex {
    float x, y, z;
    unsigned char color[4];
  };
  const Vertex* v = reinterpret_cast<const Vertex*>(buf.data());
  for (int q = 0; q < quads; ++q) {
    const Vertex* quad = v + 4 * q;
    float qx0 = quad[0].x, qy0 = quad[0].y, qx1 = quad[0].x, qy1 = quad[0].y;
    for (int k = 1; k < 4; ++k) {
      qx0 = std::min(qx0, quad[k].x);
      qx1 = std::max(qx1, quad[k].x);
      qy0 = std::min(qy0, quad[k].y);
      qy1 = std::max(qy1, quad[k].y);
    }
    const int gx = static_cast<int>(qx0), gy = static_cast<int>(qy0);
    const int gw = static_cast<int>(qx1 - qx0), gh = static_cast<int>(qy1 - qy0);
    if (!vertical) {
      fill_rect(x + gx * scale, y + gy * scale, gw * scale, gh * scale, c);
    } else {  // rotate 90 degrees counter-clockwise: (gx, gy) -> (gy, width - gx - gw)
      fill_rect(x + gy * scale, y + (width - gx - gw) * scale, gh * scale, gw * scale, c);
    }
  }
}

void Canvas::blit(const Canvas& src, int x, int y) {
  for (int yy = 0; yy < src.h_; ++yy)
    for (int xx = 0; xx < src.w_; ++xx) set(x + xx, y + yy, src.get(xx, yy));
}

void Canvas::blit_rgb(const uint8_t* rgb, int w, int h, int x, int y, int scale) {
  for (int yy = 0; yy < h * scale; ++yy)
    for (int xx = 0; xx < w * scale; ++xx) {
      const uint8_t* p = rgb + (static_cast<size_t>(yy / scale) * w + xx / scale) * 3;
      set(x + xx, y + yy, {p[0], p[1], p[2]});
    }
}

void Canvas::save_png(const std::string& path) const {
  int len = 0;
  unsigned char* png = stbi_write_png_to_mem(px_.data(), w_ * 3, w_, h_, 3, &len);
  BIASCKA_CHECK(png != nullptr, path, ": PNG encoding failed");
  try {
    write_file_atomic(path, [&](std::ostream& out) { out.write(reinterpret_cast<const char*>(png), len); });
  } catch (...) {
    STBIW_FREE(png);
    throw;
  }
  STBIW_FREE(png);
}

namespace {
// 9 anchors of matplotlib's viridis and magma, interpolated linearly (indistinguishable at heatmap sizes).
constexpr double kViridis[9][3] = {{68, 1, 84},    {71, 44, 122},  {59, 81, 139},
                                   {44, 113, 142}, {33, 144, 141}, {39, 173, 129},
                                   {92, 200, 99},  {170, 220, 50}, {253, 231, 37}};
constexpr double kMagma[9][3] = {{0, 0, 4},      {28, 16, 68},    {79, 18, 123},
                                 {129, 37, 129}, {181, 54, 122},  {229, 80, 100},
                                 {251, 135, 97}, {254, 194, 135}, {252, 253, 191}};
constexpr double kRdBuReversed[9][3] = {{33, 102, 172},  {67, 147, 195},  {146, 197, 222},
                                        {209, 229, 240}, {247, 247, 247}, {253, 219, 199},
                                        {244, 165, 130}, {214, 96, 77},   {178, 24, 43}};
}  // namespace

Rgb colormap(ColorMap map, double t) {
  if (std::isnan(t)) return kGrey;
  t = std::clamp(t, 0.0, 1.0) * 8.0;
  const int i = std::min(7, static_cast<int>(t));
  const double f = t - i;
  const auto& tab = map == ColorMap::Viridis ? kViridis : map == ColorMap::Magma ? kMagma : kRdBuReversed;
  auto mix = [&](int k) {
    return static_cast<uint8_t>(std::lround(tab[i][k] * (1 - f) + tab[i + 1][k] * f));
  };
  return {mix(0), mix(1), mix(2)};
}

}  // namespace biascka::plot
