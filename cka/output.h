#pragma once
// A finished CKA computation and the files `biascka cka` writes for it: DIR/cka.json (layer names, matrix,
// settings), DIR/cka.csv, DIR/cka.npy (float64 matrix) and DIR/cka.png (heatmap, origin bottom-left).
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "cka/accumulator.h"
#include "cka/estimator.h"
#include "engine/tensor.h"
#include "plot/heatmap.h"

namespace biascka::cka {

struct CkaReport {
  std::vector<std::string> layers, layers_b;  // rows and columns (layers_b == layers for one model)
  Tensor matrix;                              // F64 [rows, cols], NaN where undefined
  bool cross_model = false;
  bool full = false;  // one batch of all samples (full-data CKA) rather than minibatches
  Estimator estimator = Estimator::Unbiased;
  KernelSpec kernel;
  int64_t batch = 0, samples = 0, batches = 0, epochs_over_data = 1;
  std::vector<std::string> warnings;
  std::vector<std::pair<std::string, std::string>> sources;  // e.g. {"checkpoint", path}, {"data", dir}
  CkaTiming timing;                                          // Grams and HSIC (from the accumulator)
  double forward_s = 0;  // model mode: the forward passes that produced the activations
};

// The report of a finished accumulator (matrix, warnings, counts, settings).
CkaReport make_report(const MinibatchCka& acc, int64_t batch, bool full);

// "linear CKA, unbiased HSIC, minibatches of 512 (10000 samples)" and the like.
std::string describe(const CkaReport& r);

// The heatmap of a report: CKA on 0..1, layer names on both axes, origin bottom-left.
plot::HeatmapSpec heatmap_spec(const CkaReport& r);

// Writes DIR/cka.json, cka.csv, cka.npy and cka.png (each atomically), creating DIR.
void write_cka_outputs(const std::string& dir, const CkaReport& r);

}  // namespace biascka::cka
