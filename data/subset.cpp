#include "data/subset.h"

#include "engine/error.h"

namespace biascka::data {

Subset parse_subset(const std::string& name, const std::string& option) {
  if (name == "all") return Subset::All;
  if (name == "aligned") return Subset::Aligned;
  if (name == "conflicting") return Subset::Conflicting;
  fail(option, ": '", name, "' is not all, aligned or conflicting");
}

const char* subset_name(Subset s) {
  return s == Subset::All ? "all" : s == Subset::Aligned ? "aligned" : "conflicting";
}

Split select_subset(const Split& split, Subset s) {
  if (s == Subset::All) return split;
  Split out;
  out.dir = split.dir + " [" + subset_name(s) + "]";
  out.num_classes = split.num_classes;
  for (const Sample& x : split.samples)
    if (x.aligned() == (s == Subset::Aligned)) out.samples.push_back(x);
  BIASCKA_CHECK(!out.samples.empty(), split.dir, ": no ", subset_name(s), " samples (target ",
                s == Subset::Aligned ? "==" : "!=", " bias in the file names)");
  return out;
}

}  // namespace biascka::data
