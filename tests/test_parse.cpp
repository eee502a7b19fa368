// engine/parse.h and engine/checked_size.h: numbers from untrusted text and sizes from untrusted headers give
// one-line errors naming their source, never a bare "stoll" or a wrapped size.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "engine/checked_size.h"
#include "engine/device.h"
#include "engine/error.h"
#include "engine/parse.h"
#include "tests/support/test_support.h"

namespace biascka {
namespace {

using test::error_of;

TEST(Parse, IntegersAreWholeAndInRange) {
  EXPECT_EQ(parse_int64("-9223372036854775808", "x"), INT64_MIN);
  EXPECT_EQ(parse_uint64("18446744073709551615", "x"), UINT64_MAX);
  EXPECT_EQ(parse_int("007", "x"), 7);
  EXPECT_EQ(
      error_of([] { parse_int64("99999999999999999999", "a.npy: shape"); }),
      "a.npy: shape: '99999999999999999999' is out of range (-9223372036854775808 to 9223372036854775807)");
  EXPECT_EQ(error_of([] { parse_int("3000000000", "--gpus"); }),
            "--gpus: '3000000000' is out of range (-2147483648 to 2147483647)");
  for (const char* bad : {"", " 1", "1 ", "+1", "1x", "0x10", "1.0", "-"})
    EXPECT_EQ(error_of([&] { parse_int64(bad, "f"); }), std::string("f: '") + bad + "' is not an integer");
  EXPECT_EQ(error_of([] { parse_uint64("-1", "seed"); }),
            "seed: '-1' is negative (expected an integer of 0 or more)");
  // A hostile header's text is cut in the message.
  EXPECT_EQ(error_of([] { parse_int64(std::string(1000, 'z'), "f"); }).size(),
            std::string("f: '").size() + 40 + 4 + 18);
  EXPECT_EQ(try_parse_int64("12"), 12);
  EXPECT_FALSE(try_parse_int64("12a").has_value());
}

TEST(CheckedSize, ProductsThatOverflowAreErrors) {
  EXPECT_EQ(checked_numel(std::vector<int64_t>{}, "f"), 1);
  EXPECT_EQ(checked_nbytes(std::vector<int64_t>{2, 3, 4}, 8, "f"), 192);
  EXPECT_EQ(checked_numel(std::vector<int64_t>{0, 5}, "f"), 0);
  EXPECT_EQ(error_of([] {
              checked_numel(std::vector<int64_t>{int64_t{1} << 62, 4}, "big.npy");
            }),
            "big.npy: shape [4611686018427387904, 4] is too large (its size overflows 64 bits)");
  // int64 holds the element count but not the bytes.
  EXPECT_NE(error_of([] { checked_nbytes(std::vector<int64_t>{int64_t{1} << 61}, 4, "f"); }), "");
  EXPECT_EQ(error_of([] {
              checked_numel(std::vector<int64_t>{2, -3}, "f");
            }),
            "f: negative dimension -3 in shape [2, -3]");
  EXPECT_EQ(checked_mul(uint64_t{1} << 32, uint64_t{1} << 31, "f"), uint64_t{1} << 63);
  EXPECT_NE(error_of([] { checked_mul(uint64_t{1} << 32, uint64_t{1} << 32, "f"); }), "");
  EXPECT_NE(error_of([] { checked_add(UINT64_MAX, 1, "f"); }), "");
}

// Issue 11: --device cuda:99999999999 ended in a bare "stoi".
TEST(Parse, DeviceIndexBeyondIntNamesTheDevice) {
  const std::string msg = error_of([] { Device::parse("cuda:99999999999"); });
  EXPECT_NE(msg.find("device 'cuda:99999999999'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("out of range"), std::string::npos) << msg;
}

}  // namespace
}  // namespace biascka
