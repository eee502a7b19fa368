#pragma once
// TF32 rounding as the tensor cores see their float32 inputs: what PTX's cvt.rna.tf32.f32 does (round to
// nearest, ties away from zero, to 10 explicit mantissa bits; the result is still a float32 whose low 13
// mantissa bits are zero). Test infrastructure: used by the emulated cuBLAS/cuDNN doubles for the TF32
// compute/math types and by the emulated kernels' twin of that PTX instruction.
//
// Why ties away from zero is "add half an ulp of TF32 to the magnitude, then truncate": float32 is
// sign-magnitude, so adding 0x1000 (half of the 0x2000 TF32 ulp at any exponent) to the bit pattern rounds
// the magnitude half-up, and a mantissa carry moves into the exponent exactly as the rounding should
// (the largest finite floats round to infinity). NaN and infinity pass through unchanged.
#include <bit>
#include <cstdint>

namespace cuda_emu {

constexpr float tf32_round(float x) {
  const uint32_t bits = std::bit_cast<uint32_t>(x);
  if ((bits & 0x7f800000u) == 0x7f800000u) return x;  // NaN, +-inf
  return std::bit_cast<float>((bits + 0x1000u) & 0xffffe000u);
}

}  // namespace cuda_emu
