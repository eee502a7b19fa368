#pragma once
// report.md of a reproduce output: what was run and how (the exact commands and settings), Table 3 beside
// the paper's, the aligned/conflicting tables, Figure 1, the training curves, and every run's status.
#include <string>
#include <vector>

#include "workflows/results.h"

namespace biascka::workflows {

void write_report(const std::string& path, const std::vector<RunRecord>& runs,
                  const std::vector<ResultTable>& tables, const std::vector<std::string>& dirs,
                  const std::string& command_line, bool figure1, bool curves);

}  // namespace biascka::workflows
