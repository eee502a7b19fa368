#include "cka/accumulator.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <utility>

#include "cka/centering.h"
#include "cka/gram.h"
#include "cka/hsic.h"
#include "cka/minibatch_cuda.h"
#include "engine/error.h"

namespace biascka::cka {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

Tensor to_tensor(const std::vector<double>& v, const Shape& shape) { return Tensor::from_vector(v, shape); }

}  // namespace

MinibatchCka::MinibatchCka(std::vector<std::string> names_a, std::vector<std::string> names_b,
                           CkaOptions opts)
    : layers_a_(std::move(names_a)), layers_b_(std::move(names_b)), opts_(opts) {
  BIASCKA_CHECK(!layers_a_.empty(), "CKA: no layers to compare");
  sum_.assign(layers_a_.size() * layers_b().size(), 0.0);
  self_a_.assign(layers_a_.size(), 0.0);
  self_b_.assign(layers_b().size(), 0.0);
  if (opts_.device.is_cuda() && opts_.kernel.kind == Kernel::Linear)
    gpu_ = std::make_unique<CudaCka>(static_cast<int64_t>(layers_a_.size()),
                                     static_cast<int64_t>(layers_b_.size()), opts_);
}

MinibatchCka::~MinibatchCka() = default;
MinibatchCka::MinibatchCka(MinibatchCka&&) noexcept = default;
MinibatchCka& MinibatchCka::operator=(MinibatchCka&&) noexcept = default;

void MinibatchCka::sync() const {
  if (gpu_) gpu_->download(sum_, self_a_, self_b_, timing_);
}

const CkaTiming& MinibatchCka::timing() const {
  sync();
  return timing_;
}

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

void MinibatchCka::build(const LayerSource& src, const std::vector<std::string>& names, int64_t first,
                         int64_t count, int64_t n, std::vector<double>& g) {
  const auto t0 = std::chrono::steady_clock::now();
  g.resize(static_cast<size_t>(count * m_));
  k_.resize(static_cast<size_t>(n * n));
  for (int64_t r = 0; r < count; ++r) {
    const std::string& name = names[static_cast<size_t>(first + r)];
    const Tensor x = src(static_cast<size_t>(first + r));
    BIASCKA_CHECK(x.defined() && x.dim() >= 1 && x.size(0) == n, "CKA: layer '", name, "' has ",
                  x.defined() && x.dim() >= 1 ? x.size(0) : 0, " samples in this batch, the others ", n);
    timing_.gram_flops += layer_gram(x, opts_.kernel, k_.data(), scratch_, &timing_.product_s);
    center_gram_packed(k_.data(), n, opts_.estimator, g.data() + r * m_);
  }
  timing_.gram_s += seconds_since(t0);
}

void MinibatchCka::self_products(const std::vector<double>& g, int64_t first, int64_t count, double scale,
                                 std::vector<double>& self) {
  for (int64_t r = 0; r < count; ++r) {
    const double* row = g.data() + r * m_;
    double s = 0;
    for (int64_t j = 0; j < m_; ++j) s += row[j] * row[j];
    self[static_cast<size_t>(first + r)] = 2.0 * s * scale;
  }
}

void MinibatchCka::pair_products(const std::vector<double>& ga, int64_t a0, int64_t ca,
                                 const std::vector<double>* gb, int64_t b0, int64_t cb, double scale) {
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t lb = static_cast<int64_t>(layers_b().size());
  prod_.resize(static_cast<size_t>(ca * cb));
  const double* pb = gb ? gb->data() : ga.data();
  timing_.hsic_flops += packed_products(ga.data(), ca, pb, cb, m_, prod_.data(), cb);
  for (int64_t i = 0; i < ca; ++i)
    for (int64_t j = 0; j < cb; ++j) {
      const double v = scale * prod_[static_cast<size_t>(i * cb + j)];
      batch_sum_[static_cast<size_t>((a0 + i) * lb + b0 + j)] = v;
      // One model, off-diagonal block: the mirrored block gets the same value.
      if (!cross() && gb) batch_sum_[static_cast<size_t>((b0 + j) * lb + a0 + i)] = v;
    }
  timing_.hsic_s += seconds_since(t0);
}

void MinibatchCka::add_batch(int64_t n, const LayerSource& a, const LayerSource* b) {
  BIASCKA_CHECK(!cross() || b, "CKA: a cross-model accumulator needs the second model's layers");
  if (n < min_batch(opts_.estimator)) {
    skipped_.push_back(detail::concat("skipped a batch of ", n, " samples: the ",
                                      estimator_name(opts_.estimator), " estimator needs at least ",
                                      min_batch(opts_.estimator)));
    return;
  }
  if (gpu_) {
    gpu_->add_batch(n, a, b, layers_a_, layers_b_);
    ++batches_;
    samples_ += n;
    return;
  }
  const double scale = hsic_scale(n, opts_.estimator);
  m_ = packed_size(n, opts_.estimator);
  const int64_t la = static_cast<int64_t>(layers_a_.size());
  const int64_t lb = cross() ? static_cast<int64_t>(layers_b_.size()) : 0;
  const size_t row_bytes = static_cast<size_t>(m_) * sizeof(double);
  const bool all_fit = static_cast<size_t>(la + lb) * row_bytes <= opts_.gram_memory;
  // Groups of layers whose Grams are held together: everything, or two groups of `rows` at a time.
  const int64_t rows = all_fit
                           ? std::max(la, lb)
                           : std::max<int64_t>(1, static_cast<int64_t>(opts_.gram_memory / (2 * row_bytes)));

  // This batch's values are collected first and added at the end, so a batch that fails half-way (a layer
  // with the wrong number of samples) leaves the sums as they were.
  batch_sum_.assign(sum_.size(), 0.0);
  batch_self_a_.assign(self_a_.size(), 0.0);
  batch_self_b_.assign(self_b_.size(), 0.0);
  if (!cross()) {
    for (int64_t p0 = 0; p0 < la; p0 += rows) {
      const int64_t cp = std::min(rows, la - p0);
      build(a, layers_a_, p0, cp, n, ga_);
      pair_products(ga_, p0, cp, nullptr, p0, cp, scale);
      for (int64_t q0 = p0 + cp; q0 < la; q0 += rows) {
        const int64_t cq = std::min(rows, la - q0);
        build(a, layers_a_, q0, cq, n, gb_);
        pair_products(ga_, p0, cp, &gb_, q0, cq, scale);
      }
    }
    for (int64_t i = 0; i < la; ++i)
      batch_self_a_[static_cast<size_t>(i)] = batch_sum_[static_cast<size_t>(i * la + i)];
  } else {
    const bool b_held = lb <= rows;  // the second model's Grams are built once per batch
    for (int64_t p0 = 0; p0 < la; p0 += rows) {
      const int64_t cp = std::min(rows, la - p0);
      build(a, layers_a_, p0, cp, n, ga_);
      self_products(ga_, p0, cp, scale, batch_self_a_);
      for (int64_t q0 = 0; q0 < lb; q0 += rows) {
        const int64_t cq = std::min(rows, lb - q0);
        if (!(b_held && p0 > 0)) build(*b, layers_b_, q0, cq, n, gb_);
        if (p0 == 0) self_products(gb_, q0, cq, scale, batch_self_b_);
        pair_products(ga_, p0, cp, &gb_, q0, cq, scale);
      }
    }
  }
  for (size_t i = 0; i < sum_.size(); ++i) sum_[i] += batch_sum_[i];
  for (size_t i = 0; i < self_a_.size(); ++i) self_a_[i] += batch_self_a_[i];
  for (size_t i = 0; i < self_b_.size(); ++i) self_b_[i] += batch_self_b_[i];
  ++batches_;
  samples_ += n;
}

Tensor MinibatchCka::hsic_sums() const {
  sync();
  return to_tensor(sum_, {static_cast<int64_t>(layers_a_.size()), static_cast<int64_t>(layers_b().size())});
}
Tensor MinibatchCka::self_hsic_a() const {
  sync();
  return to_tensor(self_a_, {static_cast<int64_t>(self_a_.size())});
}
Tensor MinibatchCka::self_hsic_b() const {
  sync();
  const std::vector<double>& s = cross() ? self_b_ : self_a_;
  return to_tensor(s, {static_cast<int64_t>(s.size())});
}

CkaMatrix MinibatchCka::result() const {
  BIASCKA_CHECK(batches_ > 0, "CKA: no batch was accumulated (", samples_, " samples)");
  sync();
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
  check(self_a_, layers_a_, cross() ? " of model A" : "");
  if (cross()) check(self_b_, layers_b_, " of model B");
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<double>& self_b = cross() ? self_b_ : self_a_;
  std::vector<double> m(la * lb);
  for (size_t i = 0; i < la; ++i)
    for (size_t j = 0; j < lb; ++j) {
      const double sa = self_a_[i], sb = self_b[j];
      // sqrt(x * x) == x exactly in IEEE arithmetic, so a layer against itself is exactly 1.
      m[i * lb + j] = (sa > 0 && sb > 0) ? sum_[i * lb + j] / std::sqrt(sa * sb) : nan;
    }
  out.matrix = to_tensor(m, {static_cast<int64_t>(la), static_cast<int64_t>(lb)});
  return out;
}

}  // namespace biascka::cka
