#pragma once
// The inline PTX of the kernels, one inline function per instruction. The CUDA build emits the instruction;
// the emulation build (tests/cuda_emu) runs a twin that does what the PTX ISA specifies, with the warp as a
// collective where the instruction is one: the 32 lanes' fragments are gathered exactly as the ISA lays
// them out, the product is computed once, and each lane gets its fragment of the result. This #if is the
// only place where kernel sources differ between the two builds.
//
// TF32 numerics: cvt.rna.tf32.f32 rounds to nearest, ties away from zero, to 10 mantissa bits (the low 13
// bits cleared; NaN and infinity kept). The tensor core reads only the top 19 bits of each TF32 operand, so
// the twin clears the low 13 bits too; products of two TF32 values are exact in float32. The twin
// accumulates them into C in float32, k = 0..7 in order, one rounding per addition. The hardware's
// accumulation order and internal precision are not documented (it may align and truncate before adding),
// so results may differ from a device in the last bits of each 8-term step: parity tests with the CPU twin
// need the tolerance of float32 accumulation, which they have (they allow for TF32 rounding, far larger).
#include <cstdint>

namespace biascka::kernels::ptx {

#ifdef BIASCKA_CUDA_EMULATION

__device__ __forceinline__ float cvt_rna_tf32(float v) { return ::cuda_emu::tf32_round(v); }

// D = A B + C for one warp: A 16x8 (row-major fragments), B 8x8 (column-major), C and D 16x8, TF32 inputs
// and float32 accumulation. Fragments, with g = lane / 4 and t = lane % 4: a0 (g, t), a1 (g+8, t),
// a2 (g, t+4), a3 (g+8, t+4); b0 (k = t, n = g), b1 (k = t+4, n = g); c0 (g, 2t), c1 (g, 2t+1),
// c2 (g+8, 2t), c3 (g+8, 2t+1).
__device__ __forceinline__ void mma_m16n8k8_tf32(float (&d)[4], const uint32_t (&a)[4],
                                                 const uint32_t (&b)[2]) {
  struct In {
    uint32_t a[4], b[2];
    float c[4];
  };
  struct Out {
    float d[4];
  };
  const In in{{a[0], a[1], a[2], a[3]}, {b[0], b[1]}, {d[0], d[1], d[2], d[3]}};
  const Out out = ::cuda_emu::warp_collective<In, Out>(
      0xffffffffu, "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32", in,
      [](const In* lanes, Out* outs, unsigned) {
        auto tf32 = [](uint32_t u) { return __uint_as_float(u & 0xffffe000u); };
        float A[16][8], B[8][8], C[16][8];
        for (int lane = 0; lane < 32; ++lane) {
          const int g = lane >> 2, t = lane & 3;
          const In& f = lanes[lane];
          A[g][t] = tf32(f.a[0]);
          A[g + 8][t] = tf32(f.a[1]);
          A[g][t + 4] = tf32(f.a[2]);
          A[g + 8][t + 4] = tf32(f.a[3]);
          B[t][g] = tf32(f.b[0]);
          B[t + 4][g] = tf32(f.b[1]);
          C[g][2 * t] = f.c[0];
          C[g][2 * t + 1] = f.c[1];
          C[g + 8][2 * t] = f.c[2];
          C[g + 8][2 * t + 1] = f.c[3];
        }
        float D[16][8];
        for (int r = 0; r < 16; ++r)
          for (int n = 0; n < 8; ++n) {
            float acc = C[r][n];
            for (int k = 0; k < 8; ++k) acc += A[r][k] * B[k][n];  // exact products, float32 sums
            D[r][n] = acc;
          }
        for (int lane = 0; lane < 32; ++lane) {
          const int g = lane >> 2, t = lane & 3;
          outs[lane] = Out{{D[g][2 * t], D[g][2 * t + 1], D[g + 8][2 * t], D[g + 8][2 * t + 1]}};
        }
      });
  for (int i = 0; i < 4; ++i) d[i] = out.d[i];
}

#else

__device__ __forceinline__ float cvt_rna_tf32(float v) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  uint32_t r;
  asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(v));
  return __uint_as_float(r & 0xffffe000u);
#else
  __trap();  // TF32 needs sm_80+; the host never launches the TF32 variants elsewhere
  return v;
#endif
}

__device__ __forceinline__ void mma_m16n8k8_tf32(float (&d)[4], const uint32_t (&a)[4],
                                                 const uint32_t (&b)[2]) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile(
      "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#else
  __trap();
#endif
}

#endif

}  // namespace biascka::kernels::ptx
