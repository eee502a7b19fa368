// Images per second of the batch loader alone on a generated Colored-MNIST-like split (28x28 PNGs): the
// first epoch (decoding) and later epochs (decoded-image cache), at 1 and 2 workers.
#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "data/cmnist.h"
#include "data/disent.h"
#include "data/idx.h"
#include "data/loader.h"

namespace {
namespace fs = std::filesystem;
using namespace biascka;

// 12k train images (10k in align+conflict after valid), generated once under the system temp folder.
const data::Split& bench_split() {
  static const data::Split split = [] {
    const fs::path base = fs::temp_directory_path() / "biascka_bench_loader";
    const fs::path pct = base / "out" / "cmnist" / "5pct";
    if (!fs::exists(pct)) {
      fs::create_directories(base / "idx");
      const int64_t n = 12000, test_n = 100;
      for (const auto& [prefix, count] :
           {std::pair{std::string("train"), n}, std::pair{std::string("t10k"), test_n}}) {
        std::vector<uint8_t> images(static_cast<size_t>(count) * 28 * 28), labels(static_cast<size_t>(count));
        for (int64_t i = 0; i < count; ++i) {
          labels[i] = static_cast<uint8_t>(i % 10);
          for (int p = 0; p < 28 * 28; ++p)  // a blob whose shape varies with i, so PNGs are digit-sized
            images[i * 784 + p] =
                ((p / 28 - 14) * (p / 28 - 14) + (p % 28 - 14) * (p % 28 - 14) < 40 + i % 60)
                    ? static_cast<uint8_t>(150 + (p * 7 + i) % 100)
                    : 0;
        }
        data::write_idx((base / "idx" / (prefix + "-images-idx3-ubyte")).string(), {count, 28, 28}, images);
        data::write_idx((base / "idx" / (prefix + "-labels-idx1-ubyte")).string(), {count}, labels);
      }
      data::CmnistOptions o;
      o.idx_dir = (base / "idx").string();
      o.out_root = (base / "out").string();
      o.pcts = {5};
      data::make_cmnist(o);
    }
    return data::train_split(pct.string());
  }();
  return split;
}

void run(benchmark::State& state, bool cached) {
  data::LoaderOptions o;
  o.batch = 512;
  o.shuffle = true;
  o.workers = static_cast<int>(state.range(0));
  o.cache_bytes = cached ? size_t(2) << 30 : 0;
  data::Loader loader(bench_split(), o);
  int64_t epoch = 0, images = 0;
  if (cached) {  // fill the cache first
    loader.start_epoch(epoch++);
    data::Batch b;
    while (loader.next(b)) {
    }
  }
  for (auto _ : state) {
    loader.start_epoch(epoch++);
    data::Batch b;
    while (loader.next(b)) images += b.size();
  }
  state.counters["images/s"] = benchmark::Counter(static_cast<double>(images), benchmark::Counter::kIsRate);
}

void BM_LoaderDecode(benchmark::State& state) { run(state, false); }
void BM_LoaderCached(benchmark::State& state) { run(state, true); }
BENCHMARK(BM_LoaderDecode)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_LoaderCached)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
