// All-pairs CKA on the GPU. Activations are ResNet18's own (random init, eval mode) on n = 512 random images
// at 28, 32 and 224 px, captured once per size and kept on the GPU.
//
// cka_grams/<px>/<tf32|fp32>/{fused,cublas}: the 69 layers' centred Grams of one batch.
//   fused:  what the accumulator runs (engine/cuda/cka_gram.h): column means, the fused Gram (centring folded
//   into
//           its loads, upper-triangle tiles, split over d, offsets in its epilogue), centring in place: three
//           launches for all layers.
//   cublas: per layer cuBLAS X X^T (cublasGemmEx, full n x n, TF32 or SGEMM's FP32) then the separate
//           centring kernel (kernels::cka_center_dense, row sums then centring).
// cka_gram_layer/<px>/<d>/<tf32|fp32>/{fused,cublas}: the same for one layer of each distinct width d.
// Counters: ms per batch of Grams; TFLOPs_gemm = 2 n^2 d / time, the rate a full X X^T product would need to
// match it (what both variants are compared on), as % of the GPU's TF32 or FP32 peak (peak_TFLOPs: SMs x
// clock x 2048 (TF32 tensor cores, sm_90) or 256 (FP32) flops per cycle); the fused kernel does
// n(n+1)/2-ish of that work (upper tiles only).
// cka_end_to_end/<px>/<tf32|fp32>/<overlap|serial>: `biascka cka`'s work for 10,000 images at batch 512
//   (19 x 512 + 272), 69 layers: forward passes and all-pairs minibatch CKA, the final matrix on the host;
//   images_per_s is what bench/peers/torch_cka.py prints for the same run. cka_forward_only/<px>: the
//   forward passes alone, the floor the overlap approaches.
// Time is GPU time between CUDA events (Grams) or wall time with the GPU synchronised (end to end). Without a
// GPU nothing is registered.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "engine/device.h"
#include "engine/tensor.h"

#ifdef BIASCKA_WITH_CUDA
#include "cka/accumulator.h"
#include "cka/centering.h"
#include "engine/autograd.h"
#include "engine/cuda/check.h"
#include "engine/cuda/cka_gram.h"
#include "engine/cuda/runtime.h"
#include "engine/random.h"
#include "kernels/kernels.h"
#include "models/resnet18.h"
#endif

namespace biascka {
namespace {

#ifdef BIASCKA_WITH_CUDA

constexpr int64_t kBatch = 512;
constexpr int64_t kImages = 10000;
const Device kGpu = Device::cuda(0);

struct Peaks {
  double tf32 = 0, fp32 = 0;  // flop/s
};
Peaks peaks() {
  int sms = 0, khz = 0, major = 0;
  BIASCKA_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
  BIASCKA_CUDA_CHECK(cudaDeviceGetAttribute(&khz, cudaDevAttrClockRate, 0));
  BIASCKA_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, 0));
  const double hz = double(khz) * 1e3 * sms;
  // Dense TF32 tensor-core flops per SM per cycle: 2048 on Hopper (H100/H200: 495 TFLOP/s), 1024 on Ampere.
  return {hz * (major >= 9 ? 2048 : 1024), hz * 256};
}

// A batch of random images on the GPU, [count, px, px, 3].
Tensor gpu_images(int64_t count, int px) { return rand_normal({count, px, px, 3}, 0.f, 1.f, 17).to(kGpu); }

// ResNet18's 69 layer outputs for n = 512 images of `px`, on the GPU (captured once per size).
const std::vector<Tensor>& activations(int px) {
  static std::map<int, std::vector<Tensor>> cache;
  auto it = cache.find(px);
  if (it != cache.end()) return it->second;
  ResNet18 model(ResNet18Config{}, 0, kGpu);
  model.eval();
  std::vector<Tensor> acts;
  {
    NoGrad ng;
    model.forward(gpu_images(kBatch, px), [&](const std::string&, const Tensor& t) { acts.push_back(t); });
  }
  cuda::synchronize(0);
  return cache.emplace(px, std::move(acts)).first->second;
}

int64_t width(const Tensor& t) { return t.numel() / t.size(0); }

// Grams of layers `which` of `px`'s activations per iteration, fused or cuBLAS + centring; GPU time.
void bench_grams(benchmark::State& state, int px, std::vector<size_t> which, bool tf32, bool fused) {
  const std::vector<Tensor>& acts = activations(px);
  const cka::Estimator e = cka::Estimator::Unbiased;
  const int64_t n = kBatch, ld = cka::packed_size(n, e), layers = static_cast<int64_t>(which.size());
  cuda::set_device(0);
  cudaStream_t s = cuda::stream(0);
  std::vector<const float*> ptrs;
  std::vector<int64_t> widths;
  double gemm_flops = 0;
  for (size_t i : which) {
    ptrs.push_back(acts[i].data<float>());
    widths.push_back(width(acts[i]));
    gemm_flops += 2.0 * n * n * double(widths.back());
  }
  Tensor g = Tensor::empty({layers, ld}, DType::F32, kGpu);
  Tensor k = Tensor::empty({n, n}, DType::F32, kGpu);
  Tensor scratch = Tensor::empty({n}, DType::F64, kGpu);
  cuda::CudaGramBuilder builder(0);
  set_math_mode(kGpu, tf32 ? MathMode::Tf32 : MathMode::Exact);
  cublasHandle_t h = cuda::cublas(0);
  const float one = 1.f, zero = 0.f;
  auto run = [&] {
    if (fused) {
      builder.build(ptrs, widths, n, e == cka::Estimator::Unbiased, g.data<float>(), ld, s);
      return;
    }
    for (int64_t l = 0; l < layers; ++l) {
      // Row-major X [n, d] is column-major X^T (d x n); K = (X^T)^T X^T = X X^T.
      const int d = static_cast<int>(widths[l]);
      BIASCKA_CUBLAS_CHECK(
          cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, int(n), int(n), d, &one, ptrs[l], CUDA_R_32F, d, ptrs[l],
                       CUDA_R_32F, d, &zero, k.data<float>(), CUDA_R_32F, int(n),
                       tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
      kernels::cka_center_dense(k.data<float>(), n, true, g.data<float>() + l * ld, scratch.data<double>(),
                                s);
    }
  };
  cudaEvent_t start, stop;
  BIASCKA_CUDA_CHECK(cudaEventCreate(&start));
  BIASCKA_CUDA_CHECK(cudaEventCreate(&stop));
  run();  // warm-up: buffers, cuBLAS heuristics
  double total = 0;
  for (auto _ : state) {
    BIASCKA_CUDA_CHECK(cudaEventRecord(start, s));
    run();
    BIASCKA_CUDA_CHECK(cudaEventRecord(stop, s));
    BIASCKA_CUDA_CHECK(cudaEventSynchronize(stop));
    float ms = 0;
    BIASCKA_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    state.SetIterationTime(ms * 1e-3);
    total += ms * 1e-3;
  }
  BIASCKA_CUDA_CHECK(cudaEventDestroy(start));
  BIASCKA_CUDA_CHECK(cudaEventDestroy(stop));
  const double per = total / double(state.iterations());
  const Peaks pk = peaks();
  const double rate = gemm_flops / per;
  state.counters["ms"] = per * 1e3;
  state.counters["layers"] = double(layers);
  state.counters["TFLOPs_gemm"] = rate * 1e-12;
  state.counters["peak_TFLOPs"] = (tf32 ? pk.tf32 : pk.fp32) * 1e-12;
  state.counters["pct_of_peak"] = 100.0 * rate / (tf32 ? pk.tf32 : pk.fp32);
  state.counters["pct_of_fp32_peak"] = 100.0 * rate / pk.fp32;
}

void register_grams() {
  for (int px : {28, 32, 224})
    for (bool tf32 : {true, false}) {
      const std::string tag = std::to_string(px) + "/" + (tf32 ? "tf32" : "fp32");
      for (bool fused : {true, false})
        benchmark::RegisterBenchmark(("cka_grams/" + tag + (fused ? "/fused" : "/cublas")).c_str(),
                                     [px, tf32, fused](benchmark::State& st) {
                                       std::vector<size_t> all(activations(px).size());
                                       for (size_t i = 0; i < all.size(); ++i) all[i] = i;
                                       bench_grams(st, px, all, tf32, fused);
                                     })
            ->UseManualTime()
            ->Unit(benchmark::kMillisecond);
    }
  // One layer per distinct width (shapes from a one-image CPU forward: no GPU work at registration).
  for (int px : {28, 32, 224}) {
    ResNet18 cpu_model(ResNet18Config{}, 0);
    cpu_model.eval();
    std::vector<int64_t> widths;
    {
      NoGrad ng;
      cpu_model.forward(rand_normal({1, px, px, 3}, 0.f, 1.f, 1),
                        [&](const std::string&, const Tensor& t) { widths.push_back(t.numel()); });
    }
    std::set<int64_t> seen;
    for (size_t i = 0; i < widths.size(); ++i) {
      if (!seen.insert(widths[i]).second) continue;
      for (bool tf32 : {true, false})
        for (bool fused : {true, false})
          benchmark::RegisterBenchmark(
              ("cka_gram_layer/" + std::to_string(px) + "/" + std::to_string(widths[i]) +
               (tf32 ? "/tf32" : "/fp32") + (fused ? "/fused" : "/cublas"))
                  .c_str(),
              [px, i, tf32, fused](benchmark::State& st) { bench_grams(st, px, {i}, tf32, fused); })
              ->UseManualTime()
              ->Unit(benchmark::kMicrosecond);
    }
  }
}

// 10,000 images through ResNet18 at batch 512 (the last batch 272), the activations into a GPU accumulator,
// the matrix back on the host. `cka` false: the forward passes alone.
void bench_end_to_end(benchmark::State& state, int px, bool tf32, bool overlap, bool cka) {
  set_math_mode(kGpu, tf32 ? MathMode::Tf32 : MathMode::Exact);  // convolutions and Grams
  ResNet18 model(ResNet18Config{}, 0, kGpu);
  model.eval();
  const std::vector<std::string> names = model.layer_names();
  const Tensor full = gpu_images(kBatch, px);
  const int64_t last = kImages % kBatch;
  Tensor tail = Tensor::empty({last, px, px, 3}, DType::F32, kGpu);
  device_copy(tail.raw_data(), kGpu, full.raw_data(), kGpu, tail.nbytes());
  cka::CkaOptions o;
  o.device = kGpu;
  o.overlap = overlap;
  // The accumulator (its device buffers and events) is made outside the timed region, as the peer's are.
  auto feed = [&](cka::MinibatchCka* acc, int64_t images) {
    NoGrad ng;
    for (int64_t done = 0; done < images; done += kBatch) {
      const Tensor& x = images - done >= kBatch ? full : tail;
      std::vector<Tensor> acts;
      acts.reserve(names.size());
      model.forward(x, [&](const std::string&, const Tensor& t) {
        if (acc) acts.push_back(t);
      });
      if (acc) acc->add_batch(acts);
    }
    if (acc) benchmark::DoNotOptimize(acc->result().matrix.data<double>());
    cuda::synchronize(0);
  };
  {
    std::optional<cka::MinibatchCka> warm;
    if (cka) warm.emplace(names, std::vector<std::string>{}, o);
    feed(warm ? &*warm : nullptr, 2 * kBatch);  // warm-up: cuDNN algorithm search, allocator, cuBLAS
  }
  double wall = 0, gram_s = 0, hsic_s = 0;
  for (auto _ : state) {
    std::optional<cka::MinibatchCka> acc;
    if (cka) acc.emplace(names, std::vector<std::string>{}, o);
    cuda::synchronize(0);
    cuda::allocator(0).reset_peak();
    const auto t0 = std::chrono::steady_clock::now();
    feed(acc ? &*acc : nullptr, kImages);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    state.SetIterationTime(s);
    wall += s;
    if (acc) {
      gram_s += acc->timing().gram_s;
      hsic_s += acc->timing().hsic_s;
    }
  }
  const double it = double(state.iterations());
  state.counters["images_per_s"] = kImages * it / wall;
  state.counters["seconds"] = wall / it;
  if (cka) {
    state.counters["gpu_grams_s"] = gram_s / it;
    state.counters["gpu_hsic_s"] = hsic_s / it;
  }
  const AllocatorStats st = cuda::allocator(0).stats();
  state.counters["peak_MiB"] = double(st.peak_in_use) / (1 << 20);
  set_math_mode(kGpu, MathMode::Tf32);
}

void register_end_to_end() {
  for (int px : {28, 32, 224}) {
    for (bool tf32 : {true, false})
      for (bool overlap : {true, false}) {
        if (!tf32 && !overlap) continue;
        benchmark::RegisterBenchmark(
            ("cka_end_to_end/" + std::to_string(px) + (tf32 ? "/tf32" : "/fp32") +
             (overlap ? "/overlap" : "/serial"))
                .c_str(),
            [px, tf32, overlap](benchmark::State& st) { bench_end_to_end(st, px, tf32, overlap, true); })
            ->UseManualTime()
            ->Iterations(2)
            ->Unit(benchmark::kSecond);
      }
    benchmark::RegisterBenchmark(("cka_forward_only/" + std::to_string(px)).c_str(),
                                 [px](benchmark::State& st) { bench_end_to_end(st, px, true, true, false); })
        ->UseManualTime()
        ->Iterations(2)
        ->Unit(benchmark::kSecond);
  }
}

#endif  // BIASCKA_WITH_CUDA

}  // namespace
}  // namespace biascka

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (biascka::cuda_device_count() == 0) {
    std::printf("bench_cka_cuda: %s; no benchmarks registered\n",
                biascka::cuda_compiled() ? "no CUDA GPU on this machine" : "this build has no CUDA backend");
    return 0;
  }
#ifdef BIASCKA_WITH_CUDA
  const biascka::Peaks pk = biascka::peaks();
  std::printf("bench_cka_cuda on %s: peaks TF32 %.0f TFLOP/s (dense tensor cores), FP32 %.1f TFLOP/s\n",
              biascka::cuda::device_name(0).c_str(), pk.tf32 * 1e-12, pk.fp32 * 1e-12);
  biascka::register_grams();
  biascka::register_end_to_end();
#endif
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
