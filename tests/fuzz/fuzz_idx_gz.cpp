// IDX files inside valid gzip streams (data/idx.cpp's gzip path): the input is the decompressed content,
// compressed here, so the fuzzer explores IDX headers and bodies behind zlib rather than zlib's framing
// (fuzz_idx covers corrupt streams).
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "data/idx.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = biascka::fuzz::scratch_path("-idx.gz");
  gzFile gz = gzopen(path.c_str(), "wb1");
  if (gz == nullptr) __builtin_trap();
  if (size && gzwrite(gz, data, static_cast<unsigned>(size)) != static_cast<int>(size)) __builtin_trap();
  if (gzclose(gz) != Z_OK) __builtin_trap();
  biascka::fuzz::expect_parse_or_error([&] { biascka::data::read_idx(path); });
  return 0;
}
