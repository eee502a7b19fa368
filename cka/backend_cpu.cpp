// The CPU backend of minibatch CKA: per layer a float32 Gram (gram.h: centred features, BLAS product or the
// RBF kernel) centred into a packed float64 row (centering.h); the pair products of two groups of rows as one
// float64 BLAS product (hsic.h; one model's diagonal block one symmetric product), scaled by the batch's
// 1/(n(n-3)) or 1/(n-1)^2; the self terms as float64 row dots; float64 sums. Kept rows: float64 [rows, m]
// tensors, dotted row by row in float64 (sequential sums).
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "cka/backend.h"
#include "cka/centering.h"
#include "cka/estimator.h"
#include "cka/gram.h"
#include "cka/hsic.h"
#include "engine/error.h"

namespace biascka::cka {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

class CpuBackend final : public CkaBackend {
 public:
  CpuBackend(const CkaOptions& options, int64_t layers_a, int64_t layers_b)
      : o_(options), cross_(layers_b > 0), la_(layers_a), lb_(cross_ ? layers_b : layers_a) {
    sums_.pairs.assign(static_cast<size_t>(la_ * lb_), 0.0);
    sums_.self_a.assign(static_cast<size_t>(la_), 0.0);
    sums_.self_b.assign(static_cast<size_t>(lb_), 0.0);
  }

  Device device() const override { return Device::cpu(); }
  size_t row_bytes(int64_t n) const override {
    return static_cast<size_t>(packed_size(n, o_.estimator)) * sizeof(double);
  }
  size_t gram_budget() const override { return o_.gram_memory; }

  void begin_batch(int64_t n) override {
    scale_ = hsic_scale(n, o_.estimator);
    m_ = packed_size(n, o_.estimator);
    // This batch's values are collected first and added at commit, so a batch that fails half-way (a layer
    // with the wrong number of samples) leaves the sums as they were.
    batch_.pairs.assign(sums_.pairs.size(), 0.0);
    batch_.self_a.assign(sums_.self_a.size(), 0.0);
    batch_.self_b.assign(sums_.self_b.size(), 0.0);
  }
  void reserve(int64_t, int64_t) override {}  // rows grow in build

  void commit() override {
    if (!cross_)
      for (int64_t i = 0; i < la_; ++i)
        batch_.self_a[static_cast<size_t>(i)] = batch_.pairs[static_cast<size_t>(i * la_ + i)];
    for (size_t i = 0; i < sums_.pairs.size(); ++i) sums_.pairs[i] += batch_.pairs[i];
    for (size_t i = 0; i < sums_.self_a.size(); ++i) sums_.self_a[i] += batch_.self_a[i];
    for (size_t i = 0; i < sums_.self_b.size(); ++i) sums_.self_b[i] += batch_.self_b[i];
    if (keeps_batches(o_)) keep(batch_);
  }
  void end_batch() noexcept override {}

  void build(GramSlot slot, const BatchLayers& layers, int64_t first, int64_t count) override {
    const auto t0 = std::chrono::steady_clock::now();
    const int64_t n = layers.samples();
    std::vector<double>& g = rows(slot);
    g.resize(static_cast<size_t>(count * m_));
    k_.resize(static_cast<size_t>(n * n));
    for (int64_t r = 0; r < count; ++r) {
      const Tensor x = layers.layer(first + r);
      timing_.gram_flops += layer_gram(x, o_.kernel, k_.data(), scratch_, &timing_.product_s);
      center_gram_packed(k_.data(), n, o_.estimator, g.data() + r * m_);
    }
    first_[slot == GramSlot::A ? 0 : 1] = first;
    timing_.gram_s += seconds_since(t0);
  }

  void pair_products(int64_t a0, int64_t ca, int64_t b0, int64_t cb, PairBlock block) override {
    const auto t0 = std::chrono::steady_clock::now();
    prod_.resize(static_cast<size_t>(ca * cb));
    // The same rows on both sides (Diagonal): one symmetric product.
    const bool b_in_a = block == PairBlock::Diagonal || block == PairBlock::MirroredInA;
    timing_.hsic_flops += packed_products(
        row(GramSlot::A, a0), ca, row(b_in_a ? GramSlot::A : GramSlot::B, b0), cb, m_, prod_.data(), cb);
    for (int64_t i = 0; i < ca; ++i)
      for (int64_t j = 0; j < cb; ++j) {
        const double v = scale_ * prod_[static_cast<size_t>(i * cb + j)];
        batch_.pairs[static_cast<size_t>((a0 + i) * lb_ + b0 + j)] = v;
        if (block == PairBlock::Mirrored || block == PairBlock::MirroredInA)
          batch_.pairs[static_cast<size_t>((b0 + j) * lb_ + a0 + i)] = v;
      }
    timing_.hsic_s += seconds_since(t0);
  }

  void self_products(GramSlot slot, int64_t first, int64_t count) override {
    const std::vector<double>& g = rows(slot);
    std::vector<double>& self = slot == GramSlot::A ? batch_.self_a : batch_.self_b;
    for (int64_t r = 0; r < count; ++r) {
      const double* row = g.data() + r * m_;
      double s = 0;
      for (int64_t j = 0; j < m_; ++j) s += row[j] * row[j];
      self[static_cast<size_t>(first + r)] = 2.0 * s * scale_;
    }
  }

  void keep_rows(GramSlot slot, int64_t count, int64_t first, int64_t total, Tensor& kept) override {
    if (!kept.defined() || kept.dtype() != DType::F64 || kept.device() != Device::cpu() || kept.dim() != 2 ||
        kept.size(0) != total || kept.size(1) != m_)
      kept = Tensor::empty({total, m_}, DType::F64);
    BIASCKA_CHECK(first >= 0 && count >= 0 && first + count <= total, "CKA: kept rows ", first, "..",
                  first + count, " outside ", total);
    const std::vector<double>& g = rows(slot);
    std::copy(g.begin(), g.begin() + count * m_, kept.data<double>() + first * m_);
  }

  std::vector<double> row_products(const Tensor& a, const Tensor& b) override {
    check_kept_pair(a, b);
    const Tensor x = a.to(Device::cpu()).to_dtype(DType::F64), y = b.to(Device::cpu()).to_dtype(DType::F64);
    const int64_t rows = x.size(0), m = x.size(1);
    std::vector<double> out(static_cast<size_t>(rows));
    for (int64_t r = 0; r < rows; ++r) {
      const double *p = x.data<double>() + r * m, *q = y.data<double>() + r * m;
      double s = 0;
      for (int64_t j = 0; j < m; ++j) s += p[j] * q[j];
      out[static_cast<size_t>(r)] = s;
    }
    return out;
  }

  HsicSums sums() override {
    HsicSums s = sums_;
    if (!cross_) s.self_b = s.self_a;
    return s;
  }
  BatchHistory history() override { return history_; }
  const CkaTiming& timing() override { return timing_; }

 private:
  void keep(const HsicSums& batch) {
    ++history_.batches;
    history_.pairs.insert(history_.pairs.end(), batch.pairs.begin(), batch.pairs.end());
    if (!cross_) return;
    history_.self_a.insert(history_.self_a.end(), batch.self_a.begin(), batch.self_a.end());
    history_.self_b.insert(history_.self_b.end(), batch.self_b.begin(), batch.self_b.end());
  }

  std::vector<double>& rows(GramSlot slot) { return slot == GramSlot::A ? ga_ : gb_; }
  // Layer `layer`'s packed row in `slot` (which holds layers first_[slot]..).
  const double* row(GramSlot slot, int64_t layer) {
    const int64_t r = layer - first_[slot == GramSlot::A ? 0 : 1];
    BIASCKA_CHECK(r >= 0 && static_cast<size_t>((r + 1) * m_) <= rows(slot).size(), "CKA: layer ", layer,
                  " is not in the Gram slot");
    return rows(slot).data() + r * m_;
  }

  CkaOptions o_;
  bool cross_;
  int64_t la_, lb_;
  HsicSums sums_, batch_;
  BatchHistory history_;
  CkaTiming timing_;
  double scale_ = 0;
  int64_t m_ = 0;
  int64_t first_[2] = {0, 0};  // the first layer held by slot A and slot B
  // Reused between batches.
  std::vector<float> k_, scratch_;
  std::vector<double> ga_, gb_, prod_;
};

}  // namespace

std::unique_ptr<CkaBackend> make_cpu_backend(const CkaOptions& options, int64_t layers_a, int64_t layers_b) {
  return std::make_unique<CpuBackend>(options, layers_a, layers_b);
}

}  // namespace biascka::cka
