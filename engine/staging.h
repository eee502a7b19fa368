#pragma once
// Getting a host batch onto its device, the same call on every device. On the CPU host memory is device
// memory: the tensor itself is used, no copy. On a GPU the bytes go through pinned staging buffers and an
// asynchronous copy in the device's order, so the host prepares the next batch while the device works
// (engine/cuda/graph.h's Uploader behind engine/backend.h's DeviceUploader).
#include <memory>

#include "engine/backend.h"
#include "engine/device.h"
#include "engine/tensor.h"

namespace biascka {

class BatchStager {
 public:
  explicit BatchStager(Device device);
  // `host` (a CPU tensor) on the device: a new tensor, or `host` itself on the CPU.
  Tensor stage(const Tensor& host);
  // host's bytes into `dst` (same shape and dtype, on the device): fixed buffers that a graph reads.
  void stage_into(const Tensor& host, Tensor& dst);

 private:
  Device device_;
  std::unique_ptr<DeviceUploader> uploader_;  // null on the CPU
};

}  // namespace biascka
