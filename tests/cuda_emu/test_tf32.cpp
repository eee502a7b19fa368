// tf32_round against the definition of cvt.rna.tf32.f32: nearest TF32 value (10 mantissa bits), ties away
// from zero, NaN/inf unchanged.
#include "tests/cuda_emu/tf32.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

namespace {

using cuda_emu::tf32_round;

float bits(uint32_t b) { return std::bit_cast<float>(b); }

TEST(Tf32Round, KeepsValuesThatAreAlreadyTf32) {
  for (float v : {0.f, -0.f, 1.f, -1.5f, 3.25f, 1.f + 0x1p-10f, 0x1p-126f, 65504.f})
    EXPECT_EQ(tf32_round(v), v) << v;
  EXPECT_TRUE(std::signbit(tf32_round(-0.f)));
}

TEST(Tf32Round, RoundsToNearest) {
  EXPECT_EQ(tf32_round(1.f + 0x1p-11f - 0x1p-23f), 1.f);  // just below half a TF32 ulp
  EXPECT_EQ(tf32_round(1.f + 0x1p-11f + 0x1p-23f), 1.f + 0x1p-10f);
  EXPECT_EQ(tf32_round(1.f + 0x1p-12f), 1.f);
  EXPECT_EQ(tf32_round(-(1.f + 0x1p-12f)), -1.f);
}

// 1 + 2^-11 is halfway between 1 (even mantissa) and 1 + 2^-10: ties-to-even would give 1, cvt.rna gives
// the value away from zero.
TEST(Tf32Round, TiesGoAwayFromZero) {
  EXPECT_EQ(tf32_round(1.f + 0x1p-11f), 1.f + 0x1p-10f);
  EXPECT_EQ(tf32_round(-(1.f + 0x1p-11f)), -(1.f + 0x1p-10f));
  EXPECT_EQ(tf32_round(bits(0x00001000u)), bits(0x00002000u));  // a subnormal tie
  EXPECT_EQ(tf32_round(bits(0x00000fffu)), 0.f);
}

TEST(Tf32Round, CarriesIntoTheExponentAndOverflowsToInfinity) {
  EXPECT_EQ(tf32_round(bits(0x3fffffffu)), 2.f);  // 2 - 2^-23
  EXPECT_EQ(tf32_round(std::numeric_limits<float>::max()), std::numeric_limits<float>::infinity());
  EXPECT_EQ(tf32_round(-std::numeric_limits<float>::max()), -std::numeric_limits<float>::infinity());
}

TEST(Tf32Round, LeavesNanAndInfinity) {
  EXPECT_TRUE(std::isnan(tf32_round(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_TRUE(std::isnan(tf32_round(bits(0x7f800001u))));  // a NaN whose payload sits in the dropped bits
  EXPECT_EQ(tf32_round(std::numeric_limits<float>::infinity()), std::numeric_limits<float>::infinity());
}

// Random values: 13 low bits cleared, the nearer of the two TF32 neighbours chosen.
TEST(Tf32Round, RandomValuesGoToTheNearerNeighbour) {
  std::mt19937 gen(7);
  std::uniform_real_distribution<float> u(-1e3f, 1e3f);
  for (int i = 0; i < 10000; ++i) {
    const float x = u(gen);
    const float r = tf32_round(x);
    ASSERT_EQ(std::bit_cast<uint32_t>(r) & 0x1fffu, 0u) << x;
    const float down = bits(std::bit_cast<uint32_t>(x) & 0xffffe000u);  // toward zero
    const float up = bits((std::bit_cast<uint32_t>(x) & 0xffffe000u) + 0x2000u);
    const double dd = std::abs(double{x} - down), du = std::abs(double{up} - x);
    ASSERT_EQ(r, dd < du ? down : up) << x;
  }
}

}  // namespace
