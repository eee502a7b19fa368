#pragma once
// `biascka cka --subset-diff`: the CKA matrix of the bias-aligned samples minus that of the bias-conflicting
// ones (data/subset.h), with both matrices kept. The two subsets run as two passes, each over its own
// loader: they are disjoint, so the two passes do the forward work of one pass over the whole split, and
// each matrix is exactly what `--subset aligned` and `--subset conflicting` give alone (one pass routing
// each batch's samples to two accumulators would give smaller, uneven minibatches instead, and a minibatch
// CKA depends on its batches).
//
//   DIR/aligned/     cka.json, cka.csv, cka.npy, cka.png of the aligned samples
//   DIR/conflicting/ the same for the conflicting samples
//   DIR/cka_diff.json (layers, layers_b, matrix = aligned - conflicting, max_abs; NaN as null),
//   DIR/cka_diff.npy (float64), DIR/cka_diff.png (diverging colour scale centred on 0, symmetric about it)
#include <string>
#include <vector>

#include "cka/output.h"

namespace biascka::workflows {

// Throws when the two reports' layers differ. Returns the files written, relative to dir.
std::vector<std::string> write_cka_subset_diff(const std::string& dir, const cka::CkaReport& aligned,
                                               const cka::CkaReport& conflicting);

}  // namespace biascka::workflows
