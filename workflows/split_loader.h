#pragma once
// The loader options of a split folder, built in one place for training, validation, test, evaluation and
// CKA: the user's image options (--normalization, --image-size, --workers) with the batch, the subset and
// the order the work needs.
#include <cstdint>
#include <string>

#include "data/loader.h"

namespace biascka::workflows {

struct ImageOptions {
  std::string normalization;  // a preset name; "" = from the folder name
  int image_size = 0;         // 0 = native
  int workers = 0;            // loader threads (0 = cores)
};

enum class SplitOrder {
  Fixed,     // evaluation: every sample once, in order
  Shuffled,  // a seeded order per epoch (CKA over several passes)
  Training,  // shuffled, and a single leftover sample dropped (batch norm cannot train on one; train.h)
};

// `named_from`: the folder whose name selects the normalisation preset (a pct folder or a split).
// `max_samples`: 0 = all, else a seeded subset; `seed`: the subset's and the order's.
data::LoaderOptions split_loader_options(const std::string& named_from, const ImageOptions& image,
                                         int64_t batch, int64_t max_samples,
                                         SplitOrder order = SplitOrder::Fixed, uint64_t seed = 0);

}  // namespace biascka::workflows
