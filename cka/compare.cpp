#include "cka/compare.h"

#include <cmath>
#include <limits>
#include <utility>

#include "cka/probes.h"
#include "engine/error.h"

namespace biascka::cka {

namespace {

constexpr double kNan = std::numeric_limits<double>::quiet_NaN();

// Mean of the finite values pushed; NaN when none.
struct FiniteMean {
  double sum = 0;
  int64_t count = 0;
  void add(double v) {
    if (std::isfinite(v)) sum += v, ++count;
  }
  double value() const { return count > 0 ? sum / static_cast<double>(count) : kNan; }
};

}  // namespace

std::string stacked_layer_name(const std::string& model, const std::string& layer) {
  return model + "/" + layer;
}

CkaReport block_report(const CkaReport& stacked, const std::vector<size_t>& rows,
                       const std::vector<size_t>& cols, const std::vector<std::string>& layers,
                       const std::vector<std::string>& layers_b, bool cross_model) {
  BIASCKA_CHECK(rows.size() == layers.size() && cols.size() == layers_b.size(),
                "CKA block: names do not match the rows and columns");
  const Tensor m = stacked.matrix.to_dtype(DType::F64);
  const int64_t total = m.size(1);
  std::vector<double> v;
  v.reserve(rows.size() * cols.size());
  for (const size_t i : rows)
    for (const size_t j : cols) {
      BIASCKA_CHECK(static_cast<int64_t>(i) < m.size(0) && static_cast<int64_t>(j) < total,
                    "CKA block: row or column outside the stacked matrix");
      v.push_back(m.data<double>()[static_cast<int64_t>(i) * total + static_cast<int64_t>(j)]);
    }
  CkaReport r = stacked;
  r.matrix = Tensor::from_vector(v, {static_cast<int64_t>(rows.size()), static_cast<int64_t>(cols.size())});
  r.ci_low = r.ci_high = Tensor();
  r.bootstrap = {0, 0, 0.95};
  r.probes = ProbeReport{};
  r.layers = layers;
  r.layers_b = layers_b;
  r.cross_model = cross_model;
  return r;
}

BatchHistory block_history(const BatchHistory& h, size_t total, const std::vector<size_t>& rows) {
  BIASCKA_CHECK(h.pairs.size() == static_cast<size_t>(h.batches) * total * total,
                "CKA block history: the history does not hold ", total, " x ", total, " values per batch");
  const size_t l = rows.size();
  BatchHistory out;
  out.batches = h.batches;
  out.pairs.reserve(static_cast<size_t>(h.batches) * l * l);
  out.self_a.reserve(static_cast<size_t>(h.batches) * l);
  for (size_t t = 0; t < static_cast<size_t>(h.batches); ++t) {
    const double* batch = h.pairs.data() + t * total * total;
    for (const size_t i : rows) {
      BIASCKA_CHECK(i < total, "CKA block history: layer ", i, " outside ", total);
      for (const size_t j : rows) out.pairs.push_back(batch[i * total + j]);
      out.self_a.push_back(batch[i * total + i]);
    }
  }
  out.self_b = out.self_a;
  return out;
}

Tensor layer_model_matrices(const Tensor& stacked, const std::vector<std::vector<size_t>>& rows) {
  const Tensor m = stacked.to_dtype(DType::F64);
  BIASCKA_CHECK(m.dim() == 2 && m.size(0) == m.size(1) && !rows.empty(), "CKA compare: not a stacked matrix");
  const auto models = static_cast<int64_t>(rows.size()), layers = static_cast<int64_t>(rows[0].size());
  const auto total = static_cast<size_t>(m.size(1));
  for (const std::vector<size_t>& r : rows)
    for (const size_t i : r)
      BIASCKA_CHECK(r.size() == rows[0].size() && i < total, "CKA compare: rows outside the stacked matrix");
  std::vector<double> v(static_cast<size_t>(layers * models * models));
  for (int64_t l = 0; l < layers; ++l)
    for (int64_t a = 0; a < models; ++a)
      for (int64_t b = 0; b < models; ++b)
        v[static_cast<size_t>((l * models + a) * models + b)] =
            m.data<double>()[rows[static_cast<size_t>(a)][static_cast<size_t>(l)] * total +
                             rows[static_cast<size_t>(b)][static_cast<size_t>(l)]];
  return Tensor::from_vector(v, {layers, models, models});
}

GroupSimilarity group_similarity(const Tensor& layer_models, const std::vector<std::string>& group_of) {
  const Tensor lm = layer_models.to_dtype(DType::F64);
  BIASCKA_CHECK(
      lm.dim() == 3 && lm.size(1) == lm.size(2) && lm.size(1) == static_cast<int64_t>(group_of.size()),
      "CKA compare: ", group_of.size(), " group labels for a model x model matrix of another size");
  const int64_t layers = lm.size(0), models = lm.size(1);
  GroupSimilarity g;
  std::vector<size_t> index(group_of.size());  // model -> group
  for (size_t m = 0; m < group_of.size(); ++m) {
    size_t k = 0;
    while (k < g.groups.size() && g.groups[k] != group_of[m]) ++k;
    if (k == g.groups.size()) {
      g.groups.push_back(group_of[m]);
      g.group_sizes.push_back(0);
    }
    index[m] = k;
    ++g.group_sizes[k];
  }
  const int64_t ng = static_cast<int64_t>(g.groups.size());
  std::vector<double> mean(static_cast<size_t>(layers * ng * ng)), floor(static_cast<size_t>(layers)),
      between(static_cast<size_t>(layers));
  for (int64_t l = 0; l < layers; ++l) {
    std::vector<FiniteMean> cells(static_cast<size_t>(ng * ng));
    const double* mm = lm.data<double>() + l * models * models;
    for (int64_t a = 0; a < models; ++a)
      for (int64_t b = 0; b < models; ++b)
        if (a != b)
          cells[index[static_cast<size_t>(a)] * static_cast<size_t>(ng) + index[static_cast<size_t>(b)]].add(
              mm[a * models + b]);
    FiniteMean within, across;
    for (int64_t x = 0; x < ng; ++x)
      for (int64_t y = 0; y < ng; ++y) {
        const double v = cells[static_cast<size_t>(x * ng + y)].value();
        mean[static_cast<size_t>((l * ng + x) * ng + y)] = v;
        if (x == y)
          within.add(v);
        else if (x < y)
          across.add(v);
      }
    floor[static_cast<size_t>(l)] = within.value();
    between[static_cast<size_t>(l)] = across.value();
  }
  g.mean = Tensor::from_vector(mean, {layers, ng, ng});
  g.floor = Tensor::from_vector(floor, {layers});
  g.between = Tensor::from_vector(between, {layers});
  return g;
}

std::vector<StageSimilarity> stage_similarity(const GroupSimilarity& g,
                                              const std::vector<std::string>& layers) {
  const int64_t ng = static_cast<int64_t>(g.groups.size());
  BIASCKA_CHECK(g.mean.dim() == 3 && g.mean.size(0) == static_cast<int64_t>(layers.size()),
                "CKA compare: ", layers.size(), " layer names for ", g.mean.size(0), " layers");
  std::vector<size_t> starts = stage_starts(layers);
  starts.insert(starts.begin(), 0);
  starts.push_back(layers.size());
  std::vector<StageSimilarity> out;
  bool seen_dotted = false;  // dotless names before the first stage are the stem, after it the head
  for (size_t s = 0; s + 1 < starts.size(); ++s) {
    StageSimilarity st;
    st.first = starts[s];
    st.count = starts[s + 1] - starts[s];
    const std::string& name = layers[st.first];
    const size_t dot = name.find('.');
    st.stage = dot != std::string::npos ? name.substr(0, dot) : (seen_dotted ? "head" : "stem");
    seen_dotted = seen_dotted || dot != std::string::npos;
    std::vector<FiniteMean> cells(static_cast<size_t>(ng * ng));
    FiniteMean floor, between;
    for (size_t l = st.first; l < st.first + st.count; ++l) {
      for (int64_t c = 0; c < ng * ng; ++c)
        cells[static_cast<size_t>(c)].add(g.mean.data<double>()[static_cast<int64_t>(l) * ng * ng + c]);
      floor.add(g.floor.data<double>()[l]);
      between.add(g.between.data<double>()[l]);
    }
    for (const FiniteMean& c : cells) st.mean.push_back(c.value());
    st.floor = floor.value();
    st.between = between.value();
    out.push_back(std::move(st));
  }
  return out;
}

}  // namespace biascka::cka
