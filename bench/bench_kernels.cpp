// GPU time and achieved bandwidth of our own kernels at ResNet18's shapes: batch norm (train forward,
// backward), max-pool, global average pool, and Adam over ResNet18's 11.2M parameters. Shapes: batch 512
// at 28 and 32 px (the paper's CMNIST / CIFAR-10-C runs) and batch 64 at 224 px (B-FFHQ).
//
// Time is GPU time between CUDA events around kLaunches back-to-back launches (manual time, per launch).
// GB/s counts the bytes each kernel must move at least (every input read once, every output written
// once); the H200's peak is ~4.8 TB/s (~4.3 TB/s measured for a device-to-device copy). Without a GPU
// the program registers nothing and says why.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "engine/device.h"
#include "engine/tensor.h"

#ifdef BIASCKA_WITH_CUDA
#include "engine/cuda/check.h"
#include "engine/cuda/runtime.h"
#include "engine/random.h"
#include "kernels/kernels.h"
#include "models/resnet18.h"
#endif

namespace biascka {
namespace {

#ifdef BIASCKA_WITH_CUDA

constexpr int kLaunches = 20;

// Runs `launch` kLaunches times per iteration between two events; reports per-launch time and GB/s.
void time_gpu(benchmark::State& state, double bytes_per_launch,
              const std::function<void(cudaStream_t)>& launch) {
  cuda::set_device(0);
  cudaStream_t s = cuda::stream(0);
  cudaEvent_t start, stop;
  BIASCKA_CUDA_CHECK(cudaEventCreate(&start));
  BIASCKA_CUDA_CHECK(cudaEventCreate(&stop));
  launch(s);  // warm-up (first-touch, caches)
  double total_s = 0;
  int64_t launches = 0;
  for (auto _ : state) {
    BIASCKA_CUDA_CHECK(cudaEventRecord(start, s));
    for (int i = 0; i < kLaunches; ++i) launch(s);
    BIASCKA_CUDA_CHECK(cudaEventRecord(stop, s));
    BIASCKA_CUDA_CHECK(cudaEventSynchronize(stop));
    float ms = 0;
    BIASCKA_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    state.SetIterationTime(ms / 1e3 / kLaunches);
    total_s += ms / 1e3;
    launches += kLaunches;
  }
  BIASCKA_CUDA_CHECK(cudaEventDestroy(start));
  BIASCKA_CUDA_CHECK(cudaEventDestroy(stop));
  state.counters["GB/s"] = total_s > 0 ? bytes_per_launch * double(launches) / total_s / 1e9 : 0.0;
  state.counters["MB"] = bytes_per_launch / 1e6;
}

Tensor gpu_rand(const Shape& s, uint64_t seed) {
  return rand_uniform(s, -1.f, 1.f, seed).to(Device::cuda(0));
}
Tensor gpu_empty(const Shape& s, DType dt = DType::F32) { return Tensor::empty(s, dt, Device::cuda(0)); }

struct Config {
  const char* name;  // "b512_28px"
  int64_t batch, image;
};
const Config kConfigs[] = {{"b512_28px", 512, 28}, {"b512_32px", 512, 32}, {"b64_224px", 64, 224}};

// ResNet18's batch-norm inputs [m, c] for one configuration: stem, then one per stage.
std::vector<std::pair<int64_t, int64_t>> bn_shapes(const Config& cfg) {
  std::vector<std::pair<int64_t, int64_t>> out;
  int64_t hw = (cfg.image + 2 * 3 - 7) / 2 + 1;  // stem conv 7x7/2
  out.push_back({cfg.batch * hw * hw, 64});
  hw = (hw + 2 - 3) / 2 + 1;  // max-pool 3x3/2
  int64_t c = 64;
  for (int stage = 0; stage < 4; ++stage) {
    if (stage > 0) {
      hw = (hw + 2 - 3) / 2 + 1;
      c *= 2;
    }
    out.push_back({cfg.batch * hw * hw, c});
  }
  return out;
}

// Batch norm's reduction scratch (the CUDA backend takes it from the caching allocator per call).
Tensor bn_scratch(int64_t m, int64_t c) {
  return Tensor::empty({std::max<int64_t>(kernels::batch_norm_scratch_doubles(m, c), 1)}, DType::F64,
                       Device::cuda(0));
}

void register_batch_norm(const Config& cfg) {
  for (auto [m, c] : bn_shapes(cfg)) {
    const std::string shape = std::string(cfg.name) + "/m" + std::to_string(m) + "_c" + std::to_string(c);
    benchmark::RegisterBenchmark(
        ("batch_norm_forward_train/" + shape).c_str(),
        [m, c](benchmark::State& st) {
          const Tensor x = gpu_rand({m, c}, 1), gamma = gpu_rand({c}, 2), beta = gpu_rand({c}, 3);
          Tensor y = gpu_empty({m, c}), mean = gpu_empty({c}), invstd = gpu_empty({c}), rm = gpu_rand({c}, 4),
                 rv = gpu_rand({c}, 5);
          const Tensor scratch = bn_scratch(m, c);
          // Reads x twice (statistics, then normalisation), writes y.
          time_gpu(st, 3.0 * m * c * 4, [&](cudaStream_t s) {
            kernels::batch_norm_forward(x.data<float>(), gamma.data<float>(), beta.data<float>(),
                                        y.data<float>(), mean.data<float>(), invstd.data<float>(),
                                        rm.data<float>(), rv.data<float>(), m, c, true, 0.1f, 1e-5f,
                                        scratch.data<double>(), scratch.numel(), s);
          });
        })
        ->UseManualTime()
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(
        ("batch_norm_backward_train/" + shape).c_str(),
        [m, c](benchmark::State& st) {
          const Tensor x = gpu_rand({m, c}, 1), dy = gpu_rand({m, c}, 6), gamma = gpu_rand({c}, 2);
          const Tensor mean = gpu_rand({c}, 7), invstd = Tensor::full({c}, 1.0, DType::F32, Device::cuda(0));
          Tensor dx = gpu_empty({m, c}), dg = gpu_empty({c}), db = gpu_empty({c});
          const Tensor scratch = bn_scratch(m, c);
          // Reads dy and x twice (sums, then dx), writes dx.
          time_gpu(st, 5.0 * m * c * 4, [&](cudaStream_t s) {
            kernels::batch_norm_backward(dy.data<float>(), x.data<float>(), gamma.data<float>(),
                                         mean.data<float>(), invstd.data<float>(), dx.data<float>(),
                                         dg.data<float>(), db.data<float>(), m, c, true,
                                         scratch.data<double>(), scratch.numel(), s);
          });
        })
        ->UseManualTime()
        ->Unit(benchmark::kMicrosecond);
  }
}

void register_pooling(const Config& cfg) {
  const int64_t n = cfg.batch, h = (cfg.image + 2 * 3 - 7) / 2 + 1, c = 64, oh = (h + 2 - 3) / 2 + 1;
  const std::string shape = std::string(cfg.name) + "/" + std::to_string(h) + "x" + std::to_string(h) + "x64";
  benchmark::RegisterBenchmark(
      ("max_pool2d_forward/" + shape).c_str(),
      [=](benchmark::State& st) {
        const Tensor x = gpu_rand({n, h, h, c}, 1);
        Tensor y = gpu_empty({n, oh, oh, c}), arg = gpu_empty({n, oh, oh, c}, DType::I32);
        time_gpu(st, 4.0 * (n * h * h * c + 2 * n * oh * oh * c), [&](cudaStream_t s) {
          kernels::max_pool2d_forward(x.data<float>(), y.data<float>(), arg.data<int32_t>(), n, h, h, c, oh,
                                      oh, 3, 2, 1, s);
        });
      })
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark(
      ("max_pool2d_backward/" + shape).c_str(),
      [=](benchmark::State& st) {
        const Tensor x = gpu_rand({n, h, h, c}, 1), dy = gpu_rand({n, oh, oh, c}, 2);
        Tensor y = gpu_empty({n, oh, oh, c}), arg = gpu_empty({n, oh, oh, c}, DType::I32),
               dx = gpu_empty({n, h, h, c});
        kernels::max_pool2d_forward(x.data<float>(), y.data<float>(), arg.data<int32_t>(), n, h, h, c, oh, oh,
                                    3, 2, 1, cuda::stream(0));
        time_gpu(st, 4.0 * (n * h * h * c + 2 * n * oh * oh * c), [&](cudaStream_t s) {
          kernels::max_pool2d_backward(dy.data<float>(), arg.data<int32_t>(), dx.data<float>(), n, h, h, c,
                                       oh, oh, 3, 2, 1, s);
        });
      })
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond);
  // Global average pool over stage 4's output.
  int64_t hw4 = oh;
  for (int i = 0; i < 3; ++i) hw4 = (hw4 + 2 - 3) / 2 + 1;
  const std::string gshape =
      std::string(cfg.name) + "/" + std::to_string(hw4) + "x" + std::to_string(hw4) + "x512";
  benchmark::RegisterBenchmark(("global_avg_pool_forward/" + gshape).c_str(),
                               [=](benchmark::State& st) {
                                 const Tensor x = gpu_rand({n, hw4 * hw4, 512}, 1);
                                 Tensor y = gpu_empty({n, 512});
                                 time_gpu(st, 4.0 * (n * hw4 * hw4 * 512 + n * 512), [&](cudaStream_t s) {
                                   kernels::global_avg_pool_forward(x.data<float>(), y.data<float>(), n,
                                                                    hw4 * hw4, 512, s);
                                 });
                               })
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark(("global_avg_pool_backward/" + gshape).c_str(),
                               [=](benchmark::State& st) {
                                 const Tensor dy = gpu_rand({n, 512}, 1);
                                 Tensor dx = gpu_empty({n, hw4 * hw4, 512});
                                 time_gpu(st, 4.0 * (n * hw4 * hw4 * 512 + n * 512), [&](cudaStream_t s) {
                                   kernels::global_avg_pool_backward(dy.data<float>(), dx.data<float>(), n,
                                                                     hw4 * hw4, 512, s);
                                 });
                               })
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond);
}

// One fused launch over ResNet18's 62 parameter tensors (11.2M floats): reads p, g, m, v, writes p, m, v.
void register_adam() {
  benchmark::RegisterBenchmark(
      "adam_step/resnet18_11.2M",
      [](benchmark::State& st) {
        ResNet18Config cfg;
        ResNet18 model(cfg, 0, Device::cuda(0));
        std::vector<Tensor> keep;
        std::vector<kernels::AdamTensor> list;
        int64_t total = 0, max_numel = 0;
        for (const auto& [name, p] : model.named_parameters()) {
          Tensor g = gpu_rand(p.shape(), 9), m = Tensor::zeros(p.shape(), DType::F32, Device::cuda(0)),
                 v = Tensor::zeros(p.shape(), DType::F32, Device::cuda(0));
          list.push_back({p.data<float>(), g.data<float>(), m.data<float>(), v.data<float>(), p.numel()});
          keep.insert(keep.end(), {p, g, m, v});
          total += p.numel();
          max_numel = std::max(max_numel, p.numel());
        }
        Tensor table = gpu_empty({int64_t(list.size() * sizeof(kernels::AdamTensor))}, DType::U8);
        BIASCKA_CUDA_CHECK(cudaMemcpy(table.raw_data(), list.data(),
                                      list.size() * sizeof(kernels::AdamTensor), cudaMemcpyHostToDevice));
        BIASCKA_CUDA_CHECK(cudaDeviceSynchronize());  // the legacy stream's copy, before the timed stream
        Tensor step = Tensor::zeros({}, DType::I64, Device::cuda(0));
        const int count = static_cast<int>(list.size());
        time_gpu(st, 28.0 * total, [&](cudaStream_t s) {
          kernels::adam_step(static_cast<const kernels::AdamTensor*>(table.raw_data()), count, max_numel,
                             step.data<int64_t>(), 1e-3f, 0.9f, 0.999f, 1e-8f, 1e-5f, s);
        });
        st.counters["params"] = double(total);
      })
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond);
}

#endif  // BIASCKA_WITH_CUDA

}  // namespace
}  // namespace biascka

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (biascka::cuda_device_count() == 0) {
    std::printf("bench_kernels: %s; no kernel benchmarks registered\n",
                biascka::cuda_compiled() ? "no CUDA GPU on this machine" : "this build has no CUDA backend");
    return 0;
  }
#ifdef BIASCKA_WITH_CUDA
  std::printf("bench_kernels on %s\n", biascka::cuda::device_name(0).c_str());
  for (const auto& cfg : biascka::kConfigs) {
    biascka::register_batch_norm(cfg);
    biascka::register_pooling(cfg);
  }
  biascka::register_adam();
#endif
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
