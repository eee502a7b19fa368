// safetensors files (engine/io/safetensors.cpp): the header, then every tensor loaded.
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/io/safetensors.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = biascka::fuzz::input_file(data, size, ".safetensors");
  biascka::fuzz::expect_parse_or_error([&] { biascka::read_safetensors(path); });
  return 0;
}
