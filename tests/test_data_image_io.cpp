// Image decoding and encoding: PNG round trips, resizing, and errors that name the file.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>

#include "data/image_io.h"
#include "tests/test_data_fixtures.h"

namespace biascka {
namespace {
namespace fs = std::filesystem;
using test::expect_error;

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

TEST(DataImageIo, PngRoundTripIsExact) {
  const std::string dir = test::temp_dir("data_image_png");
  for (const auto& [w, h] : {std::pair{1, 1}, std::pair{28, 28}, std::pair{33, 7}, std::pair{300, 250}}) {
    const data::Image img = test::random_image(w, h, static_cast<uint64_t>(w * 1000 + h));
    const std::string path = dir + "/img_" + std::to_string(w) + ".png";
    data::write_png(path, img);
    const data::Image back = data::decode_image(path);
    EXPECT_EQ(back.width, w);
    EXPECT_EQ(back.height, h);
    EXPECT_EQ(back.pixels, img.pixels) << w << "x" << h;
  }
}

TEST(DataImageIo, FlatImagesCompress) {
  data::Image img;
  img.width = img.height = 64;
  img.pixels.assign(64 * 64 * 3, 200);
  EXPECT_LT(data::encode_png(img).size(), 64u * 64 * 3 / 4);  // would be > raw size with stored blocks only
}

TEST(DataImageIo, ResizeKeepsAFlatColourAndChangesTheSize) {
  data::Image img;
  img.width = 5;
  img.height = 3;
  for (int i = 0; i < 15; ++i) img.pixels.insert(img.pixels.end(), {10, 120, 250});
  const data::Image big = data::resize_image(img, 20, 12);
  ASSERT_EQ(big.width, 20);
  ASSERT_EQ(big.height, 12);
  for (int i = 0; i < 20 * 12; ++i) {
    EXPECT_NEAR(big.pixels[i * 3], 10, 1);
    EXPECT_NEAR(big.pixels[i * 3 + 1], 120, 1);
    EXPECT_NEAR(big.pixels[i * 3 + 2], 250, 1);
  }
  const data::Image small = data::resize_image(test::random_image(64, 64, 3), 16, 16);
  EXPECT_EQ(small.pixels.size(), 16u * 16 * 3);
}

TEST(DataImageIo, ErrorsNameTheFile) {
  const std::string dir = test::temp_dir("data_image_errors");
  expect_error([&] { data::decode_image(dir + "/missing.png"); }, {dir + "/missing.png", "cannot read"});

  write_bytes(dir + "/text.png", "this is not an image at all");
  expect_error([&] { data::decode_image(dir + "/text.png"); }, {dir + "/text.png", "not an image"});
  write_bytes(dir + "/empty.png", "");
  expect_error([&] { data::decode_image(dir + "/empty.png"); }, {dir + "/empty.png", "not an image"});

  const std::string png = data::encode_png(test::random_image(28, 28, 1));
  write_bytes(dir + "/cut.png", png.substr(0, png.size() / 2));
  expect_error([&] { data::decode_image(dir + "/cut.png"); }, {dir + "/cut.png", "truncated PNG"});

  // A JPEG start (SOI + APP0) without the end-of-image marker.
  write_bytes(dir + "/cut.jpg",
              std::string("\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00", 20));
  expect_error([&] { data::decode_image(dir + "/cut.jpg"); }, {dir + "/cut.jpg", "truncated JPEG"});

  // A complete-looking PNG with a corrupted body: decoding fails with stb's reason.
  std::string bad = png;
  for (size_t i = 40; i < bad.size() - 20; ++i) bad[i] = static_cast<char>(bad[i] ^ 0x5A);
  write_bytes(dir + "/corrupt.png", bad);
  expect_error([&] { data::decode_image(dir + "/corrupt.png"); }, {dir + "/corrupt.png", "cannot decode"});
}

}  // namespace
}  // namespace biascka
