#pragma once
// The DisEnt (Lee et al. 2021) dataset layout: images anywhere under a split folder, labels in the file
// name only, `{id}_{target}_{bias}.{png|jpg|jpeg}` (the id may contain underscores: target and bias are the
// last two fields). Flat and per-class folders both work. Training uses `align` + `conflict` of a pct
// folder together; valid lives in the pct folder (cmnist, cifar10c) or beside it (bffhq); test beside it.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace biascka::data {

struct Sample {
  std::string path;
  int64_t target = 0, bias = 0;
  bool aligned() const { return target == bias; }
};

struct Split {
  std::string dir;              // what was scanned (for merged splits: "A + B")
  std::vector<Sample> samples;  // sorted by path
  int64_t num_classes = 0;      // max label + 1 over targets and biases, or as given
  int64_t count_aligned() const;
  int64_t count_conflicting() const { return static_cast<int64_t>(samples.size()) - count_aligned(); }
};

// Labels are below this: the number of classes is inferred from them and sizes the model's last layer.
constexpr int64_t kMaxClasses = 100000;

// Parses "{id}_{target}_{bias}" from a file name (the extension is ignored). Throws naming `path` when the
// name does not end in two non-negative integers below kMaxClasses.
Sample parse_sample_name(const std::string& path);
bool is_image_file(const std::string& path);  // .png .jpg .jpeg, any case

// Scans dir recursively. num_classes > 0 checks every label against it; 0 infers it. Throws on a missing
// folder, an empty split, a file name without labels or a label out of range.
Split scan_split(const std::string& dir, int64_t num_classes = 0);

// pct_dir/align + pct_dir/conflict. Inferred classes (num_classes 0) are 0 .. largest label, and each of
// them must have training images: otherwise an error names the file with the largest label (a stray
// `99_99` image in a 10-class set). Valid and test splits are then read with the training split's count.
Split train_split(const std::string& pct_dir, int64_t num_classes = 0);
// pct_dir/valid, else pct_dir/../valid (B-FFHQ); throws "missing valid split" naming both places.
Split valid_split(const std::string& pct_dir, int64_t num_classes = 0);
// pct_dir/../test (or pct_dir/test); nullopt when neither exists.
std::optional<Split> test_split(const std::string& pct_dir, int64_t num_classes = 0);

// Where the valid/test folder of pct_dir is ("" when absent).
std::string find_valid_dir(const std::string& pct_dir);
std::string find_test_dir(const std::string& pct_dir);

}  // namespace biascka::data
