// `biascka bench train`: images/s of ResNet18 training steps (or eval forwards) on random data.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "apps/commands.h"
#include "apps/common.h"
#include "data/loader.h"
#include "engine/adam.h"
#include "engine/allocator.h"
#include "engine/autograd.h"
#include "engine/device.h"
#include "engine/parallel.h"
#include "engine/random.h"
#include "losses/objectives.h"
#include "models/resnet18.h"
#include "workflows/option_limits.h"
#include "workflows/train_step.h"

namespace biascka::app {

namespace {

struct BenchOpts {
  std::string device = "cpu";
  int64_t batch = 128, image_size = 28, classes = 10;
  int steps = 10, warmup = 2, threads = 0;
  bool eval = false, json = false, no_tf32 = false, cifar_stem = false, no_cuda_graph = false;
};

void bench_train(const BenchOpts& o) {
  const Device dev = Device::parse(o.device);
  require_device(dev);
  if (o.threads > 0) set_cpu_threads(o.threads);
  set_math_mode(dev, o.no_tf32 ? MathMode::Exact : MathMode::Tf32);
  ResNet18Config cfg;
  cfg.num_classes = o.classes;
  cfg.cifar_stem = o.cifar_stem;
  ResNet18 model(cfg, 0, dev);
  model.train(!o.eval);
  Adam opt(model.named_parameters());
  // The step `biascka train` runs (workflows::TrainStep: host batch staged to the device, fused objective,
  // Adam, CUDA graph once warm), fed with random images.
  workflows::TrainStep trainer(model, opt, losses::objective("sce"), {}, !o.no_cuda_graph);
  data::Batch batch;
  batch.images = rand_normal({o.batch, o.image_size, o.image_size, 3}, 0.f, 1.f, 1);
  batch.targets = rand_int({o.batch}, o.classes, 2);
  batch.biases = rand_int({o.batch}, o.classes, 3);
  const Tensor x = batch.images.to(dev);
  trainer.reset(o.warmup + o.steps);
  auto step = [&] {
    if (o.eval) {
      NoGrad ng;
      model.forward(x);
      return;
    }
    trainer.run(batch);
  };
  for (int i = 0; i < o.warmup; ++i) step();
  device_synchronize(dev);
  size_t peak = 0, peak_in_use = 0;
  reset_peak_memory(dev);
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < o.steps; ++i) step();
  device_synchronize(dev);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // Device memory held: what the allocator obtained from the device (a graph's private pool included,
  // which `in use` does not count once capture has ended).
  const AllocatorStats mem = device_memory_stats(dev);
  peak = mem.peak_reserved;
  peak_in_use = mem.peak_in_use;
  const double ips = static_cast<double>(o.batch) * o.steps / secs;
  if (o.json) {
    nlohmann::json j = {{"framework", "biascka"},
                        {"device", dev.str()},
                        {"mode", o.eval ? "eval" : "train"},
                        {"batch", o.batch},
                        {"image_size", o.image_size},
                        {"steps", o.steps},
                        {"threads", cpu_threads()},
                        {"seconds", secs},
                        {"images_per_s", ips}};
    j["peak_device_bytes"] = peak;
    j["peak_in_use_bytes"] = peak_in_use;
    j["cuda_graph"] = trainer.graph_active();
    std::printf("%s\n", j.dump().c_str());
  }
  std::printf("images/s: %.1f\n", ips);
}

}  // namespace

void add_bench_command(CLI::App& root) {
  auto* bench =
      root.add_subcommand("bench", "Benchmarks (Google Benchmark microbenchmarks live in build/bin/bench_*)");
  bench->require_subcommand(1);
  auto o = std::make_shared<BenchOpts>();
  auto* train = bench->add_subcommand(
      "train",
      "Time ResNet18 training steps (forward, cross-entropy, backward, Adam) on random data; the last line "
      "is\n"
      "`images/s: <n>`. Compare with bench/peers/torch_train_step.py.\n"
      "Example: biascka bench train --device cpu --batch 128 --image-size 28 --steps 10");
  train->add_option("--device", o->device, "cpu | cuda | cuda:N")->capture_default_str();
  train->add_option("--batch", o->batch, "images per step")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  train->add_option("--image-size", o->image_size, "square input size")
      ->capture_default_str()
      ->check(CLI::Range(8, 1024));
  train->add_option("--classes", o->classes, "output classes")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  train->add_option("--steps", o->steps, "timed steps")->capture_default_str()->check(CLI::PositiveNumber);
  train->add_option("--warmup", o->warmup, "untimed steps first")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  train->add_option("--threads", o->threads, "CPU threads (0: all cores)")->capture_default_str();
  train->add_flag("--eval", o->eval, "time the evaluation forward (no grad) instead of a training step");
  train->add_flag("--cifar-stem", o->cifar_stem, "3x3/1 stem without max-pool");
  train->add_flag("--no-tf32", o->no_tf32, "exact FP32 convolutions and products on the GPU");
  train->add_flag("--no-cuda-graph", o->no_cuda_graph, "run every GPU step eagerly");
  train->add_flag("--json", o->json, "also print the result as one JSON line");
  train->callback([o] {
    usage_check([&] {
      workflows::check_threads(o->threads);
      workflows::check_range("--batch", o->batch, 1, workflows::kMaxBatch);
      workflows::check_batch_memory("", o->batch, o->image_size);
      workflows::parse_device("--device", o->device);
    });
    bench_train(*o);
  });
}

}  // namespace biascka::app
