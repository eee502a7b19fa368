#pragma once
// Every option of a CKA computation, in one place: which HSIC estimator, which kernel, how much memory the
// centred Grams may take, and where they are computed (the device picks the backend, backend.h).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/device.h"

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

struct CkaOptions {
  Estimator estimator = Estimator::Unbiased;
  KernelSpec kernel;
  size_t gram_memory = size_t{1} << 30;  // bytes of centred Grams held at once (all layers when they fit)
  // Where the Grams and HSIC products run: the CPU, or a GPU for the linear kernel (the RBF kernel's median
  // runs on the CPU, activations copied there). On a GPU the centred Grams are float32 rows and the sums
  // float64; see backend_cuda.cpp. The Grams use TF32 tensor cores or exact FP32 as the device's math mode
  // says (engine/device.h's set_math_mode: one setting for cuDNN, cuBLAS and CKA).
  Device device = Device::cpu();
  // GPU: add_batch returns once the batch is queued, so the next forward pass overlaps it. The accumulator
  // keeps the batch's tensors alive until they are read; the caller must not write into them in the meantime.
  bool overlap = true;
  // Bootstrap intervals (bootstrap.h): with bootstrap > 0 the backend also keeps every committed batch's
  // pair and self values, and make_report resamples the batches that many times from bootstrap_seed.
  int64_t bootstrap = 0;
  uint64_t bootstrap_seed = 0;
  // Keep every committed batch's values without a bootstrap of the whole matrix: `compare` bootstraps blocks
  // of its stacked matrix (each model's own layers) from them.
  bool keep_batches = false;
  // One model only: the layers are consecutive blocks of these sizes (summing to the layers; empty: one
  // block), and each block's pairs with itself come from one symmetric product of exactly its rows, so a
  // block's values are bit for bit those of its layers computed alone (`compare`: a block is one model's
  // layers and its probes). Layer groups then hold whole blocks (at least one, whatever gram_memory says).
  std::vector<int64_t> blocks;
};

// Whether the backend keeps every committed batch's values (a bootstrap, or keep_batches).
inline bool keeps_batches(const CkaOptions& o) { return o.bootstrap > 0 || o.keep_batches; }

}  // namespace biascka::cka
