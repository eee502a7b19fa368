#include "cka/accumulator.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <utility>

#include "cka/bootstrap.h"
#include "engine/error.h"

namespace biascka::cka {

namespace {

Tensor to_tensor(const std::vector<double>& v, const Shape& shape) { return Tensor::from_vector(v, shape); }

// Ends the backend's batch however add_batch leaves it (committed or thrown).
struct BatchEnd {
  CkaBackend& backend;
  ~BatchEnd() { backend.end_batch(); }
};

}  // namespace

MinibatchCka::MinibatchCka(std::vector<std::string> names_a, std::vector<std::string> names_b,
                           CkaOptions opts)
    : layers_a_(std::move(names_a)), layers_b_(std::move(names_b)), opts_(opts) {
  BIASCKA_CHECK(!layers_a_.empty(), "CKA: no layers to compare");
  if (!opts_.blocks.empty()) {
    int64_t sum = 0;
    for (const int64_t k : opts_.blocks) {
      BIASCKA_CHECK(k > 0, "CKA: a block of ", k, " layers");
      sum += k;
    }
    BIASCKA_CHECK(layers_b_.empty() && sum == static_cast<int64_t>(layers_a_.size()), "CKA: blocks of ", sum,
                  " layers need one model with that many (", layers_a_.size(), ")");
  }
  const size_t lb = cross() ? layers_b_.size() : layers_a_.size();
  if (opts_.bootstrap > 0 && !bootstrap_fits(opts_.bootstrap, layers_a_.size(), lb)) {
    skipped_.push_back(detail::concat("no bootstrap intervals: ", opts_.bootstrap, " replicates of ",
                                      layers_a_.size(), " x ", lb, " cells is more than the limit (",
                                      kMaxBootstrapWork, " replicate cells); lower --bootstrap"));
    opts_.bootstrap = 0;
  }
  backend_ =
      make_backend(opts_, static_cast<int64_t>(layers_a_.size()), static_cast<int64_t>(layers_b_.size()));
}

MinibatchCka::~MinibatchCka() = default;
MinibatchCka::MinibatchCka(MinibatchCka&&) noexcept = default;
MinibatchCka& MinibatchCka::operator=(MinibatchCka&&) noexcept = default;

Device MinibatchCka::device() const { return backend_->device(); }
size_t MinibatchCka::gram_row_bytes(int64_t n) const { return backend_->row_bytes(n); }
const CkaTiming& MinibatchCka::timing() const { return backend_->timing(); }

void MinibatchCka::add_batch(const std::vector<Tensor>& a, const std::vector<Tensor>* b) {
  BIASCKA_CHECK(a.size() == layers_a_.size(), "CKA batch: ", a.size(), " layer tensors for ",
                layers_a_.size(), " layers");
  BIASCKA_CHECK(!cross() || (b && b->size() == layers_b_.size()), "CKA batch: the second model's layers (",
                layers_b_.size(), ") do not match the tensors given (", b ? b->size() : 0, ")");
  BIASCKA_CHECK(a[0].defined() && a[0].dim() >= 1, "CKA batch: layer '", layers_a_[0],
                "' has no sample axis");
  const LayerSource sa = [&a](size_t i) { return a[i]; };
  const LayerSource sb = [b](size_t i) { return (*b)[i]; };
  add_batch(a[0].size(0), sa, cross() ? &sb : nullptr);
}

void MinibatchCka::add_batch(int64_t n, const LayerSource& a, const LayerSource* b) {
  BIASCKA_CHECK(!cross() || b, "CKA: a cross-model accumulator needs the second model's layers");
  if (n < min_batch(opts_.estimator)) {
    skipped_.push_back(detail::concat("skipped a batch of ", n, " samples: the ",
                                      estimator_name(opts_.estimator), " estimator needs at least ",
                                      min_batch(opts_.estimator)));
    return;
  }
  kept_ok_ = false;
  kept_ = Tensor();  // a new tensor per batch: one handed out before stays as it was
  const BatchLayers la(a, layers_a_, n);
  const BatchLayers lb(cross() ? *b : a, layers_b(), n);
  backend_->begin_batch(n);
  const BatchEnd end{*backend_};
  schedule(la, cross() ? &lb : nullptr);
  backend_->commit();  // only a batch that got here is added
  kept_ok_ = keep_ > 0;
  ++batches_;
  samples_ += n;
}

void MinibatchCka::schedule(const BatchLayers& a, const BatchLayers* b) {
  const int64_t la = static_cast<int64_t>(layers_a_.size());
  const int64_t lb = b ? static_cast<int64_t>(layers_b_.size()) : 0;
  const size_t row_bytes = backend_->row_bytes(a.samples()), budget = backend_->gram_budget();
  const bool all_fit = static_cast<size_t>(la + lb) * row_bytes <= budget;
  // Groups of layers whose Grams are held together: everything, or two groups of `rows` at a time.
  const int64_t rows =
      all_fit ? std::max(la, lb) : std::max<int64_t>(1, static_cast<int64_t>(budget / (2 * row_bytes)));
  const int64_t rows_a = std::min(rows, la);
  // One model: slot B holds a later group only when the layers do not all fit.
  const int64_t rows_b = b ? std::min(rows, lb) : (all_fit ? 0 : rows_a);
  if (!b && !opts_.blocks.empty()) return schedule_blocks(a, all_fit);
  backend_->reserve(rows_a, rows_b);
  if (!b) {
    for (int64_t p0 = 0; p0 < la; p0 += rows) {
      const int64_t cp = std::min(rows, la - p0);
      backend_->build(GramSlot::A, a, p0, cp);
      if (p0 < keep_) backend_->keep_rows(GramSlot::A, std::min(cp, keep_ - p0), p0, keep_, kept_);
      backend_->pair_products(p0, cp, p0, cp, PairBlock::Diagonal);
      for (int64_t q0 = p0 + cp; q0 < la; q0 += rows) {
        const int64_t cq = std::min(rows, la - q0);
        backend_->build(GramSlot::B, a, q0, cq);
        backend_->pair_products(p0, cp, q0, cq, PairBlock::Mirrored);
      }
    }
    return;
  }
  const bool b_held = lb <= rows;  // the second model's Grams are built once per batch
  for (int64_t p0 = 0; p0 < la; p0 += rows) {
    const int64_t cp = std::min(rows, la - p0);
    backend_->build(GramSlot::A, a, p0, cp);
    backend_->self_products(GramSlot::A, p0, cp);
    for (int64_t q0 = 0; q0 < lb; q0 += rows) {
      const int64_t cq = std::min(rows, lb - q0);
      if (!(b_held && p0 > 0)) backend_->build(GramSlot::B, *b, q0, cq);
      if (p0 == 0) backend_->self_products(GramSlot::B, q0, cq);
      backend_->pair_products(p0, cp, q0, cq, PairBlock::Cross);
    }
  }
}

void MinibatchCka::schedule_blocks(const BatchLayers& a, bool all_fit) {
  const std::vector<int64_t>& sizes = opts_.blocks;
  std::vector<int64_t> start = {0};  // block k is layers [start[k], start[k + 1])
  for (const int64_t k : sizes) start.push_back(start.back() + k);
  // Groups of whole blocks: every layer, or as many blocks as half the budget holds (at least one).
  const int64_t fit =
      all_fit ? start.back()
              : static_cast<int64_t>(backend_->gram_budget() / (2 * backend_->row_bytes(a.samples())));
  std::vector<size_t> group = {0};  // group g is blocks [group[g], group[g + 1])
  for (size_t k = 0; k < sizes.size(); ++k)
    if (k > group.back() && start[k + 1] - start[group.back()] > fit) group.push_back(k);
  group.push_back(sizes.size());
  int64_t rows = 0;
  for (size_t g = 0; g + 1 < group.size(); ++g) rows = std::max(rows, start[group[g + 1]] - start[group[g]]);
  backend_->reserve(rows, group.size() > 2 ? rows : 0);
  for (size_t g = 0; g + 1 < group.size(); ++g) {
    const int64_t g0 = start[group[g]], g1 = start[group[g + 1]];
    backend_->build(GramSlot::A, a, g0, g1 - g0);
    if (g0 < keep_) backend_->keep_rows(GramSlot::A, std::min(g1 - g0, keep_ - g0), g0, keep_, kept_);
    for (size_t k = group[g]; k < group[g + 1]; ++k) {
      backend_->pair_products(start[k], sizes[k], start[k], sizes[k], PairBlock::Diagonal);
      if (start[k + 1] < g1)
        backend_->pair_products(start[k], sizes[k], start[k + 1], g1 - start[k + 1], PairBlock::MirroredInA);
    }
    for (size_t h = g + 1; h + 1 < group.size(); ++h) {
      const int64_t h0 = start[group[h]], h1 = start[group[h + 1]];
      backend_->build(GramSlot::B, a, h0, h1 - h0);
      for (size_t k = group[g]; k < group[g + 1]; ++k)
        backend_->pair_products(start[k], sizes[k], h0, h1 - h0, PairBlock::Mirrored);
    }
  }
}

void MinibatchCka::keep_grams(int64_t layers) {
  BIASCKA_CHECK(!cross() && layers >= 0 && layers <= static_cast<int64_t>(layers_a_.size()),
                "CKA: Grams are kept for 0 to ", layers_a_.size(), " layers of one model, not ", layers);
  keep_ = layers;
  kept_ok_ = false;
}

std::vector<double> MinibatchCka::row_cka(const Tensor& a, const Tensor& b) const {
  check_kept_pair(a, b);
  // b in a's precision and place (rows read back from a file, or kept on another device).
  const Tensor c =
      b.dtype() == a.dtype() ? b.to(a.device()) : b.to(Device::cpu()).to_dtype(a.dtype()).to(a.device());
  const std::vector<double> ab = backend_->row_products(a, c), aa = backend_->row_products(a, a),
                            bb = backend_->row_products(c, c);
  std::vector<double> out(ab.size());
  for (size_t r = 0; r < out.size(); ++r)
    out[r] =
        aa[r] > 0 && bb[r] > 0 ? ab[r] / std::sqrt(aa[r] * bb[r]) : std::numeric_limits<double>::quiet_NaN();
  return out;
}

Tensor MinibatchCka::hsic_sums() const {
  return to_tensor(backend_->sums().pairs,
                   {static_cast<int64_t>(layers_a_.size()), static_cast<int64_t>(layers_b().size())});
}
Tensor MinibatchCka::self_hsic_a() const {
  const std::vector<double> s = backend_->sums().self_a;
  return to_tensor(s, {static_cast<int64_t>(s.size())});
}
Tensor MinibatchCka::self_hsic_b() const {
  const std::vector<double> s = backend_->sums().self_b;
  return to_tensor(s, {static_cast<int64_t>(s.size())});
}

BatchHistory MinibatchCka::batch_history() const {
  BIASCKA_CHECK(keeps_batches(opts_), "CKA: the batches' values are kept only for a bootstrap");
  BatchHistory h = backend_->history();
  if (cross()) return h;
  const size_t l = layers_a_.size();
  h.self_a.resize(static_cast<size_t>(h.batches) * l);
  for (size_t t = 0; t < static_cast<size_t>(h.batches); ++t)
    for (size_t i = 0; i < l; ++i) h.self_a[t * l + i] = h.pairs[(t * l + i) * l + i];
  h.self_b = h.self_a;
  return h;
}

CkaMatrix MinibatchCka::result() const {
  BIASCKA_CHECK(batches_ > 0, "CKA: no batch was accumulated (", samples_, " samples)");
  const HsicSums sums = backend_->sums();
  const size_t la = layers_a_.size(), lb = layers_b().size();
  CkaMatrix out;
  out.warnings = skipped_;
  // A layer whose centred Grams are all zero (constant over every batch) has no defined CKA: a warning.
  // A layer with NaN or infinite activations has none either, and that means a broken model or input: an
  // error, so that it is not mistaken for a constant layer.
  auto check = [&](const std::vector<double>& self, const std::vector<std::string>& names,
                   const char* which) {
    for (size_t i = 0; i < self.size(); ++i)
      BIASCKA_CHECK(
          std::isfinite(self[i]), "layer '", names[i], "'", which,
          ": its activations hold NaN or infinite values, so its CKA is undefined (check the model's "
          "weights and the input data)");
    for (size_t i = 0; i < self.size(); ++i)
      if (!(self[i] > 0))
        out.warnings.push_back(detail::concat(
            "layer '", names[i], "'", which, " has zero variance over the data: its CKA is undefined (NaN)"));
  };
  check(sums.self_a, layers_a_, cross() ? " of model A" : "");
  if (cross()) check(sums.self_b, layers_b_, " of model B");
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<double> m(la * lb);
  for (size_t i = 0; i < la; ++i)
    for (size_t j = 0; j < lb; ++j) {
      const double sa = sums.self_a[i], sb = sums.self_b[j];
      // sqrt(x * x) == x exactly in IEEE arithmetic, so a layer against itself is exactly 1.
      m[i * lb + j] = (sa > 0 && sb > 0) ? sums.pairs[i * lb + j] / std::sqrt(sa * sb) : nan;
    }
  out.matrix = to_tensor(m, {static_cast<int64_t>(la), static_cast<int64_t>(lb)});
  return out;
}

}  // namespace biascka::cka
