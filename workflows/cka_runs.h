#pragma once
// The CKA matrices of a reproduce grid's runs (RUN/cka/cka.json, one per run), read back and combined per
// (dataset, objective) cell over seeds: Figure 1 shows each cell's mean, the report the seed spread.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cka/claims.h"
#include "workflows/results.h"

namespace biascka::workflows {

// The square "matrix" of a cka.json (null entries: NaN). Throws naming the file when it is not square.
cka::SquareMatrix read_cka_matrix(const std::string& cka_json);
// The same from parsed JSON (`path` names it in errors).
cka::SquareMatrix cka_matrix_from_json(const nlohmann::json& j, const std::string& path);

// The label probes of a cka.json (its "probes" section, cka/output.h): per layer the CKA with the target and
// with the bias label (null: NaN). Empty when the file has no probes or not both; throws naming the file
// when the section is malformed.
struct RunProbes {
  std::vector<double> target, bias;
  bool empty() const { return target.empty(); }
};
RunProbes probes_from_json(const nlohmann::json& j, const std::string& path);

struct SeedMatrices {
  std::string dataset, loss;
  std::vector<int> seeds;  // the runs with a matrix, in seed order
  cka::SquareMatrix mean;  // per cell over those seeds (NaN where any seed is NaN)
  cka::SquareMatrix std;   // population std (ddof = 0, as the tables), 0 for one seed
  double max_std = 0;      // over the cells (finite ones); 0 for one seed
  std::string first_json;  // the lowest seed's cka.json (its settings describe all)
};

// One entry per (dataset, loss) with at least one matrix, in the runs' order. All seeds of a cell must have
// the same layers (count), else an error naming the two files.
std::vector<SeedMatrices> seed_matrices(const std::vector<RunRecord>& runs);

}  // namespace biascka::workflows
