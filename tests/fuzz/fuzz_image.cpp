// PNG and JPEG decoding (data/image_io.cpp, data/image_decode_*.cpp). The pixel limit is lowered to 2^22
// (12 MiB of RGB) so that valid huge-but-flat images, which the decoders rightly accept, stay within the
// fuzzer's memory and time limits; the limit check itself is the same code at any value.
#include <cstddef>
#include <cstdint>
#include <string>

#include "data/image_io.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  biascka::fuzz::expect_parse_or_error([&] {
    biascka::data::decode_image_bytes(std::string(reinterpret_cast<const char*>(data), size), "fuzz.img",
                                      int64_t{1} << 22);
  });
  return 0;
}
