#pragma once
// reproduce's CKA: one `compare` pass per dataset over the test split (the valid split when there is none)
// through every finished run of the grid (this shard's) with a checkpoint, instead of one pass per run.
// Each run's own matrix, label probes and bootstrap intervals (from the run's seed) go to RUN/cka/ exactly as
// `biascka cka` would write them alone (compare's blocks are bit for bit the separate computation, so the
// files do not depend on which runs share the pass: shards and resumed grids write the same bytes); the
// comparison across runs goes to OUT/compare/DATASET/ (compare.json, .csv, .npy, compare_full.npy,
// compare.png; compare_output.h).
#include <string>
#include <vector>

#include "workflows/reproduce.h"

namespace biascka::workflows {

// OUT/compare/DATASET.
std::string compare_dir(const ReproduceOptions& o, const std::string& dataset);

// Whether a dataset's runs still need the pass: a finished run with a checkpoint lacks RUN/cka/cka.json, or
// the dataset's compare.json is missing.
bool needs_compare(const std::vector<GridRun>& runs, const ReproduceOptions& o);

// The pass for each dataset of `grid` that needs it, on `device`; holds every run folder's lock meanwhile.
void compare_datasets(const std::vector<GridRun>& grid, const ReproduceOptions& o, const std::string& device);

}  // namespace biascka::workflows
