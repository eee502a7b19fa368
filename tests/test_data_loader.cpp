// The batch loader: coverage and order of epochs, partial last batch, normalisation, the decoded-image
// cache, subsets, resizing, and errors.
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <string>
#include <vector>

#include "data/loader.h"
#include "tests/test_data_fixtures.h"

namespace biascka {
namespace {
namespace fs = std::filesystem;
using test::expect_error;

constexpr int kN = 103;

const data::Split& split() {
  static const data::Split s =
      data::scan_split(test::write_random_split(test::temp_dir("data_loader_split"), kN));
  return s;
}

data::LoaderOptions options(int64_t batch, bool shuffle, uint64_t seed, int workers = 2) {
  data::LoaderOptions o;
  o.batch = batch;
  o.shuffle = shuffle;
  o.seed = seed;
  o.workers = workers;
  return o;
}

struct Epoch {
  std::vector<int64_t> indices, sizes, firsts;
  std::vector<float> pixels;
};

Epoch run_epoch(data::Loader& loader, int64_t epoch) {
  loader.start_epoch(epoch);
  Epoch e;
  data::Batch b;
  while (loader.next(b)) {
    const auto* idx = b.indices.data<int64_t>();
    e.indices.insert(e.indices.end(), idx, idx + b.size());
    e.sizes.push_back(b.size());
    e.firsts.push_back(b.first);
    const float* px = b.images.data<float>();
    e.pixels.insert(e.pixels.end(), px, px + b.images.numel());
    // Labels travel with their image.
    for (int64_t r = 0; r < b.size(); ++r) {
      const data::Sample& s = loader.split().samples[idx[r]];
      EXPECT_EQ(b.targets.data<int64_t>()[r], s.target);
      EXPECT_EQ(b.biases.data<int64_t>()[r], s.bias);
    }
  }
  return e;
}

TEST(DataLoader, EverySampleOncePerEpochWithThePartialBatchKept) {
  data::Loader loader(split(), options(16, true, 1));
  EXPECT_EQ(loader.size(), kN);
  EXPECT_EQ(loader.batches_per_epoch(), 7);
  for (int64_t epoch : {0, 1}) {
    const Epoch e = run_epoch(loader, epoch);
    EXPECT_EQ(e.sizes, (std::vector<int64_t>{16, 16, 16, 16, 16, 16, 7}));
    EXPECT_EQ(e.firsts, (std::vector<int64_t>{0, 16, 32, 48, 64, 80, 96}));
    std::vector<int64_t> sorted = e.indices;
    std::sort(sorted.begin(), sorted.end());
    std::vector<int64_t> all(kN);
    std::iota(all.begin(), all.end(), 0);
    EXPECT_EQ(sorted, all);
    EXPECT_NE(e.indices, all);  // shuffled
    EXPECT_EQ(e.indices, loader.epoch_order(epoch));
  }
  data::Batch b;
  EXPECT_FALSE(loader.next(b));  // the epoch is over until start_epoch
}

TEST(DataLoader, OrderIsAFunctionOfSeedAndEpochOnly) {
  data::Loader a(split(), options(10, true, 7, 1)), b(split(), options(32, true, 7, 3)),
      c(split(), options(10, true, 8));
  const Epoch a0 = run_epoch(a, 0), a1 = run_epoch(a, 1), a0_again = run_epoch(a, 0);
  EXPECT_EQ(a0.indices, run_epoch(b, 0).indices);  // batch size and worker count do not matter
  EXPECT_EQ(a1.indices, run_epoch(b, 1).indices);
  EXPECT_NE(a0.indices, a1.indices);
  EXPECT_EQ(a0.indices, a0_again.indices);
  EXPECT_EQ(a0.pixels, a0_again.pixels);
  EXPECT_NE(a0.indices, run_epoch(c, 0).indices);
  data::Loader plain(split(), options(50, false, 7));
  std::vector<int64_t> all(kN);
  std::iota(all.begin(), all.end(), 0);
  EXPECT_EQ(run_epoch(plain, 3).indices, all);  // no shuffle: the split's order
}

TEST(DataLoader, ResumesAnEpochAtABatch) {
  data::Loader loader(split(), options(16, true, 5));
  const Epoch full = run_epoch(loader, 2);
  loader.start_epoch(2, 4);
  std::vector<int64_t> rest, firsts;
  data::Batch b;
  while (loader.next(b)) {
    rest.insert(rest.end(), b.indices.data<int64_t>(), b.indices.data<int64_t>() + b.size());
    firsts.push_back(b.first);
  }
  EXPECT_EQ(rest, std::vector<int64_t>(full.indices.begin() + 64, full.indices.end()));
  EXPECT_EQ(firsts, (std::vector<int64_t>{64, 80, 96}));
  loader.start_epoch(2, 7);  // at the end: nothing left
  EXPECT_FALSE(loader.next(b));
  expect_error([&] { loader.start_epoch(2, 8); }, {"batch 8 of 7"});
}

TEST(DataLoader, NormalisesLikeToTensorThenMeanStd) {
  data::LoaderOptions o = options(8, false, 0);
  o.norm = data::normalization_preset("cifar10c");
  data::Loader loader(split(), o);
  data::Batch b;
  ASSERT_TRUE(loader.next(b));
  EXPECT_EQ(b.images.shape(), (Shape{8, 8, 8, 3}));
  EXPECT_EQ(b.images.dtype(), DType::F32);
  EXPECT_EQ(b.targets.dtype(), DType::I64);
  for (int r = 0; r < 8; ++r) {
    const data::Image img = data::decode_image(loader.split().samples[r].path);
    const float* px = b.images.data<float>() + r * 8 * 8 * 3;
    for (int i = 0; i < 8 * 8 * 3; ++i) {
      const int c = i % 3;
      EXPECT_NEAR(px[i], (img.pixels[i] / 255.0 - o.norm.mean[c]) / o.norm.std[c], 1e-5);
    }
  }
  data::Loader unit(split(), options(8, false, 0));
  ASSERT_TRUE(unit.next(b));
  const data::Image img0 = data::decode_image(unit.split().samples[0].path);
  EXPECT_FLOAT_EQ(b.images.data<float>()[5], img0.pixels[5] / 255.0f);
}

TEST(DataLoader, CacheOnAndOffGiveIdenticalBatches) {
  data::LoaderOptions on = options(20, true, 4), off = on;
  off.cache_bytes = 0;
  data::Loader cached(split(), on), uncached(split(), off);
  EXPECT_TRUE(cached.caching());
  EXPECT_FALSE(uncached.caching());
  for (int64_t epoch : {0, 1, 2}) {  // epochs 1 and 2 are served from the cache
    const Epoch a = run_epoch(cached, epoch), b = run_epoch(uncached, epoch);
    EXPECT_EQ(a.indices, b.indices);
    EXPECT_EQ(a.pixels, b.pixels);
  }
}

TEST(DataLoader, SubsetsAreDeterministic) {
  data::LoaderOptions o = options(16, true, 9);
  o.max_samples = 40;
  data::Loader a(split(), o), b(split(), o);
  EXPECT_EQ(a.size(), 40);
  EXPECT_EQ(a.batches_per_epoch(), 3);
  const Epoch a0 = run_epoch(a, 0), a1 = run_epoch(a, 1);
  std::vector<int64_t> s0 = a0.indices, s1 = a1.indices;
  std::sort(s0.begin(), s0.end());
  std::sort(s1.begin(), s1.end());
  EXPECT_EQ(s0, s1);  // the same 40 samples every epoch
  EXPECT_EQ(a0.indices, run_epoch(b, 0).indices);
  o.seed = 10;
  data::Loader c(split(), o);
  std::vector<int64_t> s2 = run_epoch(c, 0).indices;
  std::sort(s2.begin(), s2.end());
  EXPECT_NE(s0, s2);
}

TEST(DataLoader, ResizesWhenAskedAndRejectsMixedSizesOtherwise) {
  const std::string dir = test::temp_dir("data_loader_mixed");
  test::write_random_split(dir, 10);
  data::write_png(dir + "/0/zz_0_0.png", test::random_image(9, 7, 5));
  const data::Split s = data::scan_split(dir);
  data::Loader strict(s, options(4, false, 0));
  expect_error(
      [&] {
        data::Batch b;
        while (strict.next(b)) {
        }
      },
      {"zz_0_0.png", "9x7", "8x8", s.samples[0].path});
  data::LoaderOptions o = options(4, false, 0);
  o.image_size = 16;
  data::Loader resized(s, o);
  EXPECT_EQ(resized.height(), 16);
  const Epoch e = run_epoch(resized, 0);
  EXPECT_EQ(e.indices.size(), 11u);
  EXPECT_EQ(e.pixels.size(), 11u * 16 * 16 * 3);
}

TEST(DataLoader, UnreadableImagesAreNamed) {
  const std::string dir = test::temp_dir("data_loader_bad");
  test::write_random_split(dir, 12);
  std::ofstream(dir + "/1/bad_1_1.png") << "garbage";
  data::Loader loader(data::scan_split(dir), options(5, false, 0));
  expect_error(
      [&] {
        data::Batch b;
        while (loader.next(b)) {
        }
      },
      {dir + "/1/bad_1_1.png", "not an image"});
  // A fresh epoch after the error runs into the same file again, and says so again.
  loader.start_epoch(1);
  expect_error(
      [&] {
        data::Batch b;
        while (loader.next(b)) {
        }
      },
      {"bad_1_1.png"});
  expect_error([&] { data::Loader l(data::scan_split(dir), options(0, false, 0)); }, {"batch size 0"});
}

}  // namespace
}  // namespace biascka
