// PIL's BOX resampling (Pillow's libImaging/Resample.c), the resize behind Hendrycks' Pixelate: each
// output pixel averages the input pixels its footprint covers, with 22-bit fixed-point weights, one
// axis at a time and 8-bit rounding between the passes.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "data/corruption_ops.h"

namespace biascka::data::corruption {

namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;

struct Taps {
  int first = 0;
  std::vector<int32_t> weights;
};

std::vector<Taps> box_taps(int in_size, int out_size) {
  const double scale = double(in_size) / out_size;
  const double filter_scale = std::max(scale, 1.0);
  const double support = 0.5 * filter_scale;
  std::vector<Taps> taps(out_size);
  for (int o = 0; o < out_size; ++o) {
    const double center = (o + 0.5) * scale;
    const int lo = std::max(0, static_cast<int>(center - support + 0.5));
    const int hi = std::min(in_size, static_cast<int>(center + support + 0.5));
    std::vector<double> w;
    double sum = 0;
    for (int i = lo; i < hi; ++i) {
      const double t = (i - center + 0.5) / filter_scale;
      w.push_back(t > -0.5 && t <= 0.5 ? 1.0 : 0.0);
      sum += w.back();
    }
    taps[o].first = lo;
    for (double v : w)
      taps[o].weights.push_back(static_cast<int32_t>(0.5 + (sum != 0 ? v / sum : 0) * (1 << kPrecisionBits)));
  }
  return taps;
}

uint8_t apply(const Taps& t, const uint8_t* base, int stride) {
  int64_t s = int64_t{1} << (kPrecisionBits - 1);
  for (size_t k = 0; k < t.weights.size(); ++k) s += int64_t{base[(t.first + k) * stride]} * t.weights[k];
  return static_cast<uint8_t>(std::clamp<int64_t>(s >> kPrecisionBits, 0, 255));
}

}  // namespace

std::vector<uint8_t> resize_box(const uint8_t* rgb, int w, int h, int out_w, int out_h) {
  std::vector<uint8_t> mid(size_t(out_w) * h * 3);
  const std::vector<Taps> tx = box_taps(w, out_w);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < out_w; ++x)
      for (int c = 0; c < 3; ++c)
        mid[(size_t(y) * out_w + x) * 3 + c] = apply(tx[x], rgb + size_t(y) * w * 3 + c, 3);
  std::vector<uint8_t> out(size_t(out_w) * out_h * 3);
  const std::vector<Taps> ty = box_taps(h, out_h);
  for (int y = 0; y < out_h; ++y)
    for (int x = 0; x < out_w; ++x)
      for (int c = 0; c < 3; ++c)
        out[(size_t(y) * out_w + x) * 3 + c] = apply(ty[y], mid.data() + size_t(x) * 3 + c, out_w * 3);
  return out;
}

}  // namespace biascka::data::corruption
