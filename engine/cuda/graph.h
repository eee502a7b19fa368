#pragma once
// CUDA graphs for the training step: once shapes are fixed, the ~200 kernels of a ResNet18 step are
// captured once and replayed with a single launch, which is what gets small images past the per-kernel
// launch overhead. Memory allocated during capture comes from a private allocator pool that only this
// graph uses, so replays can write into it safely; host<->device copies are not allowed inside.
#include <cuda_runtime.h>

#include <cstddef>
#include <functional>
#include <memory>

#include "engine/backend.h"

namespace biascka::cuda {

class Graph final : public DeviceGraph {
 public:
  explicit Graph(int device);
  ~Graph();
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  // Runs body() once under stream capture on the device's stream and instantiates the graph. The body's
  // work is recorded, not executed: call replay() to run it.
  void capture(const std::function<void()>& body) override;
  void replay() override;
  bool captured() const { return exec_ != nullptr; }

 private:
  int device_;
  int pool_;
  cudaGraph_t graph_ = nullptr;
  cudaGraphExec_t exec_ = nullptr;
};

// Page-locked staging: copies a host tensor's bytes into pinned memory and from there to the device
// asynchronously on the device's stream, so the next batch is prepared while the GPU works. A training step
// uploads three tensors (images, targets, biases); six slots let the host run a whole step ahead without
// waiting for the step the GPU is running.
class Uploader final : public DeviceUploader {
 public:
  explicit Uploader(int device);
  ~Uploader();
  Uploader(const Uploader&) = delete;
  Uploader& operator=(const Uploader&) = delete;
  void upload(void* device_dst, const void* host_src, size_t bytes) override;

 private:
  struct Slot;
  static constexpr int kSlots = 6;
  int device_;
  int next_ = 0;
  std::unique_ptr<Slot[]> slots_;
};

}  // namespace biascka::cuda
