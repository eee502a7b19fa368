#pragma once
// The tiny reproduce grid the reproduce tests share: tests/test_reproduce.cpp runs it in process, and
// tests/test_slurm.sh through the program (tiny_grid_tool prints its flags). Tiny Colored MNIST
// (tiny_dataset.h), two objectives x two seeds, two epochs, Figure 1's CKA on layer4 only and 40 of the 80
// test images (every seed computes one: the same CKA work as the first seeds over all 80); cifar10c is asked
// for but absent, so the "missing dataset" path runs too.
#include <string>

#include "workflows/reproduce.h"

namespace biascka::test {

inline workflows::ReproduceOptions tiny_grid(const std::string& root, const std::string& out) {
  workflows::ReproduceOptions o;
  o.data_root = root;
  o.out = out;
  o.datasets = {"cmnist", "cifar10c"};  // cifar10c is absent: reported and skipped
  o.losses = "sce,nll";
  o.seeds = 2;
  o.epochs = 2;
  o.batch = 32;
  o.workers = 1;
  o.cka_batch = 20;
  o.cka_samples = 40;
  o.cka_layers = "layer4.*";
  o.progress = workflows::ProgressMode::Quiet;
  return o;
}

}  // namespace biascka::test
