#include "engine/step_graph.h"

#include <utility>

#include "engine/error.h"

namespace biascka {

StepGraph::StepGraph(Device device, bool wanted)
    : device_(device), available_(wanted && backend(device).make_graph() != nullptr) {}

void StepGraph::capture(const std::function<void()>& body) {
  BIASCKA_CHECK(available_, "StepGraph: ", device_.str(), " has no graphs");
  std::unique_ptr<DeviceGraph> g = backend(device_).make_graph();
  g->capture(body);
  graph_ = std::move(g);
  backend(device_).release_cached_memory();  // the eager warm-up's cached blocks are not needed any more
}

void StepGraph::replay() {
  BIASCKA_CHECK(graph_, "StepGraph: nothing captured");
  graph_->replay();
}

}  // namespace biascka
