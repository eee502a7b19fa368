#pragma once
// The reproduce figures: figure1.png (the paper's Figure 1: one CKA heatmap per dataset (rows) and
// objective (columns), a shared 0..1 colour scale and one colour bar) and curves.png (validation accuracy
// per epoch of every run, one panel per dataset).
#include <string>
#include <vector>

#include "workflows/results.h"

namespace biascka::workflows {

// Uses each (dataset, objective) cell's lowest-seed run that has cka/cka.json. Returns false (and writes
// nothing) when no run has one.
bool write_figure1(const std::vector<RunRecord>& runs, const std::string& path);
bool write_curves(const std::vector<RunRecord>& runs, const std::string& path);

}  // namespace biascka::workflows
