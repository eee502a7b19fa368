#include "data/image_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "data/image_decode.h"
#include "engine/error.h"

#ifdef BIASCKA_HAVE_ZLIB
#include <zlib.h>
#endif

// stb's implementations live in exactly one translation unit of the project: resizing here, PNG writing
// and the font in plot/canvas.cpp. Decoding is libpng's and libjpeg's (image_decode_*.cpp).
#define STB_IMAGE_RESIZE_IMPLEMENTATION
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#endif
#include <stb_image_resize.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

namespace biascka::data {
namespace {

bool starts_with(const std::string& s, const char* magic, size_t n) {
  return s.size() >= n && std::memcmp(s.data(), magic, n) == 0;
}

bool is_png(const std::string& b) { return starts_with(b, "\x89PNG\r\n\x1a\n", 8); }
bool is_jpeg(const std::string& b) { return starts_with(b, "\xff\xd8\xff", 3); }

// A complete PNG ends with its IEND chunk; a complete JPEG with the EOI marker FF D9 (some writers append
// a few padding bytes, so look at the tail rather than the last two bytes only).
bool png_complete(const std::string& b) { return b.size() >= 12 && b.compare(b.size() - 8, 4, "IEND") == 0; }
bool jpeg_complete(const std::string& b) {
  const size_t from = b.size() > 1024 ? b.size() - 1024 : 0;
  for (size_t i = b.size(); i-- > from + 1;)
    if (static_cast<uint8_t>(b[i - 1]) == 0xFF && static_cast<uint8_t>(b[i]) == 0xD9) return true;
  return false;
}

}  // namespace

namespace detail {

void check_dimensions(const char* format, uint64_t width, uint64_t height, int64_t max_pixels,
                      const std::string& name) {
  BIASCKA_CHECK(width > 0 && height > 0, name, ": cannot decode (", format, " of ", width, "x", height,
                " pixels)");
  // Both are below 2^32 in PNG and JPEG headers, so the product cannot overflow 64 bits.
  BIASCKA_CHECK(width * height <= static_cast<uint64_t>(max_pixels), name, ": cannot decode (", format,
                " of ", width, "x", height, " pixels: over the limit of ", max_pixels, ")");
}

}  // namespace detail

Image decode_image_bytes(const std::string& bytes, const std::string& name, int64_t max_pixels) {
  BIASCKA_CHECK(!bytes.empty(), name, ": not an image (empty file)");
  if (is_png(bytes)) {
    if (!png_complete(bytes)) fail(name, ": cannot decode (truncated PNG)");
    return detail::decode_png(bytes, name, max_pixels);
  }
  if (is_jpeg(bytes)) {
    if (!jpeg_complete(bytes)) fail(name, ": cannot decode (truncated JPEG)");
    return detail::decode_jpeg(bytes, name, max_pixels);
  }
  fail(name, ": not an image (unknown format; expected PNG or JPEG)");
}

Image decode_image(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  BIASCKA_CHECK(in.good(), path, ": cannot read (", std::strerror(errno), ")");
  const std::streamoff size = in.tellg();
  BIASCKA_CHECK(size >= 0, path, ": cannot read (not a regular file)");
  std::string bytes(static_cast<size_t>(size), '\0');
  in.seekg(0);
  in.read(bytes.data(), size);
  BIASCKA_CHECK(in.gcount() == size, path, ": cannot read (I/O error after ", in.gcount(), " of ", size,
                " bytes)");
  return decode_image_bytes(bytes, path);
}

Image resize_image(const Image& src, int width, int height) {
  BIASCKA_CHECK(width > 0 && height > 0, "resize_image: target size ", width, "x", height,
                " is not positive");
  if (src.width == width && src.height == height) return src;
  Image out;
  out.width = width;
  out.height = height;
  out.pixels.resize(static_cast<size_t>(width) * height * 3);
  const int ok =
      stbir_resize_uint8(src.pixels.data(), src.width, src.height, 0, out.pixels.data(), width, height, 0, 3);
  BIASCKA_CHECK(ok, "resize_image: stb_image_resize failed (", src.width, "x", src.height, " -> ", width, "x",
                height, ")");
  return out;
}

namespace {

const std::array<uint32_t, 256>& crc_table() {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t n = 0; n < 256; ++n) {
      uint32_t c = n;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[n] = c;
    }
    return t;
  }();
  return table;
}

uint32_t crc32_of(const std::string& s, size_t from) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = from; i < s.size(); ++i)
    c = crc_table()[(c ^ static_cast<uint8_t>(s[i])) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

void put_be32(std::string& s, uint32_t v) {
  const char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                     static_cast<char>(v)};
  s.append(b, 4);
}

void put_chunk(std::string& png, const char* type, const std::string& data) {
  put_be32(png, static_cast<uint32_t>(data.size()));
  const size_t start = png.size();
  png.append(type, 4);
  png += data;
  put_be32(png, crc32_of(png, start));
}

// The zlib stream of the filtered scanlines.
std::string zlib_stream(const std::string& raw) {
#ifdef BIASCKA_HAVE_ZLIB
  uLongf len = compressBound(static_cast<uLong>(raw.size()));
  std::string out(len, '\0');
  const int rc = compress2(reinterpret_cast<Bytef*>(out.data()), &len,
                           reinterpret_cast<const Bytef*>(raw.data()), static_cast<uLong>(raw.size()), 6);
  BIASCKA_CHECK(rc == Z_OK, "encode_png: zlib compress2 failed (code ", rc, ")");
  out.resize(len);
  return out;
#else
  // Stored (uncompressed) deflate blocks: valid PNG, just larger.
  std::string out = "\x78\x01";
  size_t pos = 0;
  do {
    const size_t n = std::min<size_t>(65535, raw.size() - pos);
    const bool last = pos + n == raw.size();
    out += static_cast<char>(last ? 1 : 0);
    out += static_cast<char>(n & 0xFF);
    out += static_cast<char>(n >> 8);
    out += static_cast<char>(~n & 0xFF);
    out += static_cast<char>((~n >> 8) & 0xFF);
    out.append(raw, pos, n);
    pos += n;
  } while (pos < raw.size());
  uint32_t a = 1, b = 0;
  for (unsigned char ch : raw) {
    a = (a + ch) % 65521;
    b = (b + a) % 65521;
  }
  put_be32(out, (b << 16) | a);
  return out;
#endif
}

}  // namespace

std::string encode_png(const Image& img) {
  BIASCKA_CHECK(
      img.width > 0 && img.height > 0 && img.pixels.size() == static_cast<size_t>(img.width) * img.height * 3,
      "encode_png: image of ", img.width, "x", img.height, " with ", img.pixels.size(), " bytes");
  // Filter "Sub" on every row: the colour of neighbouring stroke pixels is nearly constant, so the
  // differences compress better than the raw bytes.
  const size_t row = static_cast<size_t>(img.width) * 3;
  std::string raw;
  raw.resize((row + 1) * img.height);
  for (int y = 0; y < img.height; ++y) {
    char* dst = &raw[(row + 1) * y];
    const uint8_t* src = img.pixels.data() + row * y;
    dst[0] = 1;
    for (size_t i = 0; i < row; ++i) dst[1 + i] = static_cast<char>(src[i] - (i >= 3 ? src[i - 3] : 0));
  }
  std::string png = "\x89PNG\r\n\x1a\n";
  std::string ihdr;
  put_be32(ihdr, static_cast<uint32_t>(img.width));
  put_be32(ihdr, static_cast<uint32_t>(img.height));
  ihdr +=
      std::string("\x08\x02\x00\x00\x00", 5);  // 8-bit, truecolour, deflate, adaptive filters, no interlace
  put_chunk(png, "IHDR", ihdr);
  put_chunk(png, "IDAT", zlib_stream(raw));
  put_chunk(png, "IEND", "");
  return png;
}

void write_png(const std::string& path, const Image& img) {
  const std::string bytes = encode_png(img);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  BIASCKA_CHECK(out.good(), path, ": cannot write (", std::strerror(errno), ")");
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  BIASCKA_CHECK(out.good(), path, ": write failed (", std::strerror(errno), ")");
}

void sync_filesystem(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::syncfs(fd);
  ::close(fd);
}

}  // namespace biascka::data
