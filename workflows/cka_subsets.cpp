#include "workflows/cka_subsets.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <utility>

#include "engine/error.h"
#include "engine/io/atomic_file.h"
#include "engine/io/npy.h"
#include "plot/heatmap.h"

namespace biascka::workflows {

std::vector<std::string> write_cka_subset_diff(const std::string& dir, const cka::CkaReport& aligned,
                                               const cka::CkaReport& conflicting) {
  namespace fs = std::filesystem;
  BIASCKA_CHECK(aligned.layers == conflicting.layers && aligned.layers_b == conflicting.layers_b, dir,
                ": the aligned and conflicting CKA matrices have different layers");
  const std::vector<std::string> written_a = cka::write_cka_outputs(dir + "/aligned", aligned);
  const std::vector<std::string> written_c = cka::write_cka_outputs(dir + "/conflicting", conflicting);
  const Tensor a = aligned.matrix.to_dtype(DType::F64), c = conflicting.matrix.to_dtype(DType::F64);
  Tensor d = Tensor::empty(a.shape(), DType::F64, Device::cpu());
  const int64_t rows = a.size(0), cols = a.size(1);
  double max_abs = 0;
  nlohmann::json matrix = nlohmann::json::array();
  for (int64_t i = 0; i < rows; ++i) {
    nlohmann::json row = nlohmann::json::array();
    for (int64_t k = 0; k < cols; ++k) {
      const double v = a.data<double>()[i * cols + k] - c.data<double>()[i * cols + k];
      d.data<double>()[i * cols + k] = v;
      if (std::isfinite(v)) max_abs = std::max(max_abs, std::abs(v));
      row.push_back(std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr));
    }
    matrix.push_back(std::move(row));
  }
  const nlohmann::json j = {{"layers", aligned.layers},
                            {"layers_b", aligned.layers_b},
                            {"matrix", matrix},
                            {"max_abs", max_abs},
                            {"minuend", "aligned"},
                            {"subtrahend", "conflicting"},
                            {"samples_aligned", aligned.samples},
                            {"samples_conflicting", conflicting.samples}};
  write_text_atomic((fs::path(dir) / "cka_diff.json").string(), j.dump(2) + "\n");
  write_npy((fs::path(dir) / "cka_diff.npy").string(), d);
  std::vector<std::string> written;
  for (const auto& f : written_a) written.push_back("aligned/" + f);
  for (const auto& f : written_c) written.push_back("conflicting/" + f);
  written.insert(written.end(), {"cka_diff.json", "cka_diff.npy"});
  if (std::max(rows, cols) > cka::kMaxHeatmapLayers) return written;
  cka::CkaReport diff = aligned;
  diff.matrix = d;
  plot::HeatmapSpec s = cka::heatmap_spec(diff);
  // Symmetric about 0 so that white means "no difference"; a zero matrix still gets a scale.
  const double half = max_abs > 0 ? max_abs : 1e-6;
  s.vmin = -half;
  s.vmax = half;
  s.cmap = plot::ColorMap::Diverging;
  s.title = "CKA(aligned) - CKA(conflicting), " + std::to_string(aligned.samples) + " vs " +
            std::to_string(conflicting.samples) + " samples";
  s.colorbar_title = "CKA difference";
  plot::render_heatmap(s).save_png((fs::path(dir) / "cka_diff.png").string());
  written.push_back("cka_diff.png");
  return written;
}

}  // namespace biascka::workflows
