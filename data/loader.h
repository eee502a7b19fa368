#pragma once
// The batch loader: decodes and normalises a split's images on worker threads, a few batches ahead of the
// consumer, and keeps the decoded 8-bit images in memory when the whole split fits (so epochs after the
// first do no decoding). The order of an epoch is a pure function of (seed, epoch): a resumed run sees the
// same batches. The last partial batch is kept, except a last batch of exactly one sample when
// drop_last_single is set (training: batch normalisation cannot train on one sample; see train.h).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "data/disent.h"
#include "data/normalize.h"
#include "engine/tensor.h"

namespace biascka::data {

struct LoaderOptions {
  int64_t batch = 512;
  bool shuffle = false;
  bool drop_last_single = false;  // an epoch of k * batch + 1 samples delivers k batches (training)
  uint64_t seed = 0;
  int workers = 0;     // 0 = hardware threads
  int image_size = 0;  // 0 = native (or the normalisation's default size); else resize to this square
  Normalization norm;
  int64_t max_samples = 0;  // 0 = all; else a deterministic subset: the first N of a seeded shuffle
  size_t cache_bytes = size_t(2) << 30;
};

struct Batch {
  Tensor images;           // F32 [B, H, W, 3], channels-last, normalised, CPU
  Tensor targets, biases;  // I64 [B]
  Tensor indices;          // I64 [B]: each sample's index in the split
  int64_t first = 0;       // position of the first sample in the epoch's order
  int64_t size() const { return targets.defined() ? targets.numel() : 0; }
};

class Loader {
 public:
  // Decodes the first image at once (its size fixes the batch shape, and a bad path fails here).
  Loader(Split split, LoaderOptions opts);
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  int64_t size() const;  // samples per epoch
  int64_t batches_per_epoch() const;
  int height() const;
  int width() const;
  int64_t num_classes() const;
  bool caching() const;  // whether decoded images are kept
  const Split& split() const;
  const LoaderOptions& options() const;
  // The split indices of an epoch in order (what next() will deliver).
  std::vector<int64_t> epoch_order(int64_t epoch) const;

  // Starts (or restarts) an epoch; next() without it starts epoch 0. `first_batch` > 0 resumes the epoch
  // there (a run interrupted mid-epoch): the batches before it are not decoded at all.
  void start_epoch(int64_t epoch, int64_t first_batch = 0);
  // The next batch of the epoch; false when the epoch is done. Rethrows a worker's error (naming the file).
  bool next(Batch& out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace biascka::data
