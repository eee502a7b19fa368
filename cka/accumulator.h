#pragma once
// Minibatch CKA over all pairs of layers (Nguyen et al. 2021, as DESIGN.md states it):
//   CKA(a, b) = sum_i HSIC(K_i^a, K_i^b) / sqrt(sum_i HSIC(K_i^a, K_i^a) * sum_i HSIC(K_i^b, K_i^b)),
// with each batch's HSIC carrying its own 1/(n(n-3)) (or 1/(n-1)^2) so a short last batch counts right.
// Per batch: each layer's Gram is computed and centred into one packed row of G (gram.h, centering.h),
// then one GEMM G G^T (one model) or G_a G_b^T (two models) gives every pair's HSIC (hsic.h), added to
// float64 sums. Only the batch's activations and the stacked centred Grams are held; when those Grams
// would exceed the memory budget, the layers are processed in groups (Grams recomputed per group pair),
// with the same result.
// Full-data CKA is the same computation with the whole data as one batch.
// On a GPU (CkaOptions::device, linear kernel) the same steps run on the device: minibatch_cuda.h.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cka/estimator.h"
#include "engine/tensor.h"

namespace biascka::cka {

struct CkaOptions {
  Estimator estimator = Estimator::Unbiased;
  KernelSpec kernel;
  size_t gram_memory = size_t{1} << 30;  // bytes of centred Grams held at once (all layers when they fit)
  // Where the Grams and HSIC products run: the CPU, or a GPU for the linear kernel (the RBF kernel's median
  // runs on the CPU, activations copied there). On a GPU the centred Grams are float32 rows and the sums
  // float64; see minibatch_cuda.h.
  Device device = Device::cpu();
  bool tf32 = true;  // GPU: TF32 tensor cores for the Grams and the pair products; false: exact FP32
  // GPU: add_batch returns once the batch is queued, so the next forward pass overlaps it. The accumulator
  // keeps the batch's tensors alive until they are read; the caller must not write into them in the meantime.
  bool overlap = true;
};

class CudaCka;

// Layer i's activations for the current batch, [n, ...] of any float dtype on any device. Called when the
// accumulator needs that layer (more than once per batch when the layers are processed in groups).
using LayerSource = std::function<Tensor(size_t layer)>;

// Where a computation spent its time, for benchmarks.
struct CkaTiming {
  double gram_s = 0;      // features centred, Grams, kernel, Gram centring
  double product_s = 0;   // of which the Gram products X X^T alone (BLAS)
  double hsic_s = 0;      // the all-pairs products and accumulation
  double gram_flops = 0;  // flops of the Gram products (syrk counts n(n+1)d, gemm 2n^2 d)
  double hsic_flops = 0;
};

struct CkaMatrix {
  Tensor matrix;                      // F64 [layers_a, layers_b]; NaN where undefined
  std::vector<std::string> warnings;  // one line per layer with zero variance, per skipped batch
};

class MinibatchCka {
 public:
  // `layers_b` empty: the layers of one model against themselves (square, symmetric, unit diagonal).
  // Otherwise the cross-model matrix, layers_a x layers_b.
  MinibatchCka(std::vector<std::string> layers_a, std::vector<std::string> layers_b = {},
               CkaOptions opts = {});
  ~MinibatchCka();
  MinibatchCka(MinibatchCka&&) noexcept;
  MinibatchCka& operator=(MinibatchCka&&) noexcept;

  bool cross() const { return !layers_b_.empty(); }
  const std::vector<std::string>& layers_a() const { return layers_a_; }
  const std::vector<std::string>& layers_b() const { return cross() ? layers_b_ : layers_a_; }
  const CkaOptions& options() const { return opts_; }
  bool on_gpu() const { return gpu_ != nullptr; }

  // One batch: a[i] is layer i's activations [n, ...]; b the second model's (cross mode only). A batch
  // smaller than the estimator's minimum (2 biased, 4 unbiased) is skipped with a warning. A batch that
  // throws (a layer with another number of samples) leaves the sums unchanged.
  void add_batch(const std::vector<Tensor>& a, const std::vector<Tensor>* b = nullptr);
  void add_batch(int64_t n, const LayerSource& a, const LayerSource* b = nullptr);

  int64_t batches() const { return batches_; }
  int64_t samples() const { return samples_; }
  // Sum over batches of HSIC for every pair (F64 [La, Lb]) and of each layer with itself (F64 [La], [Lb]).
  Tensor hsic_sums() const;
  Tensor self_hsic_a() const;
  Tensor self_hsic_b() const;
  // The CKA matrix. Throws naming the layer when a layer's activations were NaN or infinite.
  CkaMatrix result() const;
  // GPU: the device times of the Grams and products (they overlap the forward passes).
  const CkaTiming& timing() const;

 private:
  // Packed centred Grams of layers [first, first + count) of `src` into rows of g.
  void build(const LayerSource& src, const std::vector<std::string>& names, int64_t first, int64_t count,
             int64_t n, std::vector<double>& g);
  // This batch's HSIC of layers a0.. against b0.. (gb null: the diagonal block of one model) into batch_sum_.
  void pair_products(const std::vector<double>& ga, int64_t a0, int64_t ca, const std::vector<double>* gb,
                     int64_t b0, int64_t cb, double scale);
  // This batch's HSIC of layers first.. with themselves into `self`.
  void self_products(const std::vector<double>& g, int64_t first, int64_t count, double scale,
                     std::vector<double>& self);

  // GPU: the device sums copied into sum_, self_a_, self_b_ and timing_ (a host mirror, hence mutable).
  void sync() const;

  std::vector<std::string> layers_a_, layers_b_;
  CkaOptions opts_;
  mutable std::vector<double> sum_, self_a_, self_b_;
  int64_t batches_ = 0, samples_ = 0;
  std::vector<std::string> skipped_;
  mutable CkaTiming timing_;
  std::unique_ptr<CudaCka> gpu_;
  // Reused between batches.
  std::vector<float> k_, scratch_;
  std::vector<double> ga_, gb_, prod_, batch_sum_, batch_self_a_, batch_self_b_;
  int64_t m_ = 0;
};

}  // namespace biascka::cka
