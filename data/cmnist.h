#pragma once
// Colored MNIST (DESIGN.md, Data) from any IDX digit-style set (MNIST, Fashion-MNIST): each image's strokes
// are multiplied by a colour, the bias label. In the train split a fraction pct of each class gets one of
// the 9 other colours (spread evenly), the rest the class's own colour; valid and test colours are spread
// evenly over all 10. Written in the DisEnt layout:
//   out_root/cmnist/{0.5pct,1pct,2pct,5pct}/{align,conflict}/{class}/{id}_{target}_{bias}.png
//   out_root/cmnist/{pct}/valid/{id}_{target}_{bias}.png      out_root/cmnist/test/{class}/{id}_{t}_{b}.png
// plus out_root/cmnist/{pct}/generator.json (settings and counts).
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace biascka::data {

struct CmnistOptions {
  std::string idx_dir, out_root;
  std::vector<double> pcts{0.5, 1, 2, 5};  // percent of conflicting training samples per class
  std::string palette = "disent";          // disent | lff | a text file of 10 "r g b" lines (0-255)
  double color_std = 0.005;                // Gaussian colour noise per image, on colours in [0, 1]
  double valid_fraction = 1.0 / 12;        // of the IDX train set (5k of MNIST's 60k)
  uint64_t seed = 0;
  int64_t max_train = 0;   // 0 = all; else only the first N images of the IDX train set (tests, quick runs)
  int64_t max_test = 0;    // 0 = all (or max_train / 6 when max_train is set); else the first N test images
  bool overwrite = false;  // replace existing pct/test folders instead of keeping them
  bool verbose = false;    // one line per folder written
};

using Palette = std::array<std::array<uint8_t, 3>, 10>;
// disent (the default), lff (Learning from Failure's colour set) or a palette file.
Palette cmnist_palette(const std::string& name);

// "0.5pct", "1pct", ...
std::string pct_folder_name(double pct);

// Bias labels for n samples of class `label`: round(n * aligned_fraction) get `label`, the others are spread
// evenly over the remaining classes by rounded cumulative shares (LfF's make_attr_labels milestones), taken
// cyclically from label + 1 so that the rounding remainders fall on different colours in different classes
// and the colour totals over a balanced split are equal. The caller shuffles which sample gets which entry.
std::vector<int64_t> spread_bias_labels(int64_t n, int64_t label, double aligned_fraction,
                                        int64_t num_classes = 10);

// Generates every pct folder (and test) that does not exist yet (all of them with overwrite). Each folder
// is written under a hidden temporary name and renamed when complete.
void make_cmnist(const CmnistOptions& o);

}  // namespace biascka::data
