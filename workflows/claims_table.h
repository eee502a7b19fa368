#pragma once
// The paper's qualitative claims about its CKA matrices, as numbers over a reproduce grid (definitions and
// references: cka/claims.h and the README's "Numbers for the paper's claims"):
//   per run: depth_decay and block_index (with the block's first and last layer) of its CKA matrix;
//   per objective and dataset: mean +- std over seeds (tables like the accuracy tables, unit "");
//   per dataset and claim metric: Spearman's rho across the dataset's finished runs (every objective and
//   seed) between the metric and the bias-conflicting test accuracy. The paper says block structure goes
//   with worse generalisation: that is a negative rho for block_index.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "workflows/results.h"

namespace biascka::workflows {

// The per-run claim metrics, in table order.
const std::vector<std::string>& claim_metrics();  // depth_decay, block_index

// Fills each run's `claims` from its cka.json (runs without one keep an empty map).
void add_claims(std::vector<RunRecord>& runs);

std::vector<ResultTable> claim_tables(const std::vector<RunRecord>& runs);

struct ClaimCorrelation {
  std::string dataset, metric;
  double rho = 0;    // NaN when undefined (fewer than 2 runs, or a constant metric)
  int64_t runs = 0;  // runs with both numbers
};
std::vector<ClaimCorrelation> claim_correlations(const std::vector<RunRecord>& runs);

// table.md / report.md section: the claim tables and the correlations, with one line per definition.
std::string claims_markdown(const std::vector<RunRecord>& runs, const std::vector<ResultTable>& tables,
                            const std::vector<ClaimCorrelation>& correlations);
// table.json's "claims_correlation": [{dataset, metric, rho (null when undefined), runs, against}].
nlohmann::json claims_correlation_json(const std::vector<ClaimCorrelation>& correlations);

}  // namespace biascka::workflows
