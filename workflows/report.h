#pragma once
// report.md of a reproduce output: what was run and how (the exact commands and settings), Table 3 beside
// the paper's, the aligned/conflicting/unbiased/worst-group tables, Figure 1 and the seed spread of its
// matrices, the numbers for the paper's claims, the training curves, and every run's status and numbers.
#include <cmath>
#include <string>
#include <vector>

#include "workflows/cka_runs.h"
#include "workflows/claims_table.h"
#include "workflows/results.h"

namespace biascka::workflows {

struct ReportFigures {
  bool figure1 = false, curves = false, probes = false;
  double seed_std_max = NAN;  // write_seed_std's result: NaN when cka_seed_std.png was not written
};

void write_report(const std::string& path, const std::vector<RunRecord>& runs,
                  const std::vector<ResultTable>& tables, const std::vector<ClaimCorrelation>& correlations,
                  const std::vector<SeedMatrices>& cells, const std::vector<std::string>& dirs,
                  const std::string& command_line, const ReportFigures& figures);

}  // namespace biascka::workflows
