#pragma once
// The data side of `biascka reproduce`: with --download, fetching and building the paper's datasets under
// the data root before the grid starts; always, checking the datasets the grid will train on and refusing
// a broken root with `biascka data check`'s report.
//
//   ROOT/downloads/mnist/*.gz                 MNIST, fetched and verified (data/fetch.h)
//   ROOT/downloads/cifar10/cifar-10-binary.tar.gz and cifar-10-batches-bin/
//   ROOT/cmnist/{0.5,1,2,5}pct/..., ROOT/cmnist/test/       Colored MNIST (data/cmnist.h, default options)
//   ROOT/cifar10c/{0.5,1,2,5}pct/..., ROOT/cifar10c/test/   Corrupted CIFAR-10 (data/cifar10c.h)
//   ROOT/bffhq/                               not downloadable: where to get it is printed when it is missing
#include <string>
#include <vector>

#include "data/fetch.h"
#include "workflows/progress.h"

namespace biascka::workflows {

struct PrepareOptions {
  std::string data_root;
  std::vector<std::string> datasets;  // of the grid: cmnist, cifar10c, bffhq
  data::FetchOptions fetch;
  std::string manifest;  // "" = the built-in one
  ProgressMode progress = ProgressMode::Auto;
};

// The paper's conflicting percentages, which --download builds for every synthetic dataset.
const std::vector<double>& paper_pcts();

// Fetches what is missing and builds each dataset that is not complete yet (a dataset whose folders all
// exist is left alone, so a second run downloads nothing). Holds ROOT/.prepare.lock meanwhile: shards of
// one grid started together wait for the first to finish instead of building twice.
void prepare_datasets(const PrepareOptions& o);

// `data check` of the datasets behind these pct folders (e.g. ROOT/cmnist/5pct), each at its pct. Prints
// the report to stderr unless quiet (always when a dataset is broken) and throws one line naming the
// broken datasets.
void check_training_data(const std::vector<std::string>& pct_dirs, ProgressMode progress);

}  // namespace biascka::workflows
