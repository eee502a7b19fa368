#include "data/preview.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <utility>
#include <vector>

#include "data/disent.h"
#include "data/image_io.h"
#include "data/rng.h"
#include "engine/error.h"
#include "plot/canvas.h"

namespace biascka::data {
namespace {

using plot::Canvas;
using plot::Rgb;

constexpr Rgb kAligned{34, 150, 60}, kConflict{215, 38, 38}, kInk{30, 30, 30}, kMuted{110, 110, 110};
constexpr int kFrame = 3, kGap = 8, kMargin = 24;
constexpr const char* kLegendAligned = "bias-aligned (target = bias)";
constexpr const char* kLegendConflict = "bias-conflicting (target != bias), captioned with its bias label";

// Up to `want` samples of `pool` in a seeded order, then sorted by path so the sheet is stable to read.
std::vector<const Sample*> pick(std::vector<const Sample*> pool, size_t want, uint64_t key) {
  Rng(key).shuffle(pool);
  pool.resize(std::min(pool.size(), want));
  std::sort(pool.begin(), pool.end(), [](const Sample* a, const Sample* b) { return a->path < b->path; });
  return pool;
}

std::string pct_str(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, v < 10 ? "%.2f%%" : "%.1f%%", v);
  return buf;
}

}  // namespace

std::string make_preview(const std::string& split_dir, const std::string& out_png, const PreviewOptions& o) {
  BIASCKA_CHECK(o.per_class > 0 && o.per_class <= 100, "preview: --per-class ", o.per_class,
                " is not in 1..100");
  const Split split = scan_split(split_dir);
  const int64_t classes = split.num_classes;
  BIASCKA_CHECK(classes <= 200, split_dir, ": ", classes, " classes is too many rows for a contact sheet");

  std::vector<std::vector<const Sample*>> aligned(classes), conflicting(classes);
  for (const Sample& s : split.samples) (s.aligned() ? aligned : conflicting)[s.target].push_back(&s);

  // Rows: conflicting samples get at least a quarter of a row when the class has any (at 0.5% they would
  // otherwise never be seen), else their share; aligned samples fill the rest.
  std::vector<std::vector<const Sample*>> rows(classes);
  for (int64_t c = 0; c < classes; ++c) {
    const size_t na = aligned[c].size(), nc = conflicting[c].size(), per = o.per_class;
    const double share = na + nc ? static_cast<double>(nc) / (na + nc) : 0;
    size_t show_c =
        nc ? std::min(nc, std::max<size_t>(std::lround(share * per), std::max<size_t>(1, per / 4))) : 0;
    const size_t show_a = std::min(na, per - show_c);
    show_c = std::min(nc, per - show_a);
    rows[c] = pick(aligned[c], show_a, stream_key(o.seed, c, 0));
    for (const Sample* s : pick(conflicting[c], show_c, stream_key(o.seed, c, 1))) rows[c].push_back(s);
  }

  // Tile size from the first image: small images are enlarged by an integer factor, large ones shrunk.
  const Image probe = decode_image(split.samples.front().path);
  const int native = std::max(probe.width, probe.height);
  int scale = 1, tile = o.tile;
  if (tile <= 0) {
    scale = native <= 48 ? std::max(1, 96 / native) : 1;
    tile = native <= 48 ? native * scale : std::min(native, 96);
  } else if (tile >= native && tile % native == 0) {
    scale = tile / native;
  }

  const int caption_h = 12;
  const int cell_w = tile + 2 * kFrame + kGap, cell_h = tile + 2 * kFrame + caption_h + kGap;
  std::vector<std::string> label1(classes), label2(classes);
  int label_w = 0;
  for (int64_t c = 0; c < classes; ++c) {
    label1[c] = "class " + std::to_string(c);
    // Built by appending: GCC 12 warns falsely (-Wrestrict) on "literal" + std::to_string(...).
    label2[c] = "(";
    label2[c] += std::to_string(aligned[c].size()) + " aligned / " + std::to_string(conflicting[c].size()) +
                 " conflicting)";
    label_w = std::max({label_w, Canvas::text_width(label1[c], 2), Canvas::text_width(label2[c], 1)});
  }
  label_w += 20;

  const int64_t n = static_cast<int64_t>(split.samples.size()), nc = split.count_conflicting();
  const std::string title = "Contact sheet: " + split_dir;
  const std::string subtitle = std::to_string(n) + " images, " + std::to_string(classes) + " classes, " +
                               std::to_string(n - nc) + " bias-aligned / " + std::to_string(nc) +
                               " bias-conflicting (" + pct_str(100.0 * nc / n) + " conflicting)";
  const int header_h = 118;
  const int grid_w = o.per_class * cell_w;
  const int width = std::max(
      {kMargin * 2 + label_w + grid_w, kMargin * 2 + Canvas::text_width(title, 3),
       kMargin * 2 + Canvas::text_width(subtitle, 2) + 20,
       kMargin * 2 + Canvas::text_width(kLegendAligned, 2) + Canvas::text_width(kLegendConflict, 2) + 130});
  const int height = header_h + static_cast<int>(classes) * cell_h + kMargin;
  Canvas cv(width, height, plot::kWhite);

  cv.text(kMargin, 16, title, kInk, 3);
  cv.text(kMargin, 54, subtitle, kMuted, 2);
  // Legend.
  int lx = kMargin;
  const int ly = 82;
  for (const auto& [colour, text] :
       {std::pair{kAligned, kLegendAligned}, std::pair{kConflict, kLegendConflict}}) {
    cv.rect(lx, ly, 18, 18, colour, kFrame);
    cv.text(lx + 26, ly + 2, text, kInk, 2);
    lx += 26 + Canvas::text_width(text, 2) + 36;
  }
  cv.line(kMargin, header_h - 6, width - kMargin, header_h - 6, Rgb{210, 210, 210});

  for (int64_t c = 0; c < classes; ++c) {
    const int y0 = header_h + static_cast<int>(c) * cell_h;
    if (c % 2 == 1) cv.fill_rect(kMargin / 2, y0 - kGap / 2, width - kMargin, cell_h, Rgb{246, 246, 246});
    const int ty = y0 + (tile + 2 * kFrame) / 2 - 14;
    cv.text(kMargin, ty, label1[c], kInk, 2);
    cv.text(kMargin, ty + 20, label2[c], kMuted, 1);
    if (rows[c].empty()) {
      cv.text(kMargin + label_w, ty + 6, "no samples", kMuted, 1);
      continue;
    }
    for (size_t k = 0; k < rows[c].size(); ++k) {
      const Sample& s = *rows[c][k];
      const int x = kMargin + label_w + static_cast<int>(k) * cell_w;
      Image img = decode_image(s.path);
      if (scale > 1 && img.width * scale == tile && img.height * scale == tile) {
        cv.blit_rgb(img.pixels.data(), img.width, img.height, x + kFrame, y0 + kFrame, scale);
      } else {
        img = resize_image(img, tile, tile);
        cv.blit_rgb(img.pixels.data(), tile, tile, x + kFrame, y0 + kFrame, 1);
      }
      cv.rect(x, y0, tile + 2 * kFrame, tile + 2 * kFrame, s.aligned() ? kAligned : kConflict, kFrame);
      if (!s.aligned())
        cv.text(x + 2, y0 + tile + 2 * kFrame + 2, "bias " + std::to_string(s.bias), kConflict, 1);
    }
  }
  cv.save_png(out_png);
  return split_dir + ": " + subtitle;
}

}  // namespace biascka::data
