#pragma once
// The built-in default dataset: Colored Fashion-MNIST, generated once from Debian's dataset-fashion-mnist
// package (/usr/share/datasets/fashion-mnist) into a cache folder and reused afterwards.
#include <string>

namespace biascka::data {

constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

// $BIASCKA_CACHE, else $XDG_CACHE_HOME/biascka, else ~/.cache/biascka.
std::string default_cache_dir();

// Returns <cache>/fashion-cmnist/cmnist/<pct>pct (with its valid folder inside and ../test beside it),
// generating it (seed 0, DisEnt palette) when missing. Idempotent, safe against interruption (temporary
// folders renamed when complete) and against concurrent callers (a lock file). `idx_dir` overrides the
// Fashion-MNIST folder (tests). Throws with the apt-get command when the package is missing.
std::string ensure_default_dataset(double pct = 5, const std::string& cache_dir = "",
                                   const std::string& idx_dir = "", bool verbose = false);

}  // namespace biascka::data
