// Hendrycks' JPEG corruption saves with PIL (libjpeg, IJG quality scaling, 4:2:0 chroma) and reads the
// file back. stb_image_write's encoder uses the same standard tables, quality scaling and (for quality
// <= 90) 4:2:0 subsampling; stb_image decodes. Both implementations are compiled static into this file
// only, so they cannot clash with data/image_io.cpp's or plot/canvas.cpp's copies.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "data/corruption_ops.h"
#include "engine/error.h"

#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_JPEG
#include <stb_image.h>

namespace biascka::data::corruption {

std::vector<uint8_t> jpeg_round_trip(const uint8_t* rgb, int w, int h, int quality) {
  std::string encoded;
  const auto append = [](void* ctx, void* data, int size) {
    static_cast<std::string*>(ctx)->append(static_cast<const char*>(data), size);
  };
  BIASCKA_CHECK(stbi_write_jpg_to_func(append, &encoded, w, h, 3, rgb, quality) != 0,
                "jpeg corruption: encoding a ", w, "x", h, " image failed");
  int dw = 0, dh = 0, channels = 0;
  unsigned char* decoded = stbi_load_from_memory(reinterpret_cast<const stbi_uc*>(encoded.data()),
                                                 static_cast<int>(encoded.size()), &dw, &dh, &channels, 3);
  BIASCKA_CHECK(decoded != nullptr && dw == w && dh == h, "jpeg corruption: decoding failed (",
                decoded ? "size changed" : stbi_failure_reason(), ")");
  std::vector<uint8_t> out(decoded, decoded + size_t(w) * h * 3);
  stbi_image_free(decoded);
  return out;
}

}  // namespace biascka::data::corruption
