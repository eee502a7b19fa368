#pragma once
// Corrupted CIFAR-10 generator (LfF's "Type0" protocol) writing the DisEnt layout:
//
//   out_root/cifar10c/{pct}pct/{align,conflict}/{class}/{id}_{target}_{bias}.png   (train)
//   out_root/cifar10c/{pct}pct/valid/{class}/{id}_{target}_{bias}.png               (same images per pct)
//   out_root/cifar10c/test/{class}/{id}_{target}_{bias}.png
//   out_root/cifar10c/manifest.json                                                  (options and counts)
//
// bias is the index of the corruption applied (data/corruptions.h order). In train, class k gets
// corruption k except for a fraction pct% of each class (the bias-conflicting samples), which get the
// 9 other corruptions in turn; valid and test corruptions are spread evenly over all 10. Valid is
// valid_fraction of each class of the CIFAR training batches, train the rest; test is test_batch.
// {id} is the image's index in the CIFAR training batches (train, valid) or in test_batch (test).
#include <cstdint>
#include <string>
#include <vector>

namespace biascka::data {

struct Cifar10cOptions {
  std::string cifar_dir, out_root;  // the CIFAR-10 binary batches (or their parent); where cifar10c/ goes
  std::vector<double> pcts{0.5, 1, 2, 5};  // percent of bias-conflicting training samples, one dataset each
  int severity = 5;                        // Hendrycks severity 1..5
  double valid_fraction = 1.0 / 12;
  uint64_t seed = 0;
  int64_t max_train = 0;  // > 0: use only the first max_train training images (quick runs)
};

// Writes the dataset into out_root/cifar10c.partial and renames it to out_root/cifar10c when complete,
// so an interrupted run never looks complete (a leftover .partial is removed by the next run). Throws if
// out_root/cifar10c already exists. Images are corrupted and encoded in parallel.
void make_cifar10c(const Cifar10cOptions& o);

// The folder name of a conflicting percentage: 0.5 -> "0.5pct", 1 -> "1pct".
std::string pct_folder(double pct);

}  // namespace biascka::data
