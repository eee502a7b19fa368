#pragma once
// A step captured once and replayed with one launch (CUDA graphs), the same call on every device. Where
// the device has no graphs (the CPU), or they are not wanted, available() is false and the caller runs the
// step eagerly. Memory the captured step allocates stays the graph's (engine/cuda/graph.h).
#include <functional>
#include <memory>

#include "engine/backend.h"
#include "engine/device.h"

namespace biascka {

class StepGraph {
 public:
  StepGraph(Device device, bool wanted);
  bool available() const { return available_; }
  bool captured() const { return graph_ != nullptr; }
  // Records body() (its work does not run) and gives the memory cached by earlier eager steps back.
  void capture(const std::function<void()>& body);
  void replay();

 private:
  Device device_;
  bool available_;
  std::unique_ptr<DeviceGraph> graph_;
};

}  // namespace biascka
