#include "workflows/cka_runs.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/error.h"
#include "workflows/json_file.h"

namespace biascka::workflows {

cka::SquareMatrix read_cka_matrix(const std::string& path) {
  return cka_matrix_from_json(read_json_file(path), path);
}

cka::SquareMatrix cka_matrix_from_json(const nlohmann::json& j, const std::string& path) {
  const nlohmann::json none;
  const nlohmann::json& matrix = j.is_object() && j.contains("matrix") ? j["matrix"] : none;
  const bool square = matrix.is_array() && !matrix.empty() &&
                      std::all_of(matrix.begin(), matrix.end(), [&](const nlohmann::json& row) {
                        return row.is_array() && row.size() == matrix.size();
                      });
  BIASCKA_CHECK(square, path, ": field 'matrix' must be a square array of rows of numbers");
  cka::SquareMatrix m;
  m.n = static_cast<int64_t>(matrix.size());
  for (const auto& row : matrix)
    for (const auto& v : row) m.values.push_back(v.is_number() ? v.get<double>() : NAN);
  return m;
}

RunProbes probes_from_json(const nlohmann::json& j, const std::string& path) {
  RunProbes out;
  if (!j.is_object() || !j.contains("probes")) return out;
  const nlohmann::json& p = j["probes"];
  const bool shaped = p.is_object() && p.contains("layers") && p["layers"].is_array() && !p["layers"].empty();
  BIASCKA_CHECK(shaped, path, ": field 'probes' must hold a non-empty array 'layers'");
  const nlohmann::json& rows = p["layers"];
  auto value = [&](const nlohmann::json& row, const char* key) {
    BIASCKA_CHECK(row.is_object(), path, ": every entry of 'probes.layers' must be an object");
    if (!row.contains(key)) return std::optional<double>();
    const nlohmann::json& v = row[key];
    BIASCKA_CHECK(v.is_number() || v.is_null(), path, ": 'probes.layers[].", key,
                  "' must be a number or null");
    return std::optional<double>(v.is_number() ? v.get<double>() : NAN);
  };
  for (const nlohmann::json& row : rows) {
    const std::optional<double> t = value(row, "target"), b = value(row, "bias");
    if (!t || !b) return {};  // not both probes
    out.target.push_back(*t);
    out.bias.push_back(*b);
  }
  return out;
}

std::vector<SeedMatrices> seed_matrices(const std::vector<RunRecord>& runs) {
  std::vector<SeedMatrices> out;
  std::map<std::pair<std::string, std::string>, std::vector<const RunRecord*>> by_cell;
  for (const auto& r : runs) {
    if (r.cka_json.empty()) continue;
    auto& list = by_cell[{r.dataset, r.loss}];
    if (list.empty()) out.push_back({r.dataset, r.loss, {}, {}, {}, 0, ""});
    list.push_back(&r);
  }
  for (SeedMatrices& cell : out) {
    std::vector<const RunRecord*>& list = by_cell[{cell.dataset, cell.loss}];
    std::sort(list.begin(), list.end(),
              [](const RunRecord* a, const RunRecord* b) { return a->seed < b->seed; });
    std::vector<cka::SquareMatrix> ms;
    for (const RunRecord* r : list) {
      ms.push_back(read_cka_matrix(r->cka_json));
      BIASCKA_CHECK(ms.back().n == ms.front().n, r->cka_json, ": ", ms.back().n, " layers, but ",
                    list.front()->cka_json, " has ", ms.front().n,
                    " (one cell's seeds must use the same layers)");
      cell.seeds.push_back(r->seed);
    }
    cell.first_json = list.front()->cka_json;
    const int64_t n = ms.front().n;
    const double k = static_cast<double>(ms.size());
    cell.mean = {n, std::vector<double>(static_cast<size_t>(n * n), 0)};
    cell.std = cell.mean;
    for (size_t c = 0; c < cell.mean.values.size(); ++c) {
      double sum = 0;
      for (const auto& m : ms) sum += m.values[c];
      const double mean = sum / k;
      double ss = 0;
      for (const auto& m : ms) ss += (m.values[c] - mean) * (m.values[c] - mean);
      cell.mean.values[c] = mean;
      cell.std.values[c] = std::sqrt(ss / k);
      if (std::isfinite(cell.std.values[c])) cell.max_std = std::max(cell.max_std, cell.std.values[c]);
    }
  }
  return out;
}

}  // namespace biascka::workflows
