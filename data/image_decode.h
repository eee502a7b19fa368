#pragma once
// The PNG and JPEG decoders behind data::decode_image_bytes (image_io.h): libpng and libjpeg-turbo, which
// are hardened against hostile files; stb_image, which says it is not, decodes nothing here. Both give 8-bit
// RGB, HWC, and throw biascka::Error "<name>: cannot decode (<reason>)" on anything they reject. The
// header's width x height is checked (overflow, at most `max_pixels`) before any pixel is allocated.
#include <cstdint>
#include <string>

#include "data/image_io.h"

namespace biascka::data::detail {

Image decode_png(const std::string& bytes, const std::string& name, int64_t max_pixels);
Image decode_jpeg(const std::string& bytes, const std::string& name, int64_t max_pixels);

// Throws "<name>: cannot decode (<format> of WxH: over the limit of N pixels)" unless 0 < w, h and
// w * h <= max_pixels.
void check_dimensions(const char* format, uint64_t width, uint64_t height, int64_t max_pixels,
                      const std::string& name);

}  // namespace biascka::data::detail
