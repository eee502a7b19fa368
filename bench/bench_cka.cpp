// All-pairs CKA on the CPU. BM_CkaResNet18: a randomly initialised ResNet18 (eval mode) on 1,024 random
// 28x28 images in batches of 256, all 69 layers, reporting the time split between the forward passes, the
// Grams (feature centring, products, Gram centring) and the HSIC products; the Gram products' GFLOP/s as
// performed (syrk: n(n+1)d) and as a full gemm's 2n^2 d, against plain sgemm's X X^T on the same shapes.
// BM_GramProduct / BM_Sgemm: single layer shapes. Peak memory (1,024 vs 4,096 images) is measured on the
// `biascka cka` command instead (/usr/bin/time -v), where the data loader is part of the picture.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "cka/accumulator.h"
#include "cka/gram.h"
#include "engine/autograd.h"
#include "engine/gemm.h"
#include "engine/random.h"
#include "models/resnet18.h"

namespace {
using namespace biascka;
using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

void BM_CkaResNet18(benchmark::State& state) {
  const int64_t images = 1024, batch = 256;
  ResNet18 model(ResNet18Config{}, 0);
  model.eval();
  const std::vector<std::string> names = model.layer_names();
  double forward_s = 0, gram_s = 0, product_s = 0, hsic_s = 0, gram_flops = 0, gemm_equiv_flops = 0;
  double sgemm_s = 0, sgemm_flops = 0;
  for (auto _ : state) {
    cka::MinibatchCka acc(names);
    for (int64_t b0 = 0; b0 < images; b0 += batch) {
      const Tensor x = rand_normal({batch, 28, 28, 3}, 0.f, 1.f, 7, static_cast<uint64_t>(b0));
      std::vector<Tensor> acts(names.size());
      const auto t0 = Clock::now();
      {
        NoGrad ng;
        size_t i = 0;
        model.forward(x, [&](const std::string&, const Tensor& t) {
          if (i < acts.size()) acts[i++] = t;
        });
      }
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
    benchmark::DoNotOptimize(acc.result().matrix.data<double>());
    gram_s += acc.timing().gram_s;
    product_s += acc.timing().product_s;
    hsic_s += acc.timing().hsic_s;
    gram_flops += acc.timing().gram_flops;
  }
  const double it = static_cast<double>(state.iterations());
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
BENCHMARK(BM_CkaResNet18)->Unit(benchmark::kSecond)->Iterations(1)->UseRealTime();

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
