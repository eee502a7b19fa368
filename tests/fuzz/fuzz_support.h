#pragma once
// What the fuzz targets share. Each target (fuzz_<parser>.cpp) defines LLVMFuzzerTestOneInput, feeds the
// bytes to one parser and lets only biascka::Error (the parser's rejection) pass: any other exception,
// crash or sanitizer report is a finding. The same sources build two ways (tests/fuzz/CMakeLists.txt):
// libFuzzer binaries in the clang build (scripts/fuzz), and replay programs in the normal build that run
// every corpus and regression file once as a CTest test (replay_main.cpp).
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "engine/error.h"

namespace biascka::fuzz {

// The file of this process for readers that take a path (they seek or gunzip); removed at exit. One per
// process: the suffix of the first call names it (each target uses one).
inline std::string scratch_path(const std::string& suffix) {
  struct Scratch {
    std::string path;
    ~Scratch() { std::remove(path.c_str()); }
  };
  // Memory-backed /dev/shm where there is one: thousands of writes a second stay off the disk.
  static Scratch scratch{(::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp") +
                         std::string("/biascka-fuzz-") + std::to_string(::getpid()) + suffix};
  return scratch.path;
}

// Writes the input to scratch_path(suffix), rewritten on every input, and returns the path.
inline std::string input_file(const uint8_t* data, size_t size, const std::string& suffix) {
  const std::string path = scratch_path(suffix);
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) __builtin_trap();  // the harness itself failed: not a parser finding, but loud
  if (size && std::fwrite(data, 1, size, f) != size) __builtin_trap();
  std::fclose(f);
  return path;
}

// Runs the parser; a biascka::Error is the expected rejection of a bad input.
template <class F>
void expect_parse_or_error(F&& parse) {
  try {
    parse();
  } catch (const Error&) {
  }
}

}  // namespace biascka::fuzz
