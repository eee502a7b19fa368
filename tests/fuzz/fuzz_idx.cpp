// IDX files as they are on disk (data/idx.cpp): plain, or gzip streams when the bytes start with gzip's
// magic (corrupt, truncated or concatenated ones included).
#include <cstddef>
#include <cstdint>
#include <string>

#include "data/idx.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = biascka::fuzz::input_file(data, size, "-idx");
  biascka::fuzz::expect_parse_or_error([&] { biascka::data::read_idx(path); });
  return 0;
}
