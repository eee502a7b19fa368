#pragma once
// The device half of minibatch CKA. MinibatchCka (accumulator.h) owns the schedule: which groups of layers
// are built, which blocks of pairs are multiplied, when a batch commits. A CkaBackend does the arithmetic of
// one device: the packed centred Gram rows of a group of layers (gram.h, centering.h; on a GPU
// engine/cuda/cka_gram.h), the pair products of two groups and the self terms into the batch's values
// (hsic.h; on a GPU cuBLAS), and the float64 sums over batches.
// - CPU (backend_cpu.cpp): float32 Grams centred into float64 rows, float64 BLAS products.
// - CUDA (backend_cuda.cpp, CUDA builds only): float32 rows on the device, products on the device's side
//   stream overlapping the next forward pass (CkaOptions::overlap), sums in float64 on the device.
// Both can keep a batch's rows past it and dot them row by row with rows kept earlier (keep_rows,
// row_products): the CKA of each layer with itself at another time, without keeping activations.
// make_backend is the one place that knows which devices exist.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cka/options.h"
#include "engine/device.h"
#include "engine/tensor.h"

namespace biascka::cka {

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

// Sums over the committed batches: every pair's HSIC (row-major [layers_a, layers_b]) and each layer's HSIC
// with itself (one model: self_b is self_a).
struct HsicSums {
  std::vector<double> pairs, self_a, self_b;
};

// Every committed batch's values in commit order, kept when keeps_batches(options): batch t's pair values
// are pairs[t * La * Lb ..] (row-major [La, Lb]); two models: its self terms self_a[t * La ..] and
// self_b[t * Lb ..]; one model: self_a and self_b are empty (the self terms are the diagonal of pairs).
struct BatchHistory {
  int64_t batches = 0;
  std::vector<double> pairs, self_a, self_b;
};

// One model's layers for the current batch, as the schedule hands them to a backend.
class BatchLayers {
 public:
  BatchLayers(const LayerSource& source, const std::vector<std::string>& names, int64_t samples)
      : source_(source), names_(names), samples_(samples) {}
  // Layer i's activations; throws naming the layer when it holds another number of samples than the batch.
  Tensor layer(int64_t i) const;
  const std::string& name(int64_t i) const { return names_[static_cast<size_t>(i)]; }
  int64_t samples() const { return samples_; }

 private:
  const LayerSource& source_;
  const std::vector<std::string>& names_;
  int64_t samples_;
};

// The two Gram buffers: the schedule holds at most two groups of layers at a time.
enum class GramSlot { A, B };

// Where a block of pair products lands in the batch's [layers_a, layers_b] matrix, and where its rows are.
// Layers are found in a slot by their index: slot rows [0, count) hold layers first.. of its last build.
enum class PairBlock {
  Diagonal,     // one model, layers of slot A against themselves: both triangles bit-identical
  Mirrored,     // one model, layers of slot A (rows) against later layers in slot B: also written transposed
  MirroredInA,  // one model, layers of slot A against later layers also in slot A: also written transposed
  Cross,        // model A's layers in slot A against model B's in slot B
};

class CkaBackend {
 public:
  virtual ~CkaBackend() = default;

  // Where the Grams are computed, hence where activations are best left.
  virtual Device device() const = 0;
  // Bytes of one layer's Gram row for a batch of n samples, and the bytes of rows this backend may hold at
  // once.
  virtual size_t row_bytes(int64_t n) const = 0;
  virtual size_t gram_budget() const = 0;

  // One batch of n >= min_batch samples: begin_batch clears the batch's values; reserve makes room for
  // rows_a and rows_b Gram rows in slots A and B; commit adds the batch's values to the sums (one model: the
  // self terms are the batch's diagonal). end_batch runs however the batch ended (committed or thrown) and
  // must not throw.
  virtual void begin_batch(int64_t n) = 0;
  virtual void reserve(int64_t rows_a, int64_t rows_b) = 0;
  virtual void commit() = 0;
  virtual void end_batch() noexcept = 0;

  // Rows [0, count) of `slot`: the packed centred Grams of layers first.. of `layers`.
  virtual void build(GramSlot slot, const BatchLayers& layers, int64_t first, int64_t count) = 0;
  // The batch's HSIC of layers a0 .. a0 + ca (in slot A) against layers b0 .. b0 + cb (in slot A for
  // Diagonal and MirroredInA, else in slot B); Diagonal has b0 == a0 and cb == ca.
  virtual void pair_products(int64_t a0, int64_t ca, int64_t b0, int64_t cb, PairBlock block) = 0;
  // Two models: the batch's HSIC of each of rows [0, count) of `slot` (layers first..) with itself, into
  // model A's (slot A) or model B's (slot B) self terms.
  virtual void self_products(GramSlot slot, int64_t first, int64_t count) = 0;

  // Kept Gram rows, for the CKA of a layer with itself at another time over the same samples (a training
  // run's evaluations, cka_over_training): rows [0, count) of `slot` (as built for the current batch) copied
  // into rows first.. of `kept`, a [total, packed_size(n)] tensor on this backend's device in the rows' own
  // precision (F64 on the CPU, F32 on a GPU), made here when it is undefined or of another shape. The copy
  // is finished when this returns (the tensor may be read at once, on any stream).
  virtual void keep_rows(GramSlot slot, int64_t count, int64_t first, int64_t total, Tensor& kept) = 0;
  // <a_r, b_r> in float64 for every row r of two [rows, m] tensors of kept rows (b in any float dtype, on any
  // device: converted to a's first). Waits for the result.
  virtual std::vector<double> row_products(const Tensor& a, const Tensor& b) = 0;

  // Waits for queued work; the sums over committed batches, and where the time went so far.
  virtual HsicSums sums() = 0;
  // Waits for queued work; the values of every committed batch (empty unless keeps_batches(options)).
  virtual BatchHistory history() = 0;
  virtual const CkaTiming& timing() = 0;
};

// Both arguments of row_products: defined [rows, m] tensors of the same shape; throws otherwise.
void check_kept_pair(const Tensor& a, const Tensor& b);

// The backend for `options.device` (the RBF kernel always runs on the CPU); layers_b 0: one model's layers
// against themselves. Throws a one-line error for a device this build or machine cannot use.
std::unique_ptr<CkaBackend> make_backend(const CkaOptions& options, int64_t layers_a, int64_t layers_b);

// The implementations, for make_backend.
std::unique_ptr<CkaBackend> make_cpu_backend(const CkaOptions& options, int64_t layers_a, int64_t layers_b);
std::unique_ptr<CkaBackend> make_cuda_backend(const CkaOptions& options, int64_t layers_a, int64_t layers_b);

}  // namespace biascka::cka
