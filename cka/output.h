#pragma once
// A finished CKA computation and the files `biascka cka` writes for it: DIR/cka.json (layer names, matrix,
// settings; with a bootstrap ci_low/ci_high, with probes a probes section), DIR/cka.csv, DIR/cka.npy (float64
// matrix), DIR/cka_ci.npy (bootstrap: float64 [2, rows, cols], low then high), DIR/cka.png (heatmap, origin
// bottom-left; cells whose interval is wider than kWideInterval faded) and, with probes, DIR/probes.csv and
// DIR/probes.png (layer index against CKA with each probe, stage starts marked).
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "cka/accumulator.h"
#include "cka/bootstrap.h"
#include "cka/estimator.h"
#include "cka/probes.h"
#include "engine/device.h"
#include "engine/tensor.h"
#include "plot/heatmap.h"

namespace biascka::cka {

struct CkaReport {
  std::vector<std::string> layers, layers_b;  // rows and columns (layers_b == layers for one model)
  Tensor matrix;                              // F64 [rows, cols], NaN where undefined
  Tensor ci_low, ci_high;               // bootstrap intervals, F64 like matrix; undefined without a bootstrap
  BootstrapSpec bootstrap{0, 0, 0.95};  // replicates 0: none
  ProbeReport probes;                   // CKA of each layer with the label probes (probes.h)
  bool cross_model = false;
  bool full = false;  // one batch of all samples (full-data CKA) rather than minibatches
  Estimator estimator = Estimator::Unbiased;
  KernelSpec kernel;
  int64_t batch = 0, samples = 0, batches = 0, epochs_over_data = 1;
  std::vector<std::string> warnings;
  std::vector<std::pair<std::string, std::string>> sources;  // e.g. {"checkpoint", path}, {"data", dir}
  CkaTiming timing;                                          // Grams and HSIC (from the accumulator)
  Device gram_device = Device::cpu();  // where the Grams and products ran (the accumulator's backend)
  double forward_s = 0;                // model mode: the forward passes that produced the activations
};

// The report of a finished accumulator (matrix, warnings, counts, settings); with CkaOptions::bootstrap > 0
// and at least two batches, the bootstrap intervals (bootstrap.h; one batch: a warning, no intervals).
CkaReport make_report(const MinibatchCka& acc, int64_t batch, bool full);

// The bootstrap intervals of r's matrix (spec.replicates 0: nothing) from the kept batches `history` gives
// (called only when needed): with fewer than two batches a warning instead.
void add_intervals(CkaReport& r, const BootstrapSpec& spec, const std::function<BatchHistory()>& history);

// "linear CKA, unbiased HSIC, minibatches of 512 (10000 samples)" and the like.
std::string describe(const CkaReport& r);

// The most layers per axis cka.png shows (one pixel per cell at least; beyond it the picture would be
// tens of thousands of pixels wide). The matrix files have no limit.
inline constexpr int64_t kMaxHeatmapLayers = 4000;

// The heatmap of a report: CKA on 0..1, layer names on both axes, origin bottom-left. Cells shrink with
// the number of layers (10 to 48 pixels up to 400 layers, then down to 1) and names longer than 48
// characters are shortened in the middle, so the picture stays under kMaxHeatmapLayers + margins.
plot::HeatmapSpec heatmap_spec(const CkaReport& r);

// Checks before any work that the computation can give a result, and says what it will not give:
// throws "SOURCE: N samples, but the unbiased estimator needs at least 4 per batch"; returns the notes to
// print first (fewer samples than --batch: one batch of them all; more layers than cka.png can show: no
// picture).
std::vector<std::string> plan_notes(const std::string& source, int64_t samples, int64_t batch, bool full,
                                    Estimator estimator, size_t layers_a, size_t layers_b);

// cka.png fades cells whose bootstrap interval is wider than this (CKA units).
inline constexpr double kWideInterval = 0.1;

// Writes DIR/probes.csv (layer, index, each probe's value, ci_low, ci_high) and DIR/probes.png (nothing
// without probes). Returns the names of the files written.
std::vector<std::string> write_probe_outputs(const std::string& dir, const CkaReport& r);

// Writes DIR/cka.json, cka.csv, cka.npy and cka.png (each atomically), creating DIR; cka.png only when
// the layers fit it (kMaxHeatmapLayers); cka_ci.npy with intervals; the probe outputs with probes. Returns
// the names of the files written.
std::vector<std::string> write_cka_outputs(const std::string& dir, const CkaReport& r);

}  // namespace biascka::cka
