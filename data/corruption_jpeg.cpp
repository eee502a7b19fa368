// Hendrycks' JPEG corruption saves with PIL (libjpeg, IJG quality scaling, 4:2:0 chroma) and reads the
// file back. stb_image_write's encoder uses the same standard tables, quality scaling and (for quality
// <= 90) 4:2:0 subsampling; the file is read back by libjpeg (data/image_decode_jpeg.cpp: ISLOW IDCT and
// fancy upsampling, PIL's decoder settings). stb_image_write is compiled static into this file only, so it
// cannot clash with plot/canvas.cpp's copy.
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "data/corruption_ops.h"
#include "data/image_io.h"
#include "engine/error.h"

#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>

namespace biascka::data::corruption {

std::vector<uint8_t> jpeg_round_trip(const uint8_t* rgb, int w, int h, int quality) {
  std::string encoded;
  const auto append = [](void* ctx, void* data, int size) {
    static_cast<std::string*>(ctx)->append(static_cast<const char*>(data), size);
  };
  BIASCKA_CHECK(stbi_write_jpg_to_func(append, &encoded, w, h, 3, rgb, quality) != 0,
                "jpeg corruption: encoding a ", w, "x", h, " image failed");
  data::Image decoded = decode_image_bytes(encoded, "jpeg corruption");
  BIASCKA_CHECK(decoded.width == w && decoded.height == h, "jpeg corruption: decoding gave ", decoded.width,
                "x", decoded.height, " for a ", w, "x", h, " image");
  return std::move(decoded.pixels);
}

}  // namespace biascka::data::corruption
