#pragma once
// Small synthetic inputs shared by the data tests: IDX digit sets and folders of labelled PNGs.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "data/idx.h"
#include "data/image_io.h"
#include "data/rng.h"
#include "engine/error.h"
#include "tests/support/test_support.h"

namespace biascka::test {

// A fake digit of class y: a square ring whose position and size depend on y, strokes at 255 with softer
// (128) edges, on black. Different classes look different, and the 255 pixels show the pure colour.
inline void draw_digit(uint8_t* img, int rows, int cols, int y) {
  const int s = 3 + y % 4, x0 = 1 + y % 3, y0 = 1 + (y / 3) % 3;
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      const bool inside = r >= y0 && r < y0 + s && c >= x0 && c < x0 + s;
      const bool ring = inside && (r == y0 || r == y0 + s - 1 || c == x0 || c == x0 + s - 1);
      img[r * cols + c] = ring ? 255 : inside ? 128 : 0;
    }
}

// Writes {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] with labels i % 10 into dir.
inline void write_idx_set(const std::string& dir, int64_t n_train, int64_t n_test, int rows = 12,
                          int cols = 12, bool gz = false) {
  std::filesystem::create_directories(dir);
  for (const auto& [prefix, n] :
       {std::pair{std::string("train"), n_train}, std::pair{std::string("t10k"), n_test}}) {
    std::vector<uint8_t> images(static_cast<size_t>(n * rows * cols)), labels(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      labels[i] = static_cast<uint8_t>(i % 10);
      draw_digit(&images[i * rows * cols], rows, cols, labels[i]);
    }
    const std::string ext = gz ? ".gz" : "";
    data::write_idx(dir + "/" + prefix + "-images-idx3-ubyte" + ext, {n, rows, cols}, images);
    data::write_idx(dir + "/" + prefix + "-labels-idx1-ubyte" + ext, {n}, labels);
  }
}

// An RGB image of w x h with seeded random pixels.
inline data::Image random_image(int w, int h, uint64_t key) {
  data::Image img;
  img.width = w;
  img.height = h;
  img.pixels.resize(static_cast<size_t>(w) * h * 3);
  data::Rng rng(key);
  for (auto& p : img.pixels) p = static_cast<uint8_t>(rng.below(256));
  return img;
}

// A split folder of n random w x h PNGs named {i}_{i % classes}_{bias}.png in per-class folders, bias =
// target except every 5th sample.
inline std::string write_random_split(const std::string& dir, int n, int classes = 4, int w = 8, int h = 8) {
  for (int i = 0; i < n; ++i) {
    const int t = i % classes, b = i % 5 == 0 ? (t + 1) % classes : t;
    const std::string sub = dir + "/" + std::to_string(t);
    std::filesystem::create_directories(sub);
    data::write_png(
        sub + "/" + std::to_string(i) + "_" + std::to_string(t) + "_" + std::to_string(b) + ".png",
        random_image(w, h, static_cast<uint64_t>(i) + 1000));
  }
  return dir;
}

// Expects f() to throw biascka::Error whose message contains every one of `parts`.
inline void expect_error(const std::function<void()>& f, const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "expected an error containing '" << (parts.empty() ? "" : parts[0]) << "'";
  } catch (const Error& e) {
    const std::string msg = e.what();
    for (const auto& p : parts)
      EXPECT_NE(msg.find(p), std::string::npos) << "message: " << msg << "\nmissing: " << p;
  }
}

}  // namespace biascka::test
