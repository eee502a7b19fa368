// Frost's ice layer. Hendrycks crops 32x32 patches from six photographs of frost on glass (frost1.png
// ... frost6.jpg, shrunk to 20%); those photographs are not available here, so the layer is procedural:
// a cloudy bluish-white veil (the plasma fractal of the fog corruption) with dendritic crystals (random
// needles with side branches at +-60 degrees, as ice grows) and a fine grain. Its brightness and colour
// follow the photographs' look: mostly light blue-grey, brighter along the crystals.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <numbers>
#include <vector>

#include "data/corruption_ops.h"

namespace biascka::data::corruption {

namespace {

// Deposits intensity v along a segment, antialiased by splatting at half-pixel steps (max-combined).
void draw_needle(Image& layer, double x, double y, double angle, double length, float v) {
  const double cx = std::cos(angle), cy = std::sin(angle);
  for (double t = 0; t <= length; t += 0.5) {
    const double px = x + t * cx, py = y + t * cy;
    const int ix = static_cast<int>(std::floor(px)), iy = static_cast<int>(std::floor(py));
    const double fx = px - ix, fy = py - iy;
    const double wts[4] = {(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy};
    for (int k = 0; k < 4; ++k) {
      const int qx = ix + (k & 1), qy = iy + (k >> 1);
      if (qx < 0 || qy < 0 || qx >= layer.w || qy >= layer.h) continue;
      float& dst = layer.at(qx, qy);
      dst = std::max(dst, static_cast<float>(v * (0.35 + 0.65 * wts[k])));
    }
  }
}

void draw_dendrite(Image& layer, Rng& rng, double x, double y, double angle, double length, float v,
                   int depth) {
  draw_needle(layer, x, y, angle, length, v);
  if (depth == 0) return;
  for (double t = 1.5 + rng.uniform() * 1.5; t < length - 1; t += 1.5 + rng.uniform() * 2) {
    const double bx = x + t * std::cos(angle), by = y + t * std::sin(angle);
    const double side = rng.uniform() < 0.5 ? -1 : 1;
    draw_dendrite(layer, rng, bx, by, angle + side * std::numbers::pi / 3,
                  (length - t) * rng.uniform(0.3, 0.6), v * 0.85f, depth - 1);
  }
}

}  // namespace

Image frost_texture(int w, int h, Rng& rng) {
  int side = 1;
  while (side < std::max(w, h)) side *= 2;
  const std::vector<double> veil = plasma_fractal(side, 2.0, rng);

  Image crystals(w, h, 1);
  const int n = std::max(4, w * h / 40);
  for (int i = 0; i < n; ++i)
    draw_dendrite(crystals, rng, rng.uniform(-2, w + 2), rng.uniform(-2, h + 2),
                  rng.uniform(0, 2 * std::numbers::pi), rng.uniform(3, 12),
                  static_cast<float>(rng.uniform(0.4, 1.0)), 2);
  gaussian_filter(crystals, 0.4, Border::Nearest);

  Image grain(w, h, 1);
  for (float& v : grain.px) v = static_cast<float>(rng.normal(0, 0.08));
  gaussian_filter(grain, 0.5, Border::Nearest);

  constexpr float kTint[3] = {0.85f, 0.93f, 1.0f};
  constexpr float kShift[3] = {0.04f, 0.06f, 0.10f};
  Image out(w, h, 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const float f = std::clamp(0.28f + 0.35f * static_cast<float>(veil[size_t(y) * side + x]) +
                                     0.75f * crystals.at(x, y) + grain.at(x, y),
                                 0.f, 1.f);
      for (int ch = 0; ch < 3; ++ch) out.at(x, y, ch) = std::min(1.f, f * kTint[ch] + kShift[ch]);
    }
  return out;
}

}  // namespace biascka::data::corruption
