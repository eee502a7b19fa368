#pragma once
// The per-layer step of CKA: one batch of a layer's activations X [n, ...] (flattened per sample; any fixed
// order gives the same Gram, so channels-last maps need no permutation) -> its n x n Gram matrix K.
// The features are centred per batch first (DESIGN.md, Precision): neutral for both centrings of K, and it
// removes the large common offset of post-ReLU features before the float32 product.
#include <cstdint>
#include <vector>

#include "cka/estimator.h"
#include "engine/tensor.h"

namespace biascka::cka {

// out[i, c] = x[i, c] - mean_i x[i, c] for a row-major n x d matrix; the means are summed in float64.
void center_features(const float* x, int64_t n, int64_t d, float* out);

// k (n x n, both triangles) = xc xc^T through BLAS: ssyrk with OpenBLAS, else the engine's gemm.
// Returns the floating-point operations the product performed.
double linear_gram(const float* xc, int64_t n, int64_t d, float* k);

// Turns a linear Gram of the batch into the RBF kernel exp(-d2 / (2 T^2 median(d2))), where
// d2_ij = K_ii + K_jj - 2 K_ij and the median runs over all n^2 entries, diagonal included (np.median).
void rbf_from_linear(float* k, int64_t n, double threshold);

// One layer's kernel matrix for one batch. `x` is [n, ...] of any float dtype on any device; `k` receives
// n x n floats; `scratch` is reused between calls (it holds the centred features). Returns the GEMM flops;
// `product_s`, when given, receives the seconds spent in the product itself.
double layer_gram(const Tensor& x, const KernelSpec& kernel, float* k, std::vector<float>& scratch,
                  double* product_s = nullptr);

// The GPU Gram's operands (CPU twins of kernels/cka_gram.cu, for its parity tests). column_means: the means
// of a row-major n x d matrix's columns, summed in float64 as four interleaved partial sums (rows i % 4)
// combined as (s0 + s1) + (s2 + s3), rounded to float. centred_operands: out = x - mu in float, then rounded
// to TF32 (round_tf32) when `tf32`: exactly what the tensor cores multiply.
void column_means(const float* x, int64_t n, int64_t d, float* mu);
void centred_operands(const float* x, int64_t n, int64_t d, const float* mu, bool tf32, float* out);
// Round to nearest, ties away from zero, keeping 10 mantissa bits (the low 13 bits zero), as PTX
// cvt.rna.tf32.
float round_tf32(float v);

// Convenience for tests and small inputs: the F32 [n, n] kernel matrix of x.
Tensor gram(const Tensor& x, const KernelSpec& kernel = {});

}  // namespace biascka::cka
