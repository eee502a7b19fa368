#pragma once
// Image files in and out: PNG and JPEG decoded to 8-bit RGB, HWC (libpng and libjpeg-turbo, hardened for
// untrusted files; grey, palette, 16-bit, alpha and interlaced PNGs, grey and CMYK JPEGs all come out as
// RGB8); resizing; a small PNG encoder for the generators, which
// write tens of thousands of files into a temporary folder and so need neither stb_image_write's
// per-file atomic path (plot::Canvas) nor an fsync per file.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace biascka::data {

struct Image {
  int width = 0, height = 0;
  std::vector<uint8_t> pixels;  // RGB8, row-major, height * width * 3
  const uint8_t* at(int x, int y) const { return &pixels[(static_cast<size_t>(y) * width + x) * 3]; }
};

// Images larger than this (width x height, from the header) are refused before their pixels are allocated:
// 2^28 pixels is 768 MiB of RGB, far beyond any dataset image.
constexpr int64_t kMaxImagePixels = int64_t{1} << 28;

// Decodes a file; throws naming the file: "cannot read (reason)", "not an image (...)", "cannot decode
// (truncated PNG)", "cannot decode (truncated JPEG)", "cannot decode (reason)". Corrupt data that libjpeg
// would patch over (its warnings) is an error too.
Image decode_image(const std::string& path);
// Decodes bytes already in memory; `name` is used in error messages.
Image decode_image_bytes(const std::string& bytes, const std::string& name,
                         int64_t max_pixels = kMaxImagePixels);

// Bilinear-style resampling (stb_image_resize's default filters: Mitchell down, Catmull-Rom up).
Image resize_image(const Image& src, int width, int height);

// PNG bytes of an RGB8 image (zlib-compressed when zlib is available, stored blocks otherwise).
std::string encode_png(const Image& img);
// Writes encode_png(img) to path directly (not atomic: callers write into a folder renamed when done).
void write_png(const std::string& path, const Image& img);
// Flushes the filesystem holding dir (syncfs: only that filesystem). Generators write thousands of files
// without an fsync each and call this once, before the rename that makes their folder look complete.
void sync_filesystem(const std::string& dir);

}  // namespace biascka::data
