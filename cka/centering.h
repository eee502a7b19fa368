#pragma once
// Centring a Gram matrix, the second per-layer step of CKA.
//   biased:   H K H with H = I - 11^T/n (Kornblith's center_gram(unbiased=False));
//   unbiased: the U-centring of Kornblith's center_gram(unbiased=True): zero the diagonal, subtract
//             row/column means taken over n-2 and re-add the grand mean over 2(n-1), zero the diagonal again,
//             so that <U(K), U(L)> / (n(n-3)) is the unbiased HSIC1 of Song et al. 2012.
// The all-pairs step multiplies centred Grams as flat rows, so they are stored packed: a centred Gram is
// symmetric, so only its strict upper triangle (row by row) is kept, followed, for the biased centring, by
// the diagonal divided by sqrt(2) (U(K)'s diagonal is zero). Then <A, B>_F = 2 <pack(A), pack(B)>, at half
// the memory and half the GEMM.
#include <cstdint>

#include "cka/estimator.h"
#include "engine/tensor.h"

namespace biascka::cka {

// Length of a packed centred Gram: n(n-1)/2, plus n for the biased centring.
int64_t packed_size(int64_t n, Estimator e);

// k: a symmetric n x n Gram (float); out: packed_size(n, e) doubles. Means are taken in float64.
void center_gram_packed(const float* k, int64_t n, Estimator e, double* out);

// The unpacked centred Gram, F64 [n, n], of an F32 or F64 [n, n] Gram (reference path for tests).
Tensor center_gram(const Tensor& k, Estimator e);

}  // namespace biascka::cka
