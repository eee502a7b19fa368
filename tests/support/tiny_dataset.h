#pragma once
// A tiny Colored-MNIST-style dataset (synthetic 12x12 digits, 10 classes) for tests that train: a few
// hundred images, so a ResNet18 epoch takes well under a second.
#include <cstdint>
#include <filesystem>
#include <string>

#include "data/cmnist.h"
#include "tests/test_data_fixtures.h"

namespace biascka::test {

// Builds (once per folder) ROOT/cmnist/{PCTpct,test} and returns ROOT/cmnist/PCTpct (5pct by default).
// pct: the conflicting share. Each class gets round(pct% of its images) conflicting ones, so a small set
// needs a larger pct to have any (training refuses a split without conflict/).
inline std::string tiny_cmnist(const std::string& root, int64_t n_train = 240, int64_t n_test = 80,
                               double pct = 5) {
  const std::string pct_dir = root + "/cmnist/" + data::pct_folder_name(pct);
  if (std::filesystem::exists(pct_dir)) return pct_dir;
  write_idx_set(root + "/idx", n_train, n_test);
  data::CmnistOptions o;
  o.idx_dir = root + "/idx";
  o.out_root = root;
  o.pcts = {pct};
  o.valid_fraction = 0.25;
  o.seed = 3;
  data::make_cmnist(o);
  return pct_dir;
}

}  // namespace biascka::test
