// All-pairs CKA on the CPU. BM_CkaResNet18: a randomly initialised ResNet18 (eval mode) on 1,024 random
// 28x28 images in batches of 256, all 69 layers, reporting the time split between the forward passes, the
// Grams (feature centring, products, Gram centring) and the HSIC products; the Gram products' GFLOP/s as
// performed (syrk: n(n+1)d) and as a full gemm's 2n^2 d, against plain sgemm's X X^T on the same shapes.
// Args {probes, bootstrap}: with the two one-hot label probes (10 classes) as extra layers, and with the
// bootstrap's kept batches and 1000 replicates (total_s includes make_report, where the bootstrap runs).
// BM_Bootstrap: the bootstrap alone on a kept history of T batches of L x L layers (the intervals' cost at
// the batch counts of real runs: 10,000 samples in batches of 512 are 20 batches).
// BM_GramProduct / BM_Sgemm: single layer shapes. Peak memory (1,024 vs 4,096 images) is measured on the
// `biascka cka` command instead (/usr/bin/time -v), where the data loader is part of the picture.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "cka/accumulator.h"
#include "cka/bootstrap.h"
#include "cka/gram.h"
#include "cka/output.h"
#include "cka/probes.h"
#include "engine/autograd.h"
#include "engine/gemm.h"
#include "engine/random.h"
#include "models/resnet18.h"

namespace {
using namespace biascka;
using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

void BM_CkaResNet18(benchmark::State& state) {
  const int64_t images = 1024, batch = 256, classes = 10;
  const bool probes = state.range(0) != 0;
  ResNet18 model(ResNet18Config{}, 0);
  model.eval();
  const std::vector<std::string> layers = model.layer_names();
  std::vector<std::string> names = layers;
  if (probes) names.insert(names.end(), {cka::probe_layer_name("target"), cka::probe_layer_name("bias")});
  cka::CkaOptions options;
  options.bootstrap = state.range(1);
  double forward_s = 0, gram_s = 0, product_s = 0, hsic_s = 0, gram_flops = 0, gemm_equiv_flops = 0;
  double sgemm_s = 0, sgemm_flops = 0, total_s = 0;
  for (auto _ : state) {
    const auto start = Clock::now();
    cka::MinibatchCka acc(names, {}, options);
    for (int64_t b0 = 0; b0 < images; b0 += batch) {
      const Tensor x = rand_normal({batch, 28, 28, 3}, 0.f, 1.f, 7, static_cast<uint64_t>(b0));
      std::vector<Tensor> acts(names.size());
      const auto t0 = Clock::now();
      {
        NoGrad ng;
        size_t i = 0;
        model.forward(x, [&](const std::string&, const Tensor& t) {
          if (i < layers.size()) acts[i++] = t;
        });
      }
      if (probes)
        for (uint64_t p = 0; p < 2; ++p)
          acts[layers.size() + p] = cka::one_hot(
              rand_int({batch}, classes, 8, 2 * static_cast<uint64_t>(b0) + p), classes, "bench");
      forward_s += since(t0);
      acc.add_batch(acts);
      for (const Tensor& a : acts) gemm_equiv_flops += 2.0 * batch * a.numel();  // 2 n^2 d per layer
      if (b0 == 0) {  // plain sgemm X X^T on the same layer shapes, for comparison
        for (const Tensor& a : acts) {
          const int64_t d = a.numel() / batch;
          std::vector<float> k(static_cast<size_t>(batch * batch));
          const auto t1 = Clock::now();
          gemm<float>(false, true, batch, batch, d, 1.f, a.data<float>(), d, a.data<float>(), d, 0.f,
                      k.data(), batch);
          sgemm_s += since(t1);
          sgemm_flops += 2.0 * batch * batch * d;
        }
      }
    }
    benchmark::DoNotOptimize(cka::make_report(acc, batch, false).matrix.data<double>());
    total_s += since(start);
    gram_s += acc.timing().gram_s;
    product_s += acc.timing().product_s;
    hsic_s += acc.timing().hsic_s;
    gram_flops += acc.timing().gram_flops;
  }
  const double it = static_cast<double>(state.iterations());
  state.counters["total_s"] = total_s / it;
  state.counters["forward_s"] = forward_s / it;
  state.counters["grams_s"] = gram_s / it;
  state.counters["gram_products_s"] = product_s / it;
  state.counters["hsic_s"] = hsic_s / it;
  // Performed flops (syrk: n(n+1)d) and what a full gemm would have to reach in the same time (2 n^2 d).
  state.counters["gram_GFLOPs"] = gram_flops / product_s * 1e-9;
  state.counters["gram_gemm_equiv_GFLOPs"] = gemm_equiv_flops / product_s * 1e-9;
  state.counters["sgemm_GFLOPs"] = sgemm_flops / sgemm_s * 1e-9;
  state.SetLabel(blas_name());
}
BENCHMARK(BM_CkaResNet18)
    ->Args({0, 0})
    ->Args({1, 0})
    ->Args({0, 1000})
    ->Args({1, 1000})
    ->Unit(benchmark::kSecond)
    ->Iterations(1)
    ->UseRealTime();

void BM_Bootstrap(benchmark::State& state) {
  const int64_t t = state.range(0), l = state.range(1);
  cka::BatchHistory h;
  h.batches = t;
  const Tensor x = rand_uniform({t, l, l}, 0.5f, 1.f, 3);
  h.pairs.assign(x.data<float>(), x.data<float>() + x.numel());
  for (int64_t b = 0; b < t; ++b)
    for (int64_t i = 0; i < l; ++i) h.self_a.push_back(h.pairs[static_cast<size_t>((b * l + i) * l + i)]);
  h.self_b = h.self_a;
  for (auto _ : state)
    benchmark::DoNotOptimize(cka::bootstrap_intervals(h, l, l, {1000, 0, 0.95}).low.data<double>());
}
BENCHMARK(BM_Bootstrap)->Args({20, 71})->Args({80, 71})->Unit(benchmark::kMillisecond)->UseRealTime();

// One layer's Gram product, as the accumulator runs it (syrk with OpenBLAS) and as a plain sgemm.
void gram_or_sgemm(benchmark::State& state, bool syrk) {
  const int64_t n = state.range(0), d = state.range(1);
  const Tensor x = rand_normal({n, d}, 0.f, 1.f, 3);
  std::vector<float> k(static_cast<size_t>(n * n));
  double flops = 0;
  for (auto _ : state) {
    if (syrk)
      flops += cka::linear_gram(x.data<float>(), n, d, k.data());
    else {
      gemm<float>(false, true, n, n, d, 1.f, x.data<float>(), d, x.data<float>(), d, 0.f, k.data(), n);
      flops += 2.0 * n * n * d;
    }
    benchmark::DoNotOptimize(k.data());
  }
  state.counters["GFLOPs"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsRate);
}
void BM_GramProduct(benchmark::State& s) { gram_or_sgemm(s, true); }
void BM_Sgemm(benchmark::State& s) { gram_or_sgemm(s, false); }
BENCHMARK(BM_GramProduct)
    ->Args({256, 12544})
    ->Args({256, 3136})
    ->Args({256, 512})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_Sgemm)
    ->Args({256, 12544})
    ->Args({256, 3136})
    ->Args({256, 512})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
// A square sgemm, the machine's reference peak.
void BM_SgemmSquare(benchmark::State& state) {
  const int64_t n = state.range(0);
  const Tensor a = rand_normal({n, n}, 0.f, 1.f, 4), b = rand_normal({n, n}, 0.f, 1.f, 5);
  std::vector<float> c(static_cast<size_t>(n * n));
  for (auto _ : state) {
    gemm<float>(false, false, n, n, n, 1.f, a.data<float>(), n, b.data<float>(), n, 0.f, c.data(), n);
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GFLOPs"] =
      benchmark::Counter(2.0 * n * n * n * state.iterations() * 1e-9, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_SgemmSquare)->Arg(1024)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
