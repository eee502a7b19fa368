#pragma once
// A contact sheet of a split: one row per class, sample images enlarged, bias-aligned samples framed in
// green and bias-conflicting ones (target != bias) in red, each row labelled with its counts.
#include <cstdint>
#include <string>

namespace biascka::data {

struct PreviewOptions {
  int per_class = 12;  // images per row
  int tile = 0;        // image size on the sheet in pixels; 0 = about 84 (28 px images enlarged 3x)
  uint64_t seed = 0;   // which samples are shown
};

// Writes the sheet as a PNG (atomically); returns a one-line summary of the split.
std::string make_preview(const std::string& split_dir, const std::string& out_png,
                         const PreviewOptions& o = {});

}  // namespace biascka::data
