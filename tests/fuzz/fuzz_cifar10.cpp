// CIFAR-10 binary batch files (data/cifar10.cpp).
#include <cstddef>
#include <cstdint>
#include <string>

#include "data/cifar10.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = biascka::fuzz::input_file(data, size, ".bin");
  biascka::fuzz::expect_parse_or_error([&] { biascka::data::read_cifar10_batch(path); });
  return 0;
}
