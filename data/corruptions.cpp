#include "data/corruptions.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstddef>

#include "data/corruption_ops.h"
#include "engine/error.h"

namespace biascka::data {

using corruption::Border;
using corruption::Image;
using corruption::Rng;

namespace {

constexpr std::array<const char*, kNumCorruptions> kNames = {
    "snow", "frost", "fog", "brightness", "contrast", "spatter", "elastic", "jpeg", "pixelate", "saturate"};

// Parameters below are make_cifar_c.py's, indexed by severity - 1.

Image snow(const Image& x0, int sev, Rng& rng) {
  // loc, scale, zoom, threshold, blur radius, blur sigma, image weight
  constexpr double kC[5][7] = {{0.1, 0.2, 1, 0.6, 8, 3, 0.95},
                               {0.1, 0.2, 1, 0.5, 10, 4, 0.9},
                               {0.15, 0.3, 1.75, 0.55, 10, 4, 0.9},
                               {0.25, 0.3, 2.25, 0.6, 12, 6, 0.85},
                               {0.3, 0.3, 1.25, 0.65, 14, 12, 0.8}};
  const double* c = kC[sev - 1];
  Image flakes(x0.w, x0.h, 1);
  for (float& v : flakes.px) v = static_cast<float>(rng.normal(c[0], c[1]));
  flakes = corruption::clipped_zoom(flakes, c[2]);
  // Hendrycks thresholds, then hands an 8-bit greyscale PNG to ImageMagick: keep that quantisation.
  for (float& v : flakes.px) v = v < c[3] ? 0.f : std::floor(std::clamp(v, 0.f, 1.f) * 255.f);
  flakes = corruption::motion_blur(flakes, c[4], c[5], rng.uniform(-135, -45));
  for (float& v : flakes.px) v = std::nearbyint(v) / 255.f;

  Image out = x0;
  const float wgt = static_cast<float>(c[6]);
  for (int y = 0; y < x0.h; ++y)
    for (int x = 0; x < x0.w; ++x) {
      const float grey = corruption::luma(x0.at(x, y, 0), x0.at(x, y, 1), x0.at(x, y, 2)) * 1.5f + 0.5f;
      // the layer plus itself turned by 180 degrees
      const float s = flakes.at(x, y) + flakes.at(x0.w - 1 - x, x0.h - 1 - y);
      for (int ch = 0; ch < 3; ++ch) {
        const float v = x0.at(x, y, ch);
        out.at(x, y, ch) = std::clamp(wgt * v + (1 - wgt) * std::max(v, grey) + s, 0.f, 1.f);
      }
    }
  return out;
}

Image frost(const Image& x, int sev, Rng& rng) {
  constexpr double kC[5][2] = {{1, 0.2}, {1, 0.3}, {0.9, 0.4}, {0.85, 0.4}, {0.75, 0.45}};
  const Image ice = corruption::frost_texture(x.w, x.h, rng);
  Image out = x;
  for (size_t i = 0; i < out.px.size(); ++i)
    out.px[i] =
        std::clamp(static_cast<float>(kC[sev - 1][0] * x.px[i] + kC[sev - 1][1] * ice.px[i]), 0.f, 1.f);
  return out;
}

Image fog(const Image& x, int sev, Rng& rng) {
  constexpr double kC[5][2] = {{0.2, 3}, {0.5, 3}, {0.75, 2.5}, {1, 2}, {1.5, 1.75}};
  const double amount = kC[sev - 1][0];
  int side = 1;
  while (side < std::max(x.w, x.h)) side *= 2;
  const std::vector<double> plasma = corruption::plasma_fractal(side, kC[sev - 1][1], rng);
  const double max_val = *std::max_element(x.px.begin(), x.px.end());
  Image out = x;
  for (int y = 0; y < x.h; ++y)
    for (int xx = 0; xx < x.w; ++xx)
      for (int ch = 0; ch < 3; ++ch) {
        const double v = x.at(xx, y, ch) + amount * plasma[size_t(y) * side + xx];
        out.at(xx, y, ch) = static_cast<float>(std::clamp(v * max_val / (max_val + amount), 0.0, 1.0));
      }
  return out;
}

Image brightness(Image x, int sev) {
  constexpr float kC[5] = {0.05f, 0.1f, 0.15f, 0.2f, 0.3f};
  corruption::rgb_to_hsv(x);
  for (size_t p = 2; p < x.px.size(); p += 3) x.px[p] = std::clamp(x.px[p] + kC[sev - 1], 0.f, 1.f);
  corruption::hsv_to_rgb(x);
  return x;
}

Image saturate(Image x, int sev) {
  constexpr float kC[5][2] = {{0.3f, 0}, {0.1f, 0}, {1.5f, 0}, {2, 0.1f}, {2.5f, 0.2f}};
  corruption::rgb_to_hsv(x);
  for (size_t p = 1; p < x.px.size(); p += 3)
    x.px[p] = std::clamp(x.px[p] * kC[sev - 1][0] + kC[sev - 1][1], 0.f, 1.f);
  corruption::hsv_to_rgb(x);
  return x;
}

Image contrast(Image x, int sev) {
  constexpr double kC[5] = {0.75, 0.5, 0.4, 0.3, 0.15};
  const size_t n = size_t(x.w) * x.h;
  for (int ch = 0; ch < 3; ++ch) {
    double mean = 0;
    for (size_t p = 0; p < n; ++p) mean += x.px[p * 3 + ch];
    mean /= n;
    for (size_t p = 0; p < n; ++p) {
      float& v = x.px[p * 3 + ch];
      v = static_cast<float>(std::clamp((v - mean) * kC[sev - 1] + mean, 0.0, 1.0));
    }
  }
  return x;
}

// A random affine warp (three control points jittered), then a smooth random displacement field.
Image elastic(const Image& x, int sev, Rng& rng) {
  const double size = std::min(x.w, x.h);  // IMSIZE of make_cifar_c.py
  constexpr double kC[5][3] = {
      {0, 0, 0.08}, {0.05, 0.2, 0.07}, {0.08, 0.06, 0.06}, {0.1, 0.04, 0.05}, {0.1, 0.03, 0.03}};
  const double alpha = size * kC[sev - 1][0], sigma = size * kC[sev - 1][1], jitter = size * kC[sev - 1][2];

  const double cx = x.h / 2, cy = x.w / 2, sq = std::min(x.w, x.h) / 3;
  const double src[3][2] = {{cx + sq, cy + sq}, {cx + sq, cy - sq}, {cx - sq, cy - sq}};
  double dst[3][2];
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 2; ++j) dst[i][j] = src[i][j] + rng.uniform(-jitter, jitter);
  // cv2.getAffineTransform(src -> dst) then warpAffine samples the source at M^-1(p): solve the inverse
  // map dst -> src directly, by Cramer's rule on [dst | 1] m = src.
  const auto det3 = [](const double a[3][3]) {
    return a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) -
           a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0]) +
           a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0]);
  };
  double p[3][3];
  for (int i = 0; i < 3; ++i) p[i][0] = dst[i][0], p[i][1] = dst[i][1], p[i][2] = 1;
  const double det = det3(p);
  BIASCKA_CHECK(std::abs(det) > 1e-9, "elastic: degenerate affine control points");
  double inv[2][3];
  for (int r = 0; r < 2; ++r)
    for (int j = 0; j < 3; ++j) {
      double q[3][3];
      for (int i = 0; i < 3; ++i)
        for (int k = 0; k < 3; ++k) q[i][k] = k == j ? src[i][r] : p[i][k];
      inv[r][j] = det3(q) / det;
    }
  Image warped(x.w, x.h, 3);
  for (int y = 0; y < x.h; ++y)
    for (int xx = 0; xx < x.w; ++xx) {
      const double sx = inv[0][0] * xx + inv[0][1] * y + inv[0][2];
      const double sy = inv[1][0] * xx + inv[1][1] * y + inv[1][2];
      for (int ch = 0; ch < 3; ++ch)
        warped.at(xx, y, ch) = corruption::sample_bilinear(x, sx, sy, ch, Border::Reflect101);
    }

  Image dx(x.w, x.h, 1), dy(x.w, x.h, 1);
  for (float& v : dx.px) v = static_cast<float>(rng.uniform(-1, 1));
  for (float& v : dy.px) v = static_cast<float>(rng.uniform(-1, 1));
  corruption::gaussian_filter(dx, sigma, Border::Reflect, 3.0);
  corruption::gaussian_filter(dy, sigma, Border::Reflect, 3.0);
  Image out(x.w, x.h, 3);
  for (int y = 0; y < x.h; ++y)
    for (int xx = 0; xx < x.w; ++xx)
      for (int ch = 0; ch < 3; ++ch)
        out.at(xx, y, ch) =
            std::clamp(corruption::sample_bilinear(warped, xx + alpha * dx.at(xx, y),
                                                   y + alpha * dy.at(xx, y), ch, Border::Reflect),
                       0.f, 1.f);
  return out;
}

std::vector<uint8_t> pixelate(const uint8_t* rgb, int w, int h, int sev) {
  constexpr double kC[5] = {0.95, 0.9, 0.85, 0.75, 0.65};
  const int sw = std::max(1, static_cast<int>(w * kC[sev - 1])),
            sh = std::max(1, static_cast<int>(h * kC[sev - 1]));
  const std::vector<uint8_t> small = corruption::resize_box(rgb, w, h, sw, sh);
  return corruption::resize_box(small.data(), sw, sh, w, h);
}

}  // namespace

const char* corruption_name(Corruption c) { return kNames.at(static_cast<size_t>(c)); }

Corruption corruption_from_index(int k) {
  BIASCKA_CHECK(k >= 0 && k < kNumCorruptions, "corruption index ", k, " is not in 0..9");
  return static_cast<Corruption>(k);
}

Corruption parse_corruption(const std::string& name) {
  std::string lower;
  for (char ch : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  for (int k = 0; k < kNumCorruptions; ++k)
    if (lower == kNames[k]) return static_cast<Corruption>(k);
  std::string all;
  for (const char* n : kNames) all += std::string(all.empty() ? "" : ", ") + n;
  fail("unknown corruption '", name, "' (one of: ", all, ")");
}

std::vector<uint8_t> corrupt(const uint8_t* rgb, int w, int h, Corruption c, int severity, uint64_t seed) {
  BIASCKA_CHECK(severity >= 1 && severity <= 5, "corruption ", corruption_name(c), ": severity ", severity,
                " is not in 1..5");
  BIASCKA_CHECK(w > 0 && h > 0, "corruption ", corruption_name(c), ": empty image ", w, "x", h);
  // One stream per (seed, corruption), so the same seed under two corruptions draws independently.
  Rng rng(corruption::mix64(seed ^ corruption::mix64(0xC0FFEEull + static_cast<uint64_t>(c))));
  switch (c) {
    case Corruption::Jpeg:
      return corruption::jpeg_round_trip(rgb, w, h, std::array{80, 65, 58, 50, 40}[severity - 1]);
    case Corruption::Pixelate:
      return pixelate(rgb, w, h, severity);
    default:
      break;
  }
  const Image x = corruption::to_float(rgb, w, h);
  switch (c) {
    case Corruption::Snow:
      return corruption::to_u8(snow(x, severity, rng));
    case Corruption::Frost:
      return corruption::to_u8(frost(x, severity, rng));
    case Corruption::Fog:
      return corruption::to_u8(fog(x, severity, rng));
    case Corruption::Brightness:
      return corruption::to_u8(brightness(x, severity));
    case Corruption::Contrast:
      return corruption::to_u8(contrast(x, severity));
    case Corruption::Spatter:
      return corruption::to_u8(corruption::spatter(x, severity, rng));
    case Corruption::Elastic:
      return corruption::to_u8(elastic(x, severity, rng));
    case Corruption::Saturate:
      return corruption::to_u8(saturate(x, severity));
    default:
      break;
  }
  fail("corruption index ", static_cast<int>(c), " is not in 0..9");
}

}  // namespace biascka::data
