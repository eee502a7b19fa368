// PNG decoding with libpng's classic API and explicit transforms, so every flavour comes out the way
// stb_image gave it before: 16-bit samples cut to their high byte (the simplified API would treat them as
// linear light and gamma-convert), alpha dropped rather than composited, palettes and 1/2/4-bit grey
// expanded, grey replicated to RGB, Adam7 de-interlaced. No gamma or colour-profile transform is applied.
#include <png.h>

#include <csetjmp>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "data/image_decode.h"
#include "engine/error.h"

namespace biascka::data::detail {
namespace {

// Deflate expands at most 1032:1, so a PNG's scanlines cannot exceed 1032 times the file's size: a header
// claiming more is refused before the pixels are allocated.
constexpr uint64_t kMaxDeflateRatio = 1032;

// The bytes being decoded and libpng's last error message. libpng reports errors through on_error, which
// keeps the message and png_longjmp()s back to decode_png (libpng's documented way out); the frames it
// skips are libpng's C frames and these callbacks, which own nothing.
struct PngSource {
  const std::string* bytes = nullptr;
  size_t pos = 0;
  char message[256] = "unknown libpng error";
};

void on_error(png_structp png, png_const_charp msg) {
  auto* src = static_cast<PngSource*>(png_get_error_ptr(png));
  std::snprintf(src->message, sizeof src->message, "%s", msg);
  png_longjmp(png, 1);
}

// libpng warns about ancillary chunks (colour profiles, text, unknown chunks, their CRCs) that biascka does
// not use; the pixels are not affected, so warnings are not errors here.
void on_warning(png_structp, png_const_charp) {}

void read_bytes(png_structp png, png_bytep out, size_t n) {
  auto* src = static_cast<PngSource*>(png_get_io_ptr(png));
  if (src->bytes->size() - src->pos < n) png_error(png, "truncated PNG");
  std::memcpy(out, src->bytes->data() + src->pos, n);
  src->pos += n;
}

struct PngReadStruct {
  png_structp png = nullptr;
  png_infop info = nullptr;
  ~PngReadStruct() { png_destroy_read_struct(&png, &info, nullptr); }
};

}  // namespace

Image decode_png(const std::string& bytes, const std::string& name, int64_t max_pixels) {
  // Everything with a destructor lives before setjmp, in this frame, which longjmp returns to.
  PngSource src;
  src.bytes = &bytes;
  PngReadStruct r;
  Image img;
  std::vector<png_bytep> rows;
  r.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, on_error, on_warning);
  BIASCKA_CHECK(r.png != nullptr, name, ": cannot decode (libpng: out of memory)");
  r.info = png_create_info_struct(r.png);
  BIASCKA_CHECK(r.info != nullptr, name, ": cannot decode (libpng: out of memory)");
  if (setjmp(png_jmpbuf(r.png))) fail(name, ": cannot decode (", src.message, ")");
  png_set_read_fn(r.png, &src, read_bytes);
  png_read_info(r.png, r.info);
  png_uint_32 width = 0, height = 0;
  int depth = 0, color = 0, interlace = 0;
  png_get_IHDR(r.png, r.info, &width, &height, &depth, &color, &interlace, nullptr, nullptr);
  check_dimensions("PNG", width, height, max_pixels, name);
  const uint64_t packed_row = (uint64_t{width} * png_get_channels(r.png, r.info) * depth + 7) / 8;
  if (packed_row * height / kMaxDeflateRatio > bytes.size())
    fail(name, ": cannot decode (truncated PNG: ", width, "x", height, " pixels need more than the file's ",
         bytes.size(), " bytes)");

  png_set_strip_16(r.png);
  png_set_strip_alpha(r.png);
  png_set_palette_to_rgb(r.png);
  png_set_expand_gray_1_2_4_to_8(r.png);
  png_set_gray_to_rgb(r.png);
  png_set_interlace_handling(r.png);
  png_read_update_info(r.png, r.info);
  const size_t stride = size_t{width} * 3;
  BIASCKA_CHECK(png_get_rowbytes(r.png, r.info) == stride, name, ": cannot decode (libpng gave ",
                png_get_rowbytes(r.png, r.info), " bytes per row, expected ", stride, ")");
  img.width = static_cast<int>(width);
  img.height = static_cast<int>(height);
  img.pixels.resize(stride * height);
  rows.resize(height);
  for (size_t y = 0; y < height; ++y) rows[y] = img.pixels.data() + y * stride;
  png_read_image(r.png, rows.data());
  png_read_end(r.png, nullptr);  // the chunks after the pixels: their CRCs, IEND
  return img;
}

}  // namespace biascka::data::detail
