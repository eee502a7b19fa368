#pragma once
// Minibatch CKA over all pairs of layers (Nguyen et al. 2021, as DESIGN.md states it):
//   CKA(a, b) = sum_i HSIC(K_i^a, K_i^b) / sqrt(sum_i HSIC(K_i^a, K_i^a) * sum_i HSIC(K_i^b, K_i^b)),
// with each batch's HSIC carrying its own 1/(n(n-3)) (or 1/(n-1)^2) so a short last batch counts right.
// Per batch: each layer's Gram is computed and centred into one packed row of G (gram.h, centering.h),
// then one product G G^T (one model) or G_a G_b^T (two models) gives every pair's HSIC (hsic.h), added to
// float64 sums. Only the batch's activations and the stacked centred Grams are held; when those Grams
// would exceed the memory budget, the layers are processed in groups (Grams recomputed per group pair),
// with the same result.
// MinibatchCka owns that schedule (which groups are built, which blocks multiplied, when a batch commits);
// the arithmetic runs on the backend of CkaOptions::device (backend.h: the CPU, or a GPU for the linear
// kernel). Full-data CKA is the same computation with the whole data as one batch.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cka/backend.h"
#include "cka/estimator.h"
#include "cka/options.h"
#include "engine/device.h"
#include "engine/tensor.h"

namespace biascka::cka {

struct CkaMatrix {
  Tensor matrix;                      // F64 [layers_a, layers_b]; NaN where undefined
  std::vector<std::string> warnings;  // one line per layer with zero variance, per skipped batch
};

class MinibatchCka {
 public:
  // `layers_b` empty: the layers of one model against themselves (square, symmetric, unit diagonal).
  // Otherwise the cross-model matrix, layers_a x layers_b. A bootstrap (CkaOptions::bootstrap) over more
  // cells than bootstrap_fits allows is turned off, with a warning in the result.
  MinibatchCka(std::vector<std::string> layers_a, std::vector<std::string> layers_b = {},
               CkaOptions opts = {});
  ~MinibatchCka();
  MinibatchCka(MinibatchCka&&) noexcept;
  MinibatchCka& operator=(MinibatchCka&&) noexcept;

  bool cross() const { return !layers_b_.empty(); }
  const std::vector<std::string>& layers_a() const { return layers_a_; }
  const std::vector<std::string>& layers_b() const { return cross() ? layers_b_ : layers_a_; }
  const CkaOptions& options() const { return opts_; }
  // Where the Grams are computed (the backend's device): activations are best left there.
  Device device() const;
  // Bytes of one layer's centred Gram on the backend for a batch of n (what CkaOptions::gram_memory counts).
  size_t gram_row_bytes(int64_t n) const;

  // One batch: a[i] is layer i's activations [n, ...]; b the second model's (cross mode only). A batch
  // smaller than the estimator's minimum (2 biased, 4 unbiased) is skipped with a warning. A batch that
  // throws (a layer with another number of samples) leaves the sums unchanged.
  void add_batch(const std::vector<Tensor>& a, const std::vector<Tensor>* b = nullptr);
  void add_batch(int64_t n, const LayerSource& a, const LayerSource* b = nullptr);

  // One model: from the next batch on, also keep each batch's packed centred Grams of layers [0, layers) on
  // the backend (copied out as the schedule builds them, whatever the layer groups; 0: keep none). After a
  // batch, kept_grams() is that batch's [layers, packed_size(n)] (backend.h, keep_rows: F64 on the CPU, F32
  // on a GPU), undefined when no batch has been committed since.
  void keep_grams(int64_t layers);
  const Tensor& kept_grams() const { return kept_ok_ ? kept_ : no_grams_; }
  // Per row r, CKA(a_r, b_r) = <a_r, b_r> / sqrt(<a_r, a_r> <b_r, b_r>) of two sets of kept Grams of the same
  // layers over the same samples (each layer against itself at two times), the dots in float64 on this
  // accumulator's backend; NaN where a row is all zero. Bitwise equal rows give exactly 1.
  std::vector<double> row_cka(const Tensor& a, const Tensor& b) const;

  int64_t batches() const { return batches_; }
  int64_t samples() const { return samples_; }
  // Sum over batches of HSIC for every pair (F64 [La, Lb]) and of each layer with itself (F64 [La], [Lb]).
  Tensor hsic_sums() const;
  Tensor self_hsic_a() const;
  Tensor self_hsic_b() const;
  // Every committed batch's values (backend.h), the self terms filled in for one model too; throws unless
  // the backend keeps them (keeps_batches(options), options.h).
  BatchHistory batch_history() const;
  // The CKA matrix. Throws naming the layer when a layer's activations were NaN or infinite.
  CkaMatrix result() const;
  // Where the time went; on a GPU the device times of the Grams and products (they overlap the forward
  // passes).
  const CkaTiming& timing() const;

 private:
  // This batch's pair (and, two models, self) values of every layer group, on the backend.
  void schedule(const BatchLayers& a, const BatchLayers* b);
  // One model in blocks (CkaOptions::blocks).
  void schedule_blocks(const BatchLayers& a, bool all_fit);

  std::vector<std::string> layers_a_, layers_b_;
  CkaOptions opts_;
  // Const queries wait for the backend's queued work (a GPU's): the backend is held by pointer.
  std::unique_ptr<CkaBackend> backend_;
  int64_t batches_ = 0, samples_ = 0;
  std::vector<std::string> skipped_;  // warnings: skipped batches, a bootstrap turned off
  int64_t keep_ = 0;                  // keep_grams
  Tensor kept_, no_grams_;
  bool kept_ok_ = false;
};

}  // namespace biascka::cka
