// Spatter (make_cifar_c.py): a thresholded blurry noise layer becomes either water drops (severities
// 1-3: pale turquoise, shaded by an embossed distance-to-edge map built with OpenCV's Canny, distance
// transform, histogram equalisation and 3x3 filters) or mud (severities 4-5: opaque brown blobs). The
// OpenCV steps are re-implemented here after their documented definitions.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "data/corruption_ops.h"

namespace biascka::data::corruption {

namespace {

using Plane = std::vector<float>;  // one channel, w*h

// cv2.Canny(img, low, high) on an 8-bit image: 3x3 Sobel (replicated border), L1 magnitude,
// non-maximum suppression in four directions, hysteresis with 8-connectivity. Edges are 255.
std::vector<uint8_t> canny(const std::vector<uint8_t>& img, int w, int h, int low, int high) {
  const auto px = [&](int x, int y) {
    return int{img[size_t(border_index(y, h, Border::Nearest)) * w + border_index(x, w, Border::Nearest)]};
  };
  std::vector<int> dx(size_t(w) * h), dy(size_t(w) * h), mag(size_t(w) * h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const size_t i = size_t(y) * w + x;
      dx[i] = (px(x + 1, y - 1) + 2 * px(x + 1, y) + px(x + 1, y + 1)) -
              (px(x - 1, y - 1) + 2 * px(x - 1, y) + px(x - 1, y + 1));
      dy[i] = (px(x - 1, y + 1) + 2 * px(x, y + 1) + px(x + 1, y + 1)) -
              (px(x - 1, y - 1) + 2 * px(x, y - 1) + px(x + 1, y - 1));
      mag[i] = std::abs(dx[i]) + std::abs(dy[i]);
    }
  const auto m_at = [&](int x, int y) {
    return x < 0 || y < 0 || x >= w || y >= h ? 0 : mag[size_t(y) * w + x];
  };
  // 0: not an edge, 1: weak candidate, 2: edge
  std::vector<uint8_t> state(size_t(w) * h, 0);
  std::vector<int> stack;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const size_t i = size_t(y) * w + x;
      const int m = mag[i];
      if (m <= low) continue;
      const double ax = std::abs(dx[i]), ay = std::abs(dy[i]);
      bool is_max;
      if (ay < 0.41421356 * ax) {
        is_max = m > m_at(x - 1, y) && m >= m_at(x + 1, y);
      } else if (ay > 2.41421356 * ax) {
        is_max = m > m_at(x, y - 1) && m >= m_at(x, y + 1);
      } else {
        const int s = (dx[i] ^ dy[i]) < 0 ? -1 : 1;
        is_max = m > m_at(x - s, y - 1) && m > m_at(x + s, y + 1);
      }
      if (!is_max) continue;
      state[i] = m > high ? 2 : 1;
      if (m > high) stack.push_back(static_cast<int>(i));
    }
  while (!stack.empty()) {
    const int i = stack.back();
    stack.pop_back();
    const int x = i % w, y = i / w;
    for (int ny = y - 1; ny <= y + 1; ++ny)
      for (int nx = x - 1; nx <= x + 1; ++nx) {
        if (nx < 0 || ny < 0 || nx >= w || ny >= h) continue;
        const size_t j = size_t(ny) * w + nx;
        if (state[j] == 1) {
          state[j] = 2;
          stack.push_back(static_cast<int>(j));
        }
      }
  }
  std::vector<uint8_t> edges(size_t(w) * h);
  for (size_t i = 0; i < edges.size(); ++i) edges[i] = state[i] == 2 ? 255 : 0;
  return edges;
}

// cv2.distanceTransform(DIST_L2, 5): two-pass chamfer distance to the nearest zero pixel with OpenCV's
// 5x5 weights (1, 1.4, 2.1969).
Plane distance_transform(const std::vector<uint8_t>& img, int w, int h) {
  constexpr float kFar = 1e6f;
  constexpr float a = 1.f, b = 1.4f, c = 2.1969f;
  Plane d(size_t(w) * h);
  for (size_t i = 0; i < d.size(); ++i) d[i] = img[i] == 0 ? 0.f : kFar;
  struct Step {
    int dx, dy;
    float cost;
  };
  // The half of the 5x5 mask already visited in raster order; the backward pass mirrors it.
  constexpr Step kForward[] = {{-1, 0, a},  {-1, -1, b}, {0, -1, a}, {1, -1, b},
                               {-2, -1, c}, {-1, -2, c}, {1, -2, c}, {2, -1, c}};
  const auto relax = [&](int x, int y, int sgn) {
    float& v = d[size_t(y) * w + x];
    for (const Step& s : kForward) {
      const int nx = x + sgn * s.dx, ny = y + sgn * s.dy;
      if (nx >= 0 && ny >= 0 && nx < w && ny < h) v = std::min(v, d[size_t(ny) * w + nx] + s.cost);
    }
  };
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) relax(x, y, 1);
  for (int y = h - 1; y >= 0; --y)
    for (int x = w - 1; x >= 0; --x) relax(x, y, -1);
  return d;
}

// cv2.equalizeHist.
std::vector<uint8_t> equalize_hist(const std::vector<uint8_t>& img) {
  int hist[256] = {};
  for (uint8_t v : img) ++hist[v];
  int first = 0;
  while (hist[first] == 0) ++first;
  const int total = static_cast<int>(img.size());
  if (hist[first] == total) return std::vector<uint8_t>(img.size(), static_cast<uint8_t>(first));
  const float scale = 255.f / (total - hist[first]);
  uint8_t lut[256] = {};
  int sum = 0;
  for (int i = first + 1; i < 256; ++i) {
    sum += hist[i];
    lut[i] = static_cast<uint8_t>(std::clamp(std::lrint(sum * scale), 0l, 255l));
  }
  std::vector<uint8_t> out(img.size());
  for (size_t i = 0; i < img.size(); ++i) out[i] = lut[img[i]];
  return out;
}

Image as_image(const Plane& p, int w, int h) {
  Image img(w, h, 1);
  img.px = p;
  return img;
}

// The water branch's shading: distance to the drop edges, equalised and embossed.
Plane water_shading(const std::vector<uint8_t>& liquid, int w, int h) {
  std::vector<uint8_t> not_edge = canny(liquid, w, h, 50, 150);
  for (uint8_t& v : not_edge) v = static_cast<uint8_t>(255 - v);
  Plane dist = distance_transform(not_edge, w, h);
  for (float& v : dist) v = std::min(v, 20.f);
  Image blurred = as_image(dist, w, h);
  box_blur3(blurred);
  std::vector<uint8_t> d8(blurred.px.size());
  for (size_t i = 0; i < d8.size(); ++i) d8[i] = static_cast<uint8_t>(blurred.px[i]);  // astype(uint8)
  d8 = equalize_hist(d8);
  // cv2.filter2D(d8, CV_8U, emboss kernel): correlation, reflect-101 border, saturated to 8 bits
  constexpr int kEmboss[3][3] = {{-2, -1, 0}, {-1, 1, 1}, {0, 1, 2}};
  Image embossed(w, h, 1);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      int s = 0;
      for (int ky = -1; ky <= 1; ++ky)
        for (int kx = -1; kx <= 1; ++kx)
          s += kEmboss[ky + 1][kx + 1] * d8[size_t(border_index(y + ky, h, Border::Reflect101)) * w +
                                            border_index(x + kx, w, Border::Reflect101)];
      embossed.at(x, y) = static_cast<float>(std::clamp(s, 0, 255));
    }
  box_blur3(embossed);  // on 8-bit data: cv2 rounds the mean back to 8 bits
  for (float& v : embossed.px) v = std::nearbyint(v);
  return embossed.px;
}

}  // namespace

Image spatter(const Image& x, int sev, Rng& rng) {
  // loc, scale, blur sigma, threshold, intensity (water) or blob sigma (mud), mud?
  constexpr double kC[5][6] = {{0.62, 0.1, 0.7, 0.7, 0.5, 0},
                               {0.65, 0.1, 0.8, 0.7, 0.5, 0},
                               {0.65, 0.3, 1, 0.69, 0.5, 0},
                               {0.65, 0.1, 0.7, 0.69, 0.6, 1},
                               {0.65, 0.1, 0.5, 0.68, 0.6, 1}};
  const double* c = kC[sev - 1];
  const int w = x.w, h = x.h;
  Image liquid(w, h, 1);
  for (float& v : liquid.px) v = static_cast<float>(rng.normal(c[0], c[1]));
  gaussian_filter(liquid, c[2], Border::Nearest);
  for (float& v : liquid.px)
    if (v < c[3]) v = 0;

  Image out = x;
  if (c[5] == 0) {
    std::vector<uint8_t> liquid8(liquid.px.size());
    for (size_t i = 0; i < liquid8.size(); ++i)
      liquid8[i] = static_cast<uint8_t>(std::clamp(liquid.px[i] * 255.f, 0.f, 255.f));
    const Plane shade = water_shading(liquid8, w, h);
    Plane m(shade.size());
    float peak = 0;
    for (size_t i = 0; i < m.size(); ++i) peak = std::max(peak, m[i] = liquid8[i] * shade[i]);
    constexpr float kWater[3] = {175 / 255.f, 238 / 255.f, 238 / 255.f};  // pale turquoise
    for (size_t i = 0; i < m.size(); ++i) {
      const float mi = peak > 0 ? m[i] / peak * static_cast<float>(c[4]) : 0.f;  // no drops: unchanged
      for (int ch = 0; ch < 3; ++ch)
        out.px[i * 3 + ch] = std::clamp(x.px[i * 3 + ch] + mi * kWater[ch], 0.f, 1.f);
    }
  } else {
    Image m(w, h, 1);
    for (size_t i = 0; i < m.px.size(); ++i) m.px[i] = liquid.px[i] > c[3] ? 1.f : 0.f;
    gaussian_filter(m, c[4], Border::Nearest);
    constexpr float kMud[3] = {63 / 255.f, 42 / 255.f, 20 / 255.f};
    for (size_t i = 0; i < m.px.size(); ++i) {
      const float mi = m.px[i] < 0.8f ? 0.f : m.px[i];
      for (int ch = 0; ch < 3; ++ch)
        out.px[i * 3 + ch] = std::clamp(x.px[i * 3 + ch] * (1 - mi) + kMud[ch] * mi, 0.f, 1.f);
    }
  }
  return out;
}

}  // namespace biascka::data::corruption
