#pragma once
// Which HSIC estimator and which kernel a CKA computation uses, and the per-batch constants they imply.
#include <cstdint>
#include <string>

namespace biascka::cka {

// Biased HSIC0 = <HKH, HLH> / (n-1)^2 (Kornblith et al. 2019); unbiased HSIC1 = <U(K), U(L)> / (n(n-3))
// (Song et al. 2012, as Nguyen et al. 2021's minibatch CKA uses it).
enum class Estimator { Biased, Unbiased };
Estimator parse_estimator(const std::string& s);  // "biased" | "unbiased"; throws listing both
const char* estimator_name(Estimator e);

// Linear: K = X X^T. RBF: K = exp(-d^2 / (2 T^2 median(d^2))) with the median over all n^2 squared distances
// of the batch, diagonal included (Kornblith's gram_rbf), T = rbf_threshold.
enum class Kernel { Linear, Rbf };
Kernel parse_kernel(const std::string& s);  // "linear" | "rbf"
const char* kernel_name(Kernel k);

struct KernelSpec {
  Kernel kind = Kernel::Linear;
  double rbf_threshold = 1.0;
};

// Smallest batch an estimator is defined on (biased: 2, unbiased: 4).
int64_t min_batch(Estimator e);
// The estimator's normalisation of the Frobenius product of two centred Grams: 1/(n-1)^2 or 1/(n(n-3)).
double hsic_scale(int64_t n, Estimator e);

}  // namespace biascka::cka
