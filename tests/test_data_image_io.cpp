// Image decoding and encoding: PNG round trips, resizing, and errors that name the file.
#include <zlib.h>
#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "data/image_io.h"
#include "tests/support/address_space_limit.h"
#include "tests/support/image_files.h"
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

using test::libpng_file;

// Every PNG flavour comes out as 8-bit RGB: grey replicated, 16 bits cut to their high byte, 1-bit grey
// scaled to 0/255, palette entries looked up, alpha dropped (as stb_image did), Adam7 de-interlaced.
TEST(DataImageIo, EveryPngFlavourDecodesToRgb8) {
  const int w = 13, h = 9;
  data::Rng rng(5);
  std::vector<uint8_t> v(w * h * 4);
  for (auto& b : v) b = static_cast<uint8_t>(rng.below(256));
  auto rows_of = [&](int bytes_per_pixel, const auto& pixel) {
    std::vector<std::string> rows(h);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        const std::string p = pixel(y * w + x);
        EXPECT_EQ(static_cast<int>(p.size()), bytes_per_pixel);
        rows[y] += p;
      }
    return rows;
  };
  auto chars = [](std::initializer_list<int> b) {
    std::string s;
    for (int c : b) s += static_cast<char>(c);
    return s;
  };
  struct Flavour {
    const char* name;
    std::string bytes;
    std::function<std::array<int, 3>(int)> expected;  // pixel i
  };
  std::vector<png_color> palette(16);
  for (int i = 0; i < 16; ++i)
    palette[i] = {static_cast<png_byte>(i * 16), static_cast<png_byte>(255 - i * 8),
                  static_cast<png_byte>(i * 3)};
  std::vector<std::string> bits(h, std::string((w + 7) / 8, '\0')),
      nibbles(h, std::string((w + 1) / 2, '\0'));
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      if (v[y * w + x] & 1) bits[y][x / 8] = static_cast<char>(bits[y][x / 8] | (0x80 >> (x % 8)));
      nibbles[y][x / 2] = static_cast<char>(nibbles[y][x / 2] | ((v[y * w + x] & 15) << (x % 2 ? 0 : 4)));
    }
  const std::vector<Flavour> flavours = {
      {"grey8",
       libpng_file(w, h, PNG_COLOR_TYPE_GRAY, 8, false, rows_of(1, [&](int i) { return chars({v[i]}); })),
       [&](int i) {
         return std::array<int, 3>{v[i], v[i], v[i]};
       }},
      {"grey16",
       libpng_file(w, h, PNG_COLOR_TYPE_GRAY, 16, false,
                   rows_of(2,
                           [&](int i) {
                             return chars({v[i], v[i + 1]});
                           })),
       [&](int i) {
         return std::array<int, 3>{v[i], v[i], v[i]};
       }},
      {"grey1", libpng_file(w, h, PNG_COLOR_TYPE_GRAY, 1, false, bits),
       [&](int i) {
         const int g = v[i] & 1 ? 255 : 0;
         return std::array<int, 3>{g, g, g};
       }},
      {"grey_alpha8",
       libpng_file(w, h, PNG_COLOR_TYPE_GRAY_ALPHA, 8, false,
                   rows_of(2,
                           [&](int i) {
                             return chars({v[i], v[i + 1]});
                           })),
       [&](int i) {
         return std::array<int, 3>{v[i], v[i], v[i]};
       }},
      {"rgb16",
       libpng_file(w, h, PNG_COLOR_TYPE_RGB, 16, false,
                   rows_of(6,
                           [&](int i) {
                             return chars({v[i], 1, v[i + 1], 2, v[i + 2], 3});
                           })),
       [&](int i) {
         return std::array<int, 3>{v[i], v[i + 1], v[i + 2]};
       }},
      {"rgba8",
       libpng_file(w, h, PNG_COLOR_TYPE_RGBA, 8, false,
                   rows_of(4,
                           [&](int i) {
                             return chars({v[i], v[i + 1], v[i + 2], v[i + 3]});
                           })),
       [&](int i) {
         return std::array<int, 3>{v[i], v[i + 1], v[i + 2]};
       }},
      {"rgba16_interlaced",
       libpng_file(w, h, PNG_COLOR_TYPE_RGBA, 16, true,
                   rows_of(8,
                           [&](int i) {
                             return chars({v[i], 0, v[i + 1], 0, v[i + 2], 0, 9, 9});
                           })),
       [&](int i) {
         return std::array<int, 3>{v[i], v[i + 1], v[i + 2]};
       }},
      {"rgb8_interlaced",
       libpng_file(w, h, PNG_COLOR_TYPE_RGB, 8, true,
                   rows_of(3,
                           [&](int i) {
                             return chars({v[i], v[i + 1], v[i + 2]});
                           })),
       [&](int i) {
         return std::array<int, 3>{v[i], v[i + 1], v[i + 2]};
       }},
      {"palette4", libpng_file(w, h, PNG_COLOR_TYPE_PALETTE, 4, false, nibbles, palette),
       [&](int i) {
         const png_color c = palette[v[i] & 15];
         return std::array<int, 3>{c.red, c.green, c.blue};
       }},
  };
  for (const Flavour& f : flavours) {
    const data::Image img = data::decode_image_bytes(f.bytes, f.name);
    ASSERT_EQ(img.width, w) << f.name;
    ASSERT_EQ(img.height, h) << f.name;
    int wrong = 0;
    for (int i = 0; i < w * h; ++i) {
      const auto e = f.expected(i);
      for (int c = 0; c < 3; ++c) wrong += img.pixels[i * 3 + c] != e[c];
    }
    EXPECT_EQ(wrong, 0) << f.name;
  }
}

// A baseline JPEG written by libjpeg (colour 4:2:0, and greyscale) decodes to RGB close to the original:
// quality 95 leaves a mean error of a few levels on smooth content.
TEST(DataImageIo, JpegDecodesCloseToTheOriginal) {
  const int w = 40, h = 24;
  for (const int components : {3, 1}) {
    std::vector<uint8_t> src(w * h * components);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        for (int c = 0; c < components; ++c)
          src[(y * w + x) * components + c] =
              static_cast<uint8_t>(128 + 100 * std::sin(0.15 * x + 0.2 * y + c));
    const std::string bytes =
        test::libjpeg_file(w, h, components == 3 ? JCS_RGB : JCS_GRAYSCALE, components, src.data(), 95);
    const data::Image img = data::decode_image_bytes(bytes, "test.jpg");
    ASSERT_EQ(img.width, w);
    ASSERT_EQ(img.height, h);
    double err = 0;
    for (int i = 0; i < w * h; ++i)
      for (int c = 0; c < 3; ++c)
        err += std::abs(img.pixels[i * 3 + c] - src[i * components + c % components]);
    EXPECT_LT(err / (w * h * 3), 3.0) << components << " components";
  }
}

// A progressive JPEG holds the same coefficients as the baseline one of the same quality (only their order
// in the file differs), so both decode to the same pixels. Adobe CMYK JPEGs (inverted values, as libjpeg
// writes them from JCS_CMYK input too) become R = C * K / 255, G = M * K / 255, B = Y * K / 255, as
// stb_image made them.
TEST(DataImageIo, ProgressiveAndCmykJpegs) {
  const int w = 24, h = 16;
  std::vector<uint8_t> rgb(w * h * 3), cmyk(w * h * 4);
  for (int i = 0; i < w * h; ++i) {
    for (int c = 0; c < 3; ++c) rgb[i * 3 + c] = static_cast<uint8_t>(100 + 60 * std::sin(0.1 * i + c));
    const uint8_t k[4] = {200, 150, 100, 180};
    std::copy(k, k + 4, &cmyk[i * 4]);
  }
  const data::Image progressive =
      data::decode_image_bytes(test::libjpeg_file(w, h, JCS_RGB, 3, rgb.data(), 80, true), "p.jpg");
  const data::Image baseline =
      data::decode_image_bytes(test::libjpeg_file(w, h, JCS_RGB, 3, rgb.data(), 80, false), "b.jpg");
  EXPECT_EQ(progressive.pixels, baseline.pixels);
  const data::Image c =
      data::decode_image_bytes(test::libjpeg_file(w, h, JCS_CMYK, 4, cmyk.data(), 95), "c.jpg");
  ASSERT_EQ(c.pixels.size(), size_t(w * h * 3));
  const int expected[3] = {200 * 180 / 255, 150 * 180 / 255, 100 * 180 / 255};  // 141, 105, 70
  for (int i = 0; i < w * h; ++i)
    for (int ch = 0; ch < 3; ++ch) ASSERT_NEAR(c.pixels[i * 3 + ch], expected[ch], 2) << i << " " << ch;
}

// Corrupt data that libjpeg would patch over (it warns and goes on) is an error: a file we train on must
// decode to what its writer stored. Here: scan data cut short before an end-of-image marker (libjpeg warns
// "premature end of data segment" and fills the rest of the image with grey).
TEST(DataImageIo, JpegWarningsAreErrors) {
  std::vector<uint8_t> px(32 * 32 * 3);
  for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>(i * 37 % 251);
  const std::string jpeg = test::libjpeg_file(32, 32, JCS_RGB, 3, px.data(), 90);
  ASSERT_EQ(jpeg.substr(jpeg.size() - 2), std::string("\xff\xd9", 2));
  const std::string cut = jpeg.substr(0, jpeg.size() / 2) + std::string("\xff\xd9", 2);
  expect_error([&] { data::decode_image_bytes(cut, "cut.jpg"); },
               {"cut.jpg", "cannot decode (corrupt JPEG: "});
}

// The fuzz seed corpus holds one valid file of every flavour the decoders read: each decodes.
TEST(DataImageIo, EverySeedImageDecodes) {
  int n = 0;
  for (const auto& e : fs::directory_iterator(std::string(BIASCKA_SOURCE_DIR) + "/tests/fuzz/corpus/image")) {
    std::ifstream in(e.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const data::Image img = data::decode_image_bytes(bytes, e.path().string());
    EXPECT_EQ(img.pixels.size(), size_t(img.width) * img.height * 3) << e.path();
    ++n;
  }
  EXPECT_GE(n, 10);
}

// Issue 11: a JPEG whose Huffman table declares 512 codes (the format allows 256) drove stb_image's table
// builder into writes past its arrays (seen by UBSan only; the release build said "Corrupt JPEG"). libjpeg
// rejects the table: one line naming the file. The same file is a fuzz regression input
// (tests/fuzz/regressions/image/), where the sanitizers watch the decoder.
TEST(DataImageIo, OversizedHuffmanTableIsAnError) {
  std::string jpeg("\xff\xd8\xff\xc4", 4);
  const int length = 2 + 17 + 512;
  jpeg += static_cast<char>(length >> 8);
  jpeg += static_cast<char>(length & 0xff);
  jpeg += '\0';                      // DC table 0
  jpeg += std::string(16, '\x20');   // 32 codes of every length: 512 in all
  jpeg += std::string(512, '\x01');  // their values
  jpeg += std::string("\xff\xd9", 2);
  expect_error([&] { data::decode_image_bytes(jpeg, "huffman.jpg"); }, {"huffman.jpg", "cannot decode"});
}

// A 1x1 PNG whose IHDR is rewritten to claim side x side pixels (with a matching CRC, so libpng reads on).
std::string png_claiming(uint32_t side) {
  std::string png = libpng_file(1, 1, PNG_COLOR_TYPE_RGB, 8, false, {std::string(3, '\x10')});
  for (int i = 0; i < 2; ++i)  // IHDR's width and height: bytes 16-23
    for (int b = 0; b < 4; ++b) png[16 + 4 * i + b] = static_cast<char>(side >> (24 - 8 * b));
  const uint32_t crc = static_cast<uint32_t>(
      ::crc32(::crc32(0, nullptr, 0), reinterpret_cast<const Bytef*>(png.data() + 12), 17));
  for (int b = 0; b < 4; ++b) png[29 + b] = static_cast<char>(crc >> (24 - 8 * b));
  return png;
}

// The header's width x height is checked before the pixels are allocated, under a 512 MiB cap: 30000^2
// pixels are over the limit of 2^28; 16000^2 (768 MB of RGB) are under it, but deflate cannot expand a
// 70-byte file into 16000 rows of 48000 bytes, so the file is truncated. Both errors name the file and
// the claim.
TEST(DataImageIo, ClaimedDimensionsAreCheckedBeforeAllocating) {
  const test::AddressSpaceLimit cap(uint64_t{512} << 20);
  expect_error([&] { data::decode_image_bytes(png_claiming(30000), "huge.png"); },
               {"huge.png", "30000x30000", "over the limit"});
  expect_error([&] { data::decode_image_bytes(png_claiming(16000), "large.png"); },
               {"large.png", "truncated PNG", "16000x16000"});
}

}  // namespace
}  // namespace biascka
