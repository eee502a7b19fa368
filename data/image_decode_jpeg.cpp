// JPEG decoding with libjpeg(-turbo): its default IDCT (ISLOW) and fancy upsampling, the settings PIL uses.
// Grey, YCbCr and RGB files come out as RGB; Adobe CMYK/YCCK files are converted the way stb_image did
// (R = C * K / 255 on the inverted values Adobe writes).
//
// libjpeg's default error handler calls exit(); ours keeps the message and longjmps back to decode_jpeg
// (the documented way out; the frames skipped are libjpeg's C frames and these callbacks, which own
// nothing). Warnings are corrupt data that libjpeg would patch over (a premature end, bad Huffman codes,
// extraneous bytes): they are errors here, as a file we train on must decode to what its writer stored.
#include <cstddef>  // jpeglib.h uses size_t and FILE without including their headers
#include <cstdio>

#include <jerror.h>
#include <jpeglib.h>

#include <csetjmp>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "data/image_decode.h"
#include "engine/error.h"

namespace biascka::data::detail {
namespace {

// Real progressive files have about ten scans; thousands make libjpeg spend minutes on a small file.
constexpr int kMaxScans = 500;

struct JpegErrors {
  jpeg_error_mgr mgr;  // first member: libjpeg hands back &mgr, cast to the whole struct
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX + 32];
};

[[noreturn]] void jump_with(j_common_ptr cinfo, const char* prefix) {
  auto* e = reinterpret_cast<JpegErrors*>(cinfo->err);
  char text[JMSG_LENGTH_MAX];
  (*cinfo->err->format_message)(cinfo, text);
  std::snprintf(e->message, sizeof e->message, "%s%s", prefix, text);
  std::longjmp(e->jump, 1);
}

void on_error(j_common_ptr cinfo) { jump_with(cinfo, ""); }

void on_message(j_common_ptr cinfo, int level) {
  if (level >= 0) return;  // trace messages
  if (cinfo->err->msg_code == JWRN_JPEG_EOF) {
    auto* e = reinterpret_cast<JpegErrors*>(cinfo->err);
    std::snprintf(e->message, sizeof e->message, "truncated JPEG");
    std::longjmp(e->jump, 1);
  }
  jump_with(cinfo, "corrupt JPEG: ");
}

void on_progress(j_common_ptr cinfo) {
  if (reinterpret_cast<j_decompress_ptr>(cinfo)->input_scan_number <= kMaxScans) return;
  auto* e = reinterpret_cast<JpegErrors*>(cinfo->err);
  std::snprintf(e->message, sizeof e->message, "more than %d scans", kMaxScans);
  std::longjmp(e->jump, 1);
}

struct Decompressor {
  jpeg_decompress_struct cinfo;
  Decompressor() {
    std::memset(&cinfo, 0, sizeof cinfo);
  }  // jpeg_destroy of a never-created struct is a no-op
  ~Decompressor() { jpeg_destroy_decompress(&cinfo); }
};

// stb_image's 8-bit product x * y / 255, rounded.
uint8_t times(uint8_t x, uint8_t y) {
  const unsigned t = unsigned{x} * y + 128;
  return static_cast<uint8_t>((t + (t >> 8)) >> 8);
}

}  // namespace

Image decode_jpeg(const std::string& bytes, const std::string& name, int64_t max_pixels) {
  // Everything with a destructor lives before setjmp, in this frame, which longjmp returns to.
  JpegErrors errors;
  jpeg_progress_mgr progress{};
  Decompressor d;
  Image img;
  std::vector<uint8_t> cmyk_row;
  jpeg_decompress_struct& cinfo = d.cinfo;
  cinfo.err = jpeg_std_error(&errors.mgr);
  errors.mgr.error_exit = on_error;
  errors.mgr.emit_message = on_message;
  if (setjmp(errors.jump)) fail(name, ": cannot decode (", errors.message, ")");
  jpeg_create_decompress(&cinfo);
  // Whole-image buffers (progressive files) beyond what max_pixels needs are an error, not a swap file.
  cinfo.mem->max_memory_to_use = static_cast<long>(max_pixels) * 8 + (16L << 20);
  progress.progress_monitor = on_progress;
  cinfo.progress = &progress;
  jpeg_mem_src(&cinfo, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  jpeg_read_header(&cinfo, TRUE);
  check_dimensions("JPEG", cinfo.image_width, cinfo.image_height, max_pixels, name);
  const bool cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
  cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
  jpeg_start_decompress(&cinfo);
  const int components = cmyk ? 4 : 3;
  BIASCKA_CHECK(cinfo.output_components == components, name, ": cannot decode (libjpeg gave ",
                cinfo.output_components, " components, expected ", components, ")");
  const size_t width = cinfo.output_width, stride = width * 3;
  img.width = static_cast<int>(cinfo.output_width);
  img.height = static_cast<int>(cinfo.output_height);
  cmyk_row.resize(cmyk ? width * 4 : 0);
  // The pixels grow with the rows decoded (geometrically, as vectors do), so a header that promises more
  // rows than the data holds costs no more memory than the rows that were there.
  while (cinfo.output_scanline < cinfo.output_height) {
    const size_t y = cinfo.output_scanline;
    img.pixels.resize((y + 1) * stride);
    JSAMPROW row = cmyk ? cmyk_row.data() : img.pixels.data() + y * stride;
    jpeg_read_scanlines(&cinfo, &row, 1);
    if (cmyk) {
      uint8_t* out = img.pixels.data() + y * stride;
      for (size_t x = 0; x < width; ++x)
        for (int c = 0; c < 3; ++c) out[x * 3 + c] = times(cmyk_row[x * 4 + c], cmyk_row[x * 4 + 3]);
    }
  }
  jpeg_finish_decompress(&cinfo);
  return img;
}

}  // namespace biascka::data::detail
