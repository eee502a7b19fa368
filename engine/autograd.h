#pragma once
// Tape autograd in the manner of flashlight's Variable: every differentiable op that sees an input
// requiring grad attaches a Node to its output. The Node keeps the inputs and a closure that maps the
// output's gradient to the inputs' gradients; backward() walks the nodes in reverse topological order.
#include <cstddef>
#include <functional>
#include <vector>

#include "engine/tensor.h"

namespace biascka {

struct Node {
  using Fn = std::function<std::vector<Tensor>(const Tensor& grad_out, const Node& node)>;
  const char* name = "";
  std::vector<Tensor> inputs;
  std::vector<bool> input_needs_grad;
  Fn fn;
  bool needs(size_t i) const { return i < input_needs_grad.size() && input_needs_grad[i]; }
};

// Whether ops record nodes on this thread (true by default).
bool grad_mode_enabled();

// Turns recording off for a scope: evaluation, CKA capture, optimizer updates.
class NoGrad {
 public:
  NoGrad();
  ~NoGrad();
  NoGrad(const NoGrad&) = delete;
  NoGrad& operator=(const NoGrad&) = delete;

 private:
  bool prev_;
};

// Attaches a backward node to `out` when grad mode is on and any input requires grad. The closure must
// not capture `out` itself with its history (that would make a cycle); capture out.detach() instead.
// Returns `out`.
Tensor record(const char* name, Tensor out, std::vector<Tensor> inputs, Node::Fn fn);

}  // namespace biascka
