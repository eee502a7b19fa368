#pragma once
// BIASCKA_HD marks a function that the CPU twin and the CUDA kernel share: compiled for the host by the C++
// compiler and for both sides by nvcc, so the two devices run the same source line by line.
#ifdef __CUDACC__
#define BIASCKA_HD __host__ __device__ __forceinline__
#else
#define BIASCKA_HD inline
#endif
