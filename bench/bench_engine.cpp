// CPU engine microbenchmarks: sgemm (the BLAS in use and the internal GEMM), conv2d forward and both
// backward passes at ResNet18's 28x28 shapes (oneDNN and the im2col reference path), and one full
// training step. Counters report GFLOP/s (and images/s for the step).
//   build/bin/bench_engine --benchmark_filter=Conv
#include <benchmark/benchmark.h>

#include <cstdint>

#include "engine/adam.h"
#include "engine/autograd.h"
#include "engine/gemm.h"
#include "engine/ops/conv2d.h"
#include "engine/random.h"
#include "losses/objectives.h"
#include "models/resnet18.h"

namespace biascka {
namespace {

void BM_Sgemm(benchmark::State& state, bool internal) {
  const int64_t n = state.range(0);
  const Tensor a = rand_normal({n, n}, 0, 1, 1), b = rand_normal({n, n}, 0, 1, 2);
  Tensor c = Tensor::zeros({n, n});
  for (auto _ : state) {
    if (internal)
      gemm_internal<float>(false, false, n, n, n, 1.f, a.data<float>(), n, b.data<float>(), n, 0.f,
                           c.data<float>(), n);
    else
      gemm<float>(false, false, n, n, n, 1.f, a.data<float>(), n, b.data<float>(), n, 0.f, c.data<float>(),
                  n);
    benchmark::DoNotOptimize(c.data<float>());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(
      2.0 * n * n * n, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}
BENCHMARK_CAPTURE(BM_Sgemm, blas, false)->Arg(256)->Arg(1024)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Sgemm, internal, true)->Arg(256)->Arg(1024)->Unit(benchmark::kMillisecond);

// ResNet18's distinct convolutions for a 28x28 input at batch 128: {in, out, size, kernel, stride, pad}.
struct ConvShape {
  int64_t c, o, h, k, s, p;
};
constexpr ConvShape kShapes[] = {{3, 64, 28, 7, 2, 3},   {64, 64, 7, 3, 1, 1},   {64, 128, 7, 3, 2, 1},
                                 {64, 128, 7, 1, 2, 0},  {128, 128, 4, 3, 1, 1}, {128, 256, 4, 3, 2, 1},
                                 {256, 256, 2, 3, 1, 1}, {256, 512, 2, 3, 2, 1}, {512, 512, 1, 3, 1, 1}};

void BM_Conv(benchmark::State& state, CpuConvPath path, bool backward) {
  if (path == CpuConvPath::OneDnn && !onednn_available()) {
    state.SkipWithError("no oneDNN in this build");
    return;
  }
  set_cpu_conv_path(path);
  const ConvShape s = kShapes[state.range(0)];
  const int64_t n = 128;
  Tensor x = rand_normal({n, s.h, s.h, s.c}, 0, 1, 1), w = rand_normal({s.o, s.c, s.k, s.k}, 0, 0.1f, 2);
  x.set_requires_grad(backward);
  w.set_requires_grad(backward);
  const int64_t oh = (s.h + 2 * s.p - s.k) / s.s + 1;
  for (auto _ : state) {
    Tensor y = conv2d(x, w, {static_cast<int>(s.s), static_cast<int>(s.p)});
    if (backward) {
      x.zero_grad();
      w.zero_grad();
      y.backward(Tensor::full(y.shape(), 1.0));
    }
    benchmark::DoNotOptimize(y.raw_data());
  }
  const double flops = 2.0 * n * oh * oh * s.o * s.c * s.k * s.k * (backward ? 3 : 1);
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
  state.SetLabel("c" + std::to_string(s.c) + " o" + std::to_string(s.o) + " " + std::to_string(s.h) + "px k" +
                 std::to_string(s.k) + " s" + std::to_string(s.s));
  set_cpu_conv_path(CpuConvPath::Auto);
}
BENCHMARK_CAPTURE(BM_Conv, onednn_fwd, CpuConvPath::OneDnn, false)
    ->DenseRange(0, 8)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Conv, onednn_fwd_bwd, CpuConvPath::OneDnn, true)
    ->DenseRange(0, 8)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Conv, im2col_fwd, CpuConvPath::Reference, false)
    ->DenseRange(0, 8)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Conv, im2col_fwd_bwd, CpuConvPath::Reference, true)
    ->DenseRange(0, 8)
    ->Unit(benchmark::kMillisecond);

// One ResNet18 training step (forward, fused cross-entropy, backward, Adam) at batch 128, 28x28.
void BM_TrainStep(benchmark::State& state) {
  const int64_t b = state.range(0), size = state.range(1);
  ResNet18 model({}, 0);
  model.train();
  Adam opt(model.named_parameters());
  const Tensor x = rand_normal({b, size, size, 3}, 0, 1, 1), y = rand_int({b}, 10, 2);
  for (auto _ : state) {
    opt.zero_grad();
    const Tensor out = model.forward(x);
    out.backward(losses::loss_and_grad(losses::objective("sce"), out.detach(), y).grad);
    opt.step();
  }
  state.counters["images/s"] =
      benchmark::Counter(static_cast<double>(b), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_TrainStep)->Args({128, 28})->Unit(benchmark::kMillisecond)->MinTime(5.0);

}  // namespace
}  // namespace biascka

BENCHMARK_MAIN();
