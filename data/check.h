#pragma once
// `biascka data check`: validates datasets in the DisEnt layout (data/disent.h) before hours of training
// depend on them, and prints a one-screen report.
//
// A root holds cmnist/, cifar10c/ and bffhq/ (each one present is checked), or the path is one dataset
// folder. For each dataset, for each pct folder (all present, or those asked for):
//   errors (the data cannot give the paper's numbers; `reproduce` refuses them):
//     - a missing split: PCT/align, PCT/conflict, the valid split (PCT/valid, or valid/ beside the pct
//       folders as in B-FFHQ), test/;
//     - a file name that does not parse as {id}_{target}_{bias}, a label outside the dataset's classes,
//       a file that is not a readable image;
//     - a bias-conflicting image under align/ or an aligned one under conflict/, an image under a class
//       folder named for another target;
//     - an id twice in one split, or in two of a pct's align, conflict and valid (which are drawn from one
//       pool and must not overlap; test is numbered separately, as the generators and DisEnt do);
//     - a class without training images, without bias-conflicting training images, or without test
//       images;
//   warnings (worth knowing, not fatal): counts or image sizes that differ from DisEnt's release where
//   they are known, pct folders the release has and this dataset lacks, images of different sizes, a
//   class without valid images (tiny generated sets).
#include <cstdint>
#include <string>
#include <vector>

namespace biascka::data {

struct SplitCounts {
  std::string name;  // "5pct train" (align + conflict), "5pct valid", "valid", "test"
  int64_t total = 0, aligned = 0;
  std::vector<int64_t> per_class, per_class_conflicting;  // by target label
  int width = 0, height = 0;                              // 0: none read, or sizes differ
  std::string release;  // what DisEnt's release has for this split, where known ("" otherwise)
  int64_t conflicting() const { return total - aligned; }
};

struct DatasetCheck {
  std::string name, dir;  // name: the folder's (cmnist, cifar10c, bffhq, or another)
  int64_t num_classes = 0;
  std::vector<SplitCounts> splits;
  std::vector<std::string> errors, warnings;
  bool ok() const { return errors.empty(); }
};

struct CheckOptions {
  std::vector<std::string> pcts;  // pct folder names to check ("5pct"); empty: every one present
  bool read_images = true;        // decode every image (that it is one, and its size)
};

// Checks one dataset folder (e.g. ROOT/cmnist). Never throws for problems in the data: they are findings.
DatasetCheck check_dataset(const std::string& dataset_dir, const CheckOptions& o = {});

// Checks `path`: one dataset folder (it holds pct folders or test/), else a root whose cmnist/, cifar10c/
// and bffhq/ are checked. Throws when the path is missing or holds none of them.
std::vector<DatasetCheck> check_data(const std::string& path, const CheckOptions& o = {});

// The one-screen report: per dataset a table of splits (images, aligned, conflicting, per-class range,
// image size, DisEnt's release counts) and the errors and warnings.
std::string format_check(const std::vector<DatasetCheck>& checks);

}  // namespace biascka::data
