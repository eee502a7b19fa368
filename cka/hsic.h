#pragma once
// HSIC estimators on centred Grams, and the all-pairs step: every pair of layers' Frobenius products
// from one GEMM over the stacked, packed centred Grams (no n^3 work per pair).
#include <cstdint>

#include "cka/estimator.h"
#include "engine/tensor.h"

namespace biascka::cka {

// HSIC of two n x n Gram matrices of the same samples (F32 or F64): biased <HKH, HLH>/(n-1)^2 or
// unbiased <U(K), U(L)>/(n(n-3)). The direct O(n^2) reference for one pair.
double hsic(const Tensor& k, const Tensor& l, Estimator e);

// out[i * ldo + j] = <A_i, B_j>_F for centred Grams stored packed (centering.h) as the rows of ga
// (la x m) and gb (lb x m). When ga == gb and la == lb (one model) it is one symmetric product (syrk with
// OpenBLAS) whose two triangles are made bit-identical. Runs through BLAS; returns the flops performed.
double packed_products(const double* ga, int64_t la, const double* gb, int64_t lb, int64_t m, double* out,
                       int64_t ldo);

}  // namespace biascka::cka
