#pragma once
// Image files in and out: PNG/JPEG (and the other formats stb_image reads) decoded to 8-bit RGB, HWC,
// grayscale and alpha images converted to RGB; resizing; a small PNG encoder for the generators, which
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

// Decodes a file; throws naming the file: "cannot read (reason)", "not an image (...)", "truncated PNG",
// "truncated JPEG", "cannot decode (reason)".
Image decode_image(const std::string& path);
// Decodes bytes already in memory; `name` is used in error messages.
Image decode_image_bytes(const std::string& bytes, const std::string& name);

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
