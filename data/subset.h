#pragma once
// The bias subsets of a split, chosen by the labels in each file name (disent.h): all samples, the
// bias-aligned ones (target == bias) or the bias-conflicting ones (target != bias).
#include <string>

#include "data/disent.h"

namespace biascka::data {

enum class Subset { All, Aligned, Conflicting };

// "all" | "aligned" | "conflicting"; throws naming `option` otherwise.
Subset parse_subset(const std::string& name, const std::string& option = "--subset");
const char* subset_name(Subset s);

// The samples of `split` in the subset, in the split's order, num_classes kept (the model's classes do not
// depend on the subset); dir gets " [aligned]" or " [conflicting]". Throws when the subset is empty.
Split select_subset(const Split& split, Subset s);

}  // namespace biascka::data
