// .npy headers and bodies (engine/io/npy.cpp).
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/io/npy.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  biascka::fuzz::expect_parse_or_error(
      [&] { biascka::parse_npy(std::string(reinterpret_cast<const char*>(data), size), "fuzz.npy"); });
  return 0;
}
