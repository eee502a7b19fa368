#include "data/corruption_ops.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <numbers>
#include <utility>

namespace biascka::data::corruption {

Image to_float(const uint8_t* rgb, int w, int h) {
  Image img(w, h, 3);
  for (size_t i = 0; i < img.px.size(); ++i) img.px[i] = rgb[i] / 255.f;
  return img;
}

std::vector<uint8_t> to_u8(const Image& img) {
  std::vector<uint8_t> out(img.px.size());
  // np.uint8(x * 255) truncates; the small guard keeps exact k/255 values at k despite float rounding.
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<uint8_t>(std::clamp(img.px[i] * 255.f + 1e-3f, 0.f, 255.f));
  return out;
}

uint64_t mix64(uint64_t x) {
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

uint64_t Rng::next_u64() {
  state_ += 0x9E3779B97F4A7C15ull;
  return mix64(state_);
}

double Rng::uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

double Rng::normal(double mean, double std) {
  if (has_spare_) {
    has_spare_ = false;
    return mean + std * spare_;
  }
  const double u1 = 1.0 - uniform();  // (0, 1]: log is finite
  const double u2 = uniform();
  const double r = std::sqrt(-2.0 * std::log(u1));
  spare_ = r * std::sin(2.0 * std::numbers::pi * u2);
  has_spare_ = true;
  return mean + std * r * std::cos(2.0 * std::numbers::pi * u2);
}

int Rng::randint(int n) { return static_cast<int>(uniform() * n); }

int border_index(int i, int n, Border b) {
  if (i >= 0 && i < n) return i;
  if (n == 1) return 0;
  switch (b) {
    case Border::Nearest:
      return std::clamp(i, 0, n - 1);
    case Border::Reflect: {
      const int p = 2 * n;
      i %= p;
      if (i < 0) i += p;
      return i < n ? i : p - 1 - i;
    }
    case Border::Reflect101: {
      const int p = 2 * n - 2;
      i = std::abs(i) % p;
      return i < n ? i : p - i;
    }
  }
  return 0;
}

namespace {
// Correlates every channel with a 1-D kernel (odd length) along x (axis 1) or y (axis 0).
void filter_1d(Image& img, const std::vector<double>& k, bool along_x, Border border) {
  const int r = static_cast<int>(k.size() / 2);
  Image out(img.w, img.h, img.c);
  for (int y = 0; y < img.h; ++y)
    for (int x = 0; x < img.w; ++x)
      for (int ch = 0; ch < img.c; ++ch) {
        double s = 0;
        for (int t = -r; t <= r; ++t) {
          const int xx = along_x ? border_index(x + t, img.w, border) : x;
          const int yy = along_x ? y : border_index(y + t, img.h, border);
          s += k[t + r] * img.at(xx, yy, ch);
        }
        out.at(x, y, ch) = static_cast<float>(s);
      }
  img = std::move(out);
}
}  // namespace

void gaussian_filter(Image& img, double sigma, Border border, double truncate) {
  const int r = static_cast<int>(truncate * sigma + 0.5);
  if (r <= 0) return;
  std::vector<double> k(2 * r + 1);
  double sum = 0;
  for (int t = -r; t <= r; ++t) sum += k[t + r] = std::exp(-0.5 * t * t / (sigma * sigma));
  for (double& v : k) v /= sum;
  filter_1d(img, k, false, border);
  filter_1d(img, k, true, border);
}

void box_blur3(Image& img) {
  const std::vector<double> k(3, 1.0 / 3.0);
  filter_1d(img, k, false, Border::Reflect101);
  filter_1d(img, k, true, Border::Reflect101);
}

float sample_bilinear(const Image& img, double x, double y, int ch, Border border) {
  const double fx0 = std::floor(x), fy0 = std::floor(y);
  const double fx = x - fx0, fy = y - fy0;
  const int x0 = static_cast<int>(fx0), y0 = static_cast<int>(fy0);
  const int xa = border_index(x0, img.w, border), xb = border_index(x0 + 1, img.w, border);
  const int ya = border_index(y0, img.h, border), yb = border_index(y0 + 1, img.h, border);
  const double top = (1 - fx) * img.at(xa, ya, ch) + fx * img.at(xb, ya, ch);
  const double bot = (1 - fx) * img.at(xa, yb, ch) + fx * img.at(xb, yb, ch);
  return static_cast<float>((1 - fy) * top + fy * bot);
}

namespace {
// Input coordinate of output index i along one axis of clipped_zoom.
double zoom_source(int i, int n, double zoom) {
  const int cn = static_cast<int>(std::ceil(n / zoom));
  const int top = (n - cn) / 2;
  const int out_n = static_cast<int>(std::nearbyint(cn * zoom));  // Python's round: half to even
  const int trim = (out_n - n) / 2;
  const double scale = out_n > 1 ? double(cn - 1) / (out_n - 1) : 0.0;
  return top + std::min<double>((trim + i) * scale, cn - 1);
}
}  // namespace

Image clipped_zoom(const Image& img, double zoom) {
  Image out(img.w, img.h, img.c);
  for (int y = 0; y < img.h; ++y) {
    const double sy = zoom_source(y, img.h, zoom);
    for (int x = 0; x < img.w; ++x) {
      const double sx = zoom_source(x, img.w, zoom);
      for (int ch = 0; ch < img.c; ++ch) out.at(x, y, ch) = sample_bilinear(img, sx, sy, ch, Border::Nearest);
    }
  }
  return out;
}

Image motion_blur(const Image& img, double radius, double sigma, double angle_deg) {
  const int width = radius > 1e-12 ? 2 * static_cast<int>(std::ceil(radius)) + 1 : 3;
  std::vector<double> k(width);
  double sum = 0;
  for (int i = 0; i < width; ++i) sum += k[i] = std::exp(-double(i) * i / (2 * sigma * sigma));
  const double a = angle_deg * std::numbers::pi / 180.0;
  std::vector<int> ox(width), oy(width);
  for (int i = 0; i < width; ++i) {
    ox[i] = static_cast<int>(std::ceil(i * std::cos(a) - 0.5));
    oy[i] = static_cast<int>(std::ceil(i * std::sin(a) - 0.5));
  }
  Image out(img.w, img.h, img.c);
  for (int y = 0; y < img.h; ++y)
    for (int x = 0; x < img.w; ++x)
      for (int ch = 0; ch < img.c; ++ch) {
        double s = 0;
        for (int i = 0; i < width; ++i)
          s += k[i] * img.at(border_index(x + ox[i], img.w, Border::Nearest),
                             border_index(y + oy[i], img.h, Border::Nearest), ch);
        out.at(x, y, ch) = static_cast<float>(s / sum);
      }
  return out;
}

std::vector<double> plasma_fractal(int size, double wibble_decay, Rng& rng) {
  const int n = size;
  std::vector<double> m(size_t(n) * n, 0.0);
  auto at = [&](int i, int j) -> double& { return m[size_t(i) * n + j]; };
  double wibble = 100;
  auto wibbled_mean = [&](double sum) { return sum / 4 + wibble * rng.uniform(-wibble, wibble); };
  for (int s = n; s >= 2; s /= 2) {
    const int k = n / s, hs = s / 2;
    // squares: centre = mean of the 4 corners (wrapping) + noise
    for (int i = 0; i < k; ++i)
      for (int j = 0; j < k; ++j) {
        const int i1 = (i + 1) % k, j1 = (j + 1) % k;
        at(i * s + hs, j * s + hs) =
            wibbled_mean(at(i * s, j * s) + at(i1 * s, j * s) + at(i * s, j1 * s) + at(i1 * s, j1 * s));
      }
    // diamonds: edge midpoints = mean of the 2 adjacent centres and the 2 adjacent corners + noise
    for (int i = 0; i < k; ++i)
      for (int j = 0; j < k; ++j) {
        const int im = (i - 1 + k) % k, jm = (j - 1 + k) % k, i1 = (i + 1) % k, j1 = (j + 1) % k;
        const double dr = at(i * s + hs, j * s + hs);
        at(i * s, j * s + hs) =
            wibbled_mean(dr + at(im * s + hs, j * s + hs) + at(i * s, j * s) + at(i * s, j1 * s));
        at(i * s + hs, j * s) =
            wibbled_mean(dr + at(i * s + hs, jm * s + hs) + at(i * s, j * s) + at(i1 * s, j * s));
      }
    wibble /= wibble_decay;
  }
  const auto [lo, hi] = std::minmax_element(m.begin(), m.end());
  const double mn = *lo, range = *hi - *lo;
  for (double& v : m) v = range > 0 ? (v - mn) / range : 0.0;
  return m;
}

void rgb_to_hsv(Image& img) {
  for (size_t p = 0; p < img.px.size(); p += 3) {
    const float r = img.px[p], g = img.px[p + 1], b = img.px[p + 2];
    const float v = std::max({r, g, b}), delta = v - std::min({r, g, b});
    float h = 0, s = 0;
    if (delta > 0) {
      s = delta / v;
      if (b == v)
        h = 4 + (r - g) / delta;  // skimage's precedence: blue, then green, then red
      else if (g == v)
        h = 2 + (b - r) / delta;
      else
        h = (g - b) / delta;
      h /= 6;
      h -= std::floor(h);
    }
    img.px[p] = h, img.px[p + 1] = s, img.px[p + 2] = v;
  }
}

void hsv_to_rgb(Image& img) {
  for (size_t p = 0; p < img.px.size(); p += 3) {
    const float h = img.px[p], s = img.px[p + 1], v = img.px[p + 2];
    const float h6 = h * 6;
    const int i = static_cast<int>(std::floor(h6));
    const float f = h6 - i;
    const float pv = v * (1 - s), q = v * (1 - f * s), t = v * (1 - (1 - f) * s);
    float r, g, b;
    switch (((i % 6) + 6) % 6) {
      case 0:
        r = v, g = t, b = pv;
        break;
      case 1:
        r = q, g = v, b = pv;
        break;
      case 2:
        r = pv, g = v, b = t;
        break;
      case 3:
        r = pv, g = q, b = v;
        break;
      case 4:
        r = t, g = pv, b = v;
        break;
      default:
        r = v, g = pv, b = q;
        break;
    }
    img.px[p] = r, img.px[p + 1] = g, img.px[p + 2] = b;
  }
}

}  // namespace biascka::data::corruption
