#pragma once
// The reproduce figures: figure1.png (the paper's Figure 1: one CKA heatmap per dataset (rows) and
// objective (columns), each the mean over the cell's seeds, a shared 0..1 colour scale and one colour bar),
// cka_seed_std.png (the same grid of each cell's per-layer-pair std over seeds, smaller, on a common
// 0..max scale), curves.png (validation accuracy per epoch of every run, one panel per dataset) and
// probes.png (the label probes of every cell).
#include <string>
#include <vector>

#include "workflows/cka_runs.h"
#include "workflows/results.h"

namespace biascka::workflows {

// `cells`: seed_matrices(runs). Returns false (and writes nothing) when no run has a CKA matrix.
bool write_figure1(const std::vector<RunRecord>& runs, const std::vector<SeedMatrices>& cells,
                   const std::string& path);
// Returns the largest std over every cell and layer pair, or NaN (and writes nothing) when no cell has two
// seeds with a matrix.
double write_seed_std(const std::vector<RunRecord>& runs, const std::vector<SeedMatrices>& cells,
                      const std::string& path);
bool write_curves(const std::vector<RunRecord>& runs, const std::string& path);
// probes.png: per dataset (rows) and objective (columns) a panel of each layer's CKA with the target and
// with the bias label, the mean over the cell's seeds with probes. False (nothing written) when no run has
// probes.
bool write_probe_panels(const std::vector<RunRecord>& runs, const std::string& path);

}  // namespace biascka::workflows
