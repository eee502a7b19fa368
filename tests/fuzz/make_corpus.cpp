// Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/): small valid files of every
// flavour each parser reads, so the fuzzer starts deep inside the formats, plus a few near-misses. Built on
// demand (`cmake --build build --target fuzz_make_corpus`) and run as `build/bin/fuzz_make_corpus
// tests/fuzz/corpus`; the files are committed, this program says how they were made.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "data/cifar10.h"
#include "data/idx.h"
#include "data/image_io.h"
#include "engine/io/npy.h"
#include "engine/io/safetensors.h"
#include "engine/tensor.h"
#include "tests/support/image_files.h"

namespace {
namespace fs = std::filesystem;
using namespace biascka;

void write_bytes(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

// A smooth test pattern: w x h x channels bytes.
std::vector<uint8_t> pattern(int w, int h, int channels, int bytes_per_sample = 1) {
  std::vector<uint8_t> v;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < channels * bytes_per_sample; ++c)
        v.push_back(static_cast<uint8_t>(128 + 100 * std::sin(0.4 * x + 0.3 * y + c)));
  return v;
}

std::string png_file(int w, int h, int color_type, int depth, bool interlaced, int channels,
                     const std::vector<png_color>& palette = {}) {
  const size_t row_bytes = (size_t(w) * channels * depth + 7) / 8;
  std::vector<uint8_t> samples = pattern(static_cast<int>(row_bytes), h, 1);
  if (color_type == PNG_COLOR_TYPE_PALETTE)  // indices within the palette, packed at 2 bits
    for (auto& p : samples) p = static_cast<uint8_t>(p % palette.size() * 0x55);
  std::vector<std::string> rows;
  for (int y = 0; y < h; ++y)
    rows.emplace_back(reinterpret_cast<const char*>(&samples[y * row_bytes]), row_bytes);
  return test::libpng_file(w, h, color_type, depth, interlaced, rows, palette);
}

std::string jpeg_file(int w, int h, J_COLOR_SPACE space, int components, bool progressive, int quality) {
  const std::vector<uint8_t> src = pattern(w, h, components);
  return test::libjpeg_file(w, h, space, components, src.data(), quality, progressive);
}

void images(const fs::path& dir) {
  std::vector<png_color> palette;
  for (int i = 0; i < 4; ++i)
    palette.push_back({static_cast<png_byte>(60 * i), static_cast<png_byte>(255 - 60 * i), 99});
  write_bytes(dir / "rgb8.png", png_file(8, 6, PNG_COLOR_TYPE_RGB, 8, false, 3));
  write_bytes(dir / "grey16.png", png_file(5, 4, PNG_COLOR_TYPE_GRAY, 16, false, 1));
  write_bytes(dir / "grey1.png", png_file(9, 3, PNG_COLOR_TYPE_GRAY, 1, false, 1));
  write_bytes(dir / "grey_alpha8.png", png_file(4, 4, PNG_COLOR_TYPE_GRAY_ALPHA, 8, false, 2));
  write_bytes(dir / "rgba16_adam7.png", png_file(9, 9, PNG_COLOR_TYPE_RGBA, 16, true, 4));
  write_bytes(dir / "palette2.png", png_file(7, 5, PNG_COLOR_TYPE_PALETTE, 2, false, 1, palette));
  write_bytes(dir / "ours.png", data::encode_png(data::Image{3, 2, pattern(3, 2, 3)}));
  write_bytes(dir / "ycc420.jpg", jpeg_file(16, 16, JCS_RGB, 3, false, 75));
  write_bytes(dir / "grey.jpg", jpeg_file(8, 8, JCS_GRAYSCALE, 1, false, 90));
  write_bytes(dir / "progressive.jpg", jpeg_file(16, 8, JCS_RGB, 3, true, 60));
  write_bytes(dir / "cmyk.jpg", jpeg_file(8, 8, JCS_CMYK, 4, false, 80));
}

void tensors(const fs::path& dir) {
  fs::create_directories(dir / "npy");
  write_npy((dir / "npy" / "f32_2x3.npy").string(),
            Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3}));
  write_npy((dir / "npy" / "i64_4.npy").string(),
            Tensor::from_vector(std::vector<int64_t>{1, -2, 3, 4}, {4}));
  write_npy((dir / "npy" / "f64_scalar.npy").string(), Tensor::full({}, 2.5, DType::F64));
  write_npy((dir / "npy" / "u8_empty.npy").string(), Tensor::empty({0, 3}, DType::U8));
  // numpy's own spellings: version 2.0, half floats, Python 2's long integers.
  auto npy = [](char major, const std::string& dict, const std::string& data) {
    std::string h = dict;
    const size_t prefix = major == 1 ? 10 : 12;
    while ((prefix + h.size() + 1) % 64) h += ' ';
    h += '\n';
    std::string out("\x93NUMPY", 6);
    out += major;
    out += '\0';
    for (int i = 0; i < (major == 1 ? 2 : 4); ++i) out += static_cast<char>((h.size() >> (8 * i)) & 0xff);
    return out + h + data;
  };
  write_bytes(dir / "npy" / "v2_i32.npy", npy(2, "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }",
                                              std::string("\x01\0\0\0\xff\xff\xff\xff", 8)));
  write_bytes(dir / "npy" / "f16_long.npy",
              npy(1, "{'descr': '<f2', 'fortran_order': False, 'shape': (2L,), }",
                  std::string("\x00\x3c\x00\xc0", 4)));

  const fs::path st = dir / "safetensors";
  fs::create_directories(st);
  write_safetensors((st / "two.safetensors").string(),
                    {{"w", Tensor::from_vector(std::vector<float>{1, 2, 3, 4}, {2, 2})},
                     {"step", Tensor::from_vector(std::vector<int64_t>{7}, {1})}},
                    {{"format", "pt"}});
  write_safetensors((st / "empty.safetensors").string(), {{"e", Tensor::empty({0}, DType::U8)}});
  auto raw = [](const std::string& header, const std::string& data) {
    std::string out(8, '\0');
    for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(header.size() >> (8 * i));
    return out + header + data;
  };
  write_bytes(st / "halves.safetensors",
              raw(R"({"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},)"
                  R"("b":{"dtype":"BF16","shape":[1,1],"data_offsets":[4,6]},"__metadata__":{"k":"v"}})",
                  std::string("\x00\x3c\x00\xc0\x80\x3f", 6)));
}

void datasets(const fs::path& dir) {
  fs::create_directories(dir / "idx");
  fs::create_directories(dir / "idx_gz");
  data::write_idx((dir / "idx" / "images-idx3-ubyte").string(), {2, 3, 3}, pattern(3, 3, 2));
  data::write_idx((dir / "idx" / "labels-idx1-ubyte").string(), {4}, {1, 2, 3, 4});
  data::write_idx((dir / "idx" / "images-idx3-ubyte.gz").string(), {2, 3, 3}, pattern(3, 3, 2));
  // fuzz_idx_gz compresses its input itself: its seeds are plain IDX bytes.
  fs::copy_file(dir / "idx" / "images-idx3-ubyte", dir / "idx_gz" / "images-idx3-ubyte",
                fs::copy_options::overwrite_existing);
  data::write_idx((dir / "idx_gz" / "cube-idx4-ubyte").string(), {2, 2, 2, 2}, pattern(4, 4, 1));

  std::vector<uint8_t> hwc = pattern(32, 32, 3);
  write_bytes(dir / "cifar10" / "one_record.bin", data::encode_cifar10_batch(hwc.data(), {3}));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_make_corpus CORPUS_DIR (tests/fuzz/corpus)\n");
    return 2;
  }
  const fs::path dir = argv[1];
  images(dir / "image");
  tensors(dir);
  datasets(dir);
  return 0;
}
