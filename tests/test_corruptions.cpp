// The ten Corrupted CIFAR-10 corruptions: shapes, determinism, severity ordering, per-corruption
// sanity, and a contact sheet for looking at them.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "data/corruptions.h"
#include "engine/error.h"
#include "plot/canvas.h"
#include "tests/support/test_support.h"

namespace biascka::data {
namespace {

constexpr int kSide = 32;
constexpr Corruption kAll[] = {
    Corruption::Snow,    Corruption::Frost,   Corruption::Fog,  Corruption::Brightness, Corruption::Contrast,
    Corruption::Spatter, Corruption::Elastic, Corruption::Jpeg, Corruption::Pixelate,   Corruption::Saturate};

// A smooth, colourful, natural-ish picture: a sky gradient, a wavy horizon over textured ground, a shaded
// ellipse and a box, with a little noise (no CIFAR data is available to the tests).
std::vector<uint8_t> scene(int variant, int w = kSide, int h = kSide) {
  uint64_t s = 0x9E3779B97F4A7C15ull * (variant + 1);
  auto rnd = [&] {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    return double(s >> 11) * 0x1.0p-53;
  };
  const double sky0[3] = {0.2 + 0.3 * rnd(), 0.4 + 0.3 * rnd(), 0.7 + 0.3 * rnd()};
  const double sky1[3] = {0.7 + 0.3 * rnd(), 0.7 + 0.3 * rnd(), 0.8 + 0.2 * rnd()};
  const double ground[3] = {0.2 + 0.5 * rnd(), 0.3 + 0.5 * rnd(), 0.1 + 0.3 * rnd()};
  const double obj[3] = {rnd(), rnd(), rnd()};
  const double box[3] = {rnd(), rnd(), rnd()};
  const double horizon = h * (0.45 + 0.25 * rnd()), phase = 6.3 * rnd();
  const double ex = w * (0.3 + 0.4 * rnd()), ey = h * (0.35 + 0.3 * rnd()), ea = w * (0.15 + 0.15 * rnd()),
               eb = h * (0.1 + 0.12 * rnd());
  const int bx = static_cast<int>(w * 0.6 * rnd()), by = static_cast<int>(h * (0.5 + 0.3 * rnd()));
  std::vector<uint8_t> img(size_t(w) * h * 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      double c[3];
      const double t = double(y) / h;
      const bool is_ground = y > horizon + 1.5 * std::sin(x * 0.3 + phase);
      for (int k = 0; k < 3; ++k)
        c[k] = is_ground ? ground[k] * (0.7 + 0.5 * t) * (0.9 + 0.1 * std::sin(x * 1.3 + y * 0.7))
                         : sky0[k] * (1 - t) + sky1[k] * t;
      if (x >= bx && x < bx + w / 4 && y >= by && y < by + h / 6)
        for (int k = 0; k < 3; ++k) c[k] = box[k] * (x == bx || y == by ? 1.2 : 0.8);
      const double dx = (x - ex) / ea, dy = (y - ey) / eb, r2 = dx * dx + dy * dy;
      if (r2 < 1)
        for (int k = 0; k < 3; ++k)
          c[k] = obj[k] * (0.6 + 0.5 * (1 - r2)) + 0.15 * std::max(0.0, -dx - dy) * (1 - r2);
      for (int k = 0; k < 3; ++k)
        img[(size_t(y) * w + x) * 3 + k] =
            static_cast<uint8_t>(std::clamp((c[k] + 0.03 * (rnd() - 0.5)) * 255, 0.0, 255.0));
    }
  return img;
}

double mean_abs_change(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += std::abs(int(a[i]) - int(b[i]));
  return s / a.size() / 255.0;
}

// Mean |corrupted - clean| over several scenes and seeds.
double average_change(Corruption c, int severity) {
  double s = 0;
  int n = 0;
  for (int v = 0; v < 24; ++v) {
    const auto img = scene(v);
    s += mean_abs_change(corrupt(img.data(), kSide, kSide, c, severity, 1000 + v), img);
    ++n;
  }
  return s / n;
}

double mean_of(const std::vector<uint8_t>& img, int channel) {
  double s = 0;
  for (size_t i = channel; i < img.size(); i += 3) s += img[i];
  return s / (img.size() / 3) / 255.0;
}

double std_of(const std::vector<uint8_t>& img, int channel) {
  const double m = mean_of(img, channel);
  double s = 0;
  for (size_t i = channel; i < img.size(); i += 3) s += (img[i] / 255.0 - m) * (img[i] / 255.0 - m);
  return std::sqrt(s / (img.size() / 3));
}

// Mean over pixels of HSV value (max) or saturation ((max - min) / max).
double mean_hsv(const std::vector<uint8_t>& img, bool saturation) {
  double s = 0;
  for (size_t i = 0; i < img.size(); i += 3) {
    const double mx = std::max({img[i], img[i + 1], img[i + 2]}),
                 mn = std::min({img[i], img[i + 1], img[i + 2]});
    s += saturation ? (mx > 0 ? (mx - mn) / mx : 0) : mx / 255.0;
  }
  return s / (img.size() / 3);
}

TEST(Corruptions, NamesParseAndIndex) {
  for (int k = 0; k < kNumCorruptions; ++k) {
    const Corruption c = corruption_from_index(k);
    EXPECT_EQ(c, kAll[k]);
    EXPECT_EQ(parse_corruption(corruption_name(c)), c);
  }
  EXPECT_STREQ(corruption_name(Corruption::Snow), "snow");
  EXPECT_STREQ(corruption_name(Corruption::Saturate), "saturate");
  EXPECT_EQ(parse_corruption("JPEG"), Corruption::Jpeg);
  EXPECT_THROW(parse_corruption("gaussian_noise"), Error);
  EXPECT_THROW(corruption_from_index(10), Error);
  EXPECT_THROW(corruption_from_index(-1), Error);
  const auto img = scene(0);
  EXPECT_THROW(corrupt(img.data(), kSide, kSide, Corruption::Fog, 0, 1), Error);
  EXPECT_THROW(corrupt(img.data(), kSide, kSide, Corruption::Fog, 6, 1), Error);
}

TEST(Corruptions, ShapeAndDeterminismAtEverySeverity) {
  const auto img = scene(3);
  for (Corruption c : kAll)
    for (int s = 1; s <= 5; ++s) {
      const auto a = corrupt(img.data(), kSide, kSide, c, s, 11);
      const auto b = corrupt(img.data(), kSide, kSide, c, s, 11);
      ASSERT_EQ(a.size(), img.size()) << corruption_name(c) << " " << s;
      EXPECT_EQ(a, b) << corruption_name(c) << " severity " << s << " is not a function of its seed";
      EXPECT_NE(a, img) << corruption_name(c) << " severity " << s << " left the image unchanged";
    }
}

TEST(Corruptions, RandomCorruptionsDependOnTheSeed) {
  for (Corruption c :
       {Corruption::Snow, Corruption::Frost, Corruption::Fog, Corruption::Spatter, Corruption::Elastic})
    for (int s = 1; s <= 5; ++s) {
      const auto img = scene(s);
      EXPECT_NE(corrupt(img.data(), kSide, kSide, c, s, 1), corrupt(img.data(), kSide, kSide, c, s, 2))
          << corruption_name(c) << " " << s;
    }
  // the deterministic ones ignore it
  const auto img = scene(1);
  for (Corruption c : {Corruption::Brightness, Corruption::Contrast, Corruption::Jpeg, Corruption::Pixelate,
                       Corruption::Saturate})
    EXPECT_EQ(corrupt(img.data(), kSide, kSide, c, 3, 1), corrupt(img.data(), kSide, kSide, c, 3, 2));
}

TEST(Corruptions, NonSquareImages) {
  const auto img = scene(4, 40, 24);
  for (Corruption c : kAll) {
    const auto out = corrupt(img.data(), 40, 24, c, 5, 3);
    EXPECT_EQ(out.size(), img.size()) << corruption_name(c);
  }
}

// Mean |corrupted - clean| grows with severity where Hendrycks' parameters all grow together.
TEST(Corruptions, SeverityIncreasesTheChangeWhereParametersAreMonotone) {
  for (Corruption c : {Corruption::Snow, Corruption::Fog, Corruption::Brightness, Corruption::Contrast,
                       Corruption::Jpeg, Corruption::Pixelate}) {
    double prev = 0;
    for (int s = 1; s <= 5; ++s) {
      const double d = average_change(c, s);
      EXPECT_GT(d, prev) << corruption_name(c) << " severity " << s;
      prev = d;
    }
  }
}

// Where the parameters are not monotone, what the parameters imply.
TEST(Corruptions, SeverityOrderingWhereParametersAreNotMonotone) {
  // Frost: image weight 1, 1, .9, .85, .75 and frost weight .2, .3, .4, .4, .45 pull in opposite directions
  // on bright images; severity 2 only adds frost to severity 1.
  EXPECT_GT(average_change(Corruption::Frost, 2), average_change(Corruption::Frost, 1));
  // Spatter: 1-3 are water drops (3 has the largest noise scale), 4-5 mud blobs (5 has the lower threshold).
  EXPECT_LT(average_change(Corruption::Spatter, 1), average_change(Corruption::Spatter, 2));
  EXPECT_LT(average_change(Corruption::Spatter, 2), average_change(Corruption::Spatter, 3));
  EXPECT_LT(average_change(Corruption::Spatter, 4), average_change(Corruption::Spatter, 5));
  // Elastic: the affine jitter shrinks (2.56 -> 0.96 px) while the local field grows; the jitter dominates.
  EXPECT_GT(average_change(Corruption::Elastic, 1), average_change(Corruption::Elastic, 3));
  EXPECT_GT(average_change(Corruption::Elastic, 3), average_change(Corruption::Elastic, 5));
  // Saturate: S * .3, S * .1 (desaturating), then S * 1.5, 2S + .1, 2.5S + .2.
  EXPECT_GT(average_change(Corruption::Saturate, 2), average_change(Corruption::Saturate, 1));
  EXPECT_LT(average_change(Corruption::Saturate, 3), average_change(Corruption::Saturate, 4));
  EXPECT_LT(average_change(Corruption::Saturate, 4), average_change(Corruption::Saturate, 5));
}

TEST(Corruptions, BrightnessRaisesValue) {
  auto img = scene(5);
  for (uint8_t& v : img) v /= 2;  // room below V = 1 for all five steps
  double prev = mean_hsv(img, false);
  for (int s = 1; s <= 5; ++s) {
    const double v = mean_hsv(corrupt(img.data(), kSide, kSide, Corruption::Brightness, s, 0), false);
    EXPECT_GT(v, prev + 0.04) << s;  // + .05, .1, .15, .2, .3
    prev = v;
  }
}

TEST(Corruptions, SaturateChangesSaturation) {
  const auto img = scene(6);
  const double s0 = mean_hsv(img, true);
  const auto sat = [&](int s) {
    return mean_hsv(corrupt(img.data(), kSide, kSide, Corruption::Saturate, s, 0), true);
  };
  EXPECT_NEAR(sat(1), 0.3 * s0, 0.03);
  EXPECT_NEAR(sat(2), 0.1 * s0, 0.03);
  EXPECT_GT(sat(3), s0 * 1.2);
  EXPECT_GT(sat(4), sat(3));
  EXPECT_GT(sat(5), sat(4));
  // hue and value are kept: the brightest channel stays (up to rounding)
  EXPECT_NEAR(mean_hsv(corrupt(img.data(), kSide, kSide, Corruption::Saturate, 2, 0), false),
              mean_hsv(img, false), 0.01);
}

TEST(Corruptions, ContrastReducesSpreadAndKeepsMeans) {
  const auto img = scene(7);
  const double factors[5] = {0.75, 0.5, 0.4, 0.3, 0.15};
  for (int s = 1; s <= 5; ++s) {
    const auto out = corrupt(img.data(), kSide, kSide, Corruption::Contrast, s, 0);
    for (int ch = 0; ch < 3; ++ch) {
      EXPECT_NEAR(std_of(out, ch), factors[s - 1] * std_of(img, ch), 0.01) << s;
      EXPECT_NEAR(mean_of(out, ch), mean_of(img, ch), 0.01) << s;
    }
  }
}

TEST(Corruptions, PixelateMakesBlocks) {
  const auto img = scene(8);
  const int sizes[5] = {30, 28, 27, 24, 20};  // int(32 * c)
  for (int s = 1; s <= 5; ++s) {
    const auto out = corrupt(img.data(), kSide, kSide, Corruption::Pixelate, s, 0);
    // Enlarging `sizes` columns to 32 repeats 32 - sizes of them: count columns equal to their left
    // neighbour.
    int repeated_cols = 0, repeated_rows = 0;
    for (int x = 1; x < kSide; ++x) {
      bool same = true;
      for (int y = 0; y < kSide && same; ++y)
        for (int ch = 0; ch < 3; ++ch)
          same &= out[(y * kSide + x) * 3 + ch] == out[(y * kSide + x - 1) * 3 + ch];
      repeated_cols += same;
    }
    for (int y = 1; y < kSide; ++y)
      repeated_rows += std::equal(out.begin() + y * kSide * 3, out.begin() + (y + 1) * kSide * 3,
                                  out.begin() + (y - 1) * kSide * 3);
    EXPECT_GE(repeated_cols, kSide - sizes[s - 1]) << s;
    EXPECT_GE(repeated_rows, kSide - sizes[s - 1]) << s;
  }
  // a flat image stays flat (box filters preserve constants exactly)
  const std::vector<uint8_t> flat(kSide * kSide * 3, 77);
  EXPECT_EQ(corrupt(flat.data(), kSide, kSide, Corruption::Pixelate, 5, 0), flat);
}

TEST(Corruptions, JpegChangesTheImageSlightly) {
  for (int v = 0; v < 4; ++v) {
    const auto img = scene(v);
    for (int s = 1; s <= 5; ++s) {
      const double d = mean_abs_change(corrupt(img.data(), kSide, kSide, Corruption::Jpeg, s, 0), img);
      EXPECT_GT(d, 0.003) << s;
      EXPECT_LT(d, 0.08) << s;
    }
  }
}

TEST(Corruptions, SnowAndWaterOnlyBrighten) {
  // snow: blend with max(x, 1.5 grey + .5) plus flakes; water spatter: x + m * turquoise. Neither darkens.
  for (int v = 0; v < 6; ++v) {
    const auto img = scene(v);
    for (auto [c, s] : {std::pair{Corruption::Snow, 1},
                        {Corruption::Snow, 5},
                        {Corruption::Spatter, 1},
                        {Corruption::Spatter, 2},
                        {Corruption::Spatter, 3}}) {
      const auto out = corrupt(img.data(), kSide, kSide, c, s, v);
      for (size_t i = 0; i < img.size(); ++i) ASSERT_GE(out[i] + 1, img[i]) << corruption_name(c) << " " << s;
    }
  }
}

TEST(Corruptions, MudSpatterPaintsBrownBlobs) {
  const std::vector<uint8_t> white(kSide * kSide * 3, 255);
  for (int s = 4; s <= 5; ++s) {
    int muddy = 0;
    for (uint64_t seed = 0; seed < 8; ++seed) {
      const auto out = corrupt(white.data(), kSide, kSide, Corruption::Spatter, s, seed);
      for (size_t p = 0; p < out.size(); p += 3) {
        if (out[p] == 255 && out[p + 1] == 255 && out[p + 2] == 255) continue;
        ++muddy;
        // between white and mud brown (63, 42, 20): red stays the largest, blue the smallest
        EXPECT_GE(out[p], out[p + 1]);
        EXPECT_GE(out[p + 1], out[p + 2]);
      }
    }
    EXPECT_GT(muddy, 8) << s;
  }
}

TEST(Corruptions, FrostAddsABluishIceLayer) {
  const std::vector<uint8_t> black(kSide * kSide * 3, 0);
  double prev = 0;
  for (int s = 1; s <= 5; ++s) {
    const auto out = corrupt(black.data(), kSide, kSide, Corruption::Frost, s, 9);
    const double r = mean_of(out, 0), b = mean_of(out, 2);
    EXPECT_GT(b, r) << s;
    EXPECT_GE(r + b, prev) << s;  // frost weight .2, .3, .4, .4, .45
    prev = r + b;
  }
}

TEST(Corruptions, GeometricCorruptionsKeepAFlatImageFlat) {
  const std::vector<uint8_t> flat(kSide * kSide * 3, 140);
  for (int s = 1; s <= 5; ++s)
    EXPECT_EQ(corrupt(flat.data(), kSide, kSide, Corruption::Elastic, s, 5), flat) << s;
}

TEST(Corruptions, FogKeepsBlackBlack) {
  // x * max / (max + c): a black image has max 0
  const std::vector<uint8_t> black(kSide * kSide * 3, 0);
  EXPECT_EQ(corrupt(black.data(), kSide, kSide, Corruption::Fog, 5, 1), black);
}

TEST(Corruptions, ContactSheet) {
  constexpr int kScale = 3, kCell = kSide * kScale + 4, kLabel = 80, kScenes = 3;
  const int cols = kScenes * 6;
  plot::Canvas sheet(kLabel + cols * kCell, 20 + 10 * kCell);
  for (int r = 0; r < 10; ++r) {
    sheet.text(4, 20 + r * kCell + kCell / 2, corruption_name(kAll[r]), plot::kBlack);
    for (int v = 0; v < kScenes; ++v) {
      const auto img = scene(v * 7 + 3);
      for (int s = 0; s <= 5; ++s) {
        const auto out = s == 0 ? img : corrupt(img.data(), kSide, kSide, kAll[r], s, 42 + v);
        sheet.blit_rgb(out.data(), kSide, kSide, kLabel + (v * 6 + s) * kCell, 20 + r * kCell, kScale);
        if (r == 0)
          sheet.text(kLabel + (v * 6 + s) * kCell + 40, 6, s == 0 ? "clean" : std::to_string(s),
                     plot::kBlack);
      }
    }
  }
  const std::string path = test::temp_dir("corruption_sheet") + "/corruptions.png";
  sheet.save_png(path);
  std::printf("contact sheet: %s\n", path.c_str());
  EXPECT_GT(std::filesystem::file_size(path), 1000u);
  // One larger sheet per corruption (rows = scenes, columns = clean and severities 1..5), for close looks.
  for (Corruption c : kAll) {
    constexpr int kBig = 5, kBigCell = kSide * kBig + 4;
    plot::Canvas one(6 * kBigCell, 4 * kBigCell);
    for (int v = 0; v < 4; ++v) {
      const auto img = scene(v * 5 + 1);
      for (int s = 0; s <= 5; ++s) {
        const auto out = s == 0 ? img : corrupt(img.data(), kSide, kSide, c, s, 7 + v);
        one.blit_rgb(out.data(), kSide, kSide, s * kBigCell, v * kBigCell, kBig);
      }
    }
    one.save_png(test::temp_dir("corruption_sheet_" + std::string(corruption_name(c))) + "/sheet.png");
  }
}

}  // namespace
}  // namespace biascka::data
