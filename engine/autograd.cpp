#include "engine/autograd.h"

#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "engine/error.h"
#include "engine/ops/elementwise.h"

namespace biascka {

namespace {
thread_local bool g_grad_mode = true;
}

bool grad_mode_enabled() { return g_grad_mode; }

NoGrad::NoGrad() : prev_(g_grad_mode) { g_grad_mode = false; }
NoGrad::~NoGrad() { g_grad_mode = prev_; }

Tensor record(const char* name, Tensor out, std::vector<Tensor> inputs, Node::Fn fn) {
  if (!g_grad_mode) return out;
  bool any = false;
  std::vector<bool> needs(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    needs[i] = inputs[i].requires_grad();
    any = any || needs[i];
  }
  if (!any) return out;
  auto node = std::make_shared<Node>();
  node->name = name;
  node->inputs = std::move(inputs);
  node->input_needs_grad = std::move(needs);
  node->fn = std::move(fn);
  out.impl()->grad_fn = std::move(node);
  out.impl()->requires_grad = true;
  return out;
}

namespace {
// True when nothing but `t` itself refers to its memory, so it may be updated in place.
bool exclusively_owned(const Tensor& t) {
  return t.impl_ptr().use_count() == 1 && t.impl()->storage.use_count() == 1;
}
}  // namespace

void Tensor::backward(const Tensor& grad_output) const {
  BIASCKA_CHECK(requires_grad(), "backward() on a tensor that does not require grad");
  Tensor seed = grad_output;
  if (!seed.defined()) {
    BIASCKA_CHECK(numel() == 1, "backward() without a gradient needs a single-element tensor, got ",
                  shape_str(shape()));
    seed = Tensor::full(shape(), 1.0, dtype(), device());
  }
  BIASCKA_CHECK(seed.shape() == shape(), "backward(): gradient ", shape_str(seed.shape()), " for tensor ",
                shape_str(shape()));
  NoGrad no_grad;  // backward closures use ops; they must not record

  // Post-order DFS over the tensors that have a node: children (inputs) before parents.
  std::vector<TensorImpl*> order;
  std::unordered_set<TensorImpl*> seen;
  std::vector<std::pair<TensorImpl*, size_t>> stack;
  if (impl()->grad_fn) {
    stack.push_back({impl(), 0});
    seen.insert(impl());
  }
  while (!stack.empty()) {
    auto& [t, next] = stack.back();
    const auto& in = t->grad_fn->inputs;
    if (next < in.size()) {
      TensorImpl* c = in[next++].impl();
      if (c && c->grad_fn && !seen.count(c)) {
        seen.insert(c);
        stack.push_back({c, 0});
      }
      continue;
    }
    order.push_back(t);
    stack.pop_back();
  }

  std::unordered_map<TensorImpl*, Tensor> grads;
  auto deliver = [&](const Tensor& input, const Tensor& g) {
    if (!g.defined() || !input.requires_grad()) return;
    TensorImpl* ti = input.impl();
    if (ti->grad_fn) {
      Tensor& slot = grads[ti];
      if (!slot.defined())
        slot = g;
      else if (exclusively_owned(slot))
        add_(slot, g, 1.0f);
      else
        slot = add(slot, g);  // slot aliases another gradient: add out of place
    } else {                  // a leaf: accumulate into its .grad in place, so optimizers may hold the buffer
      if (ti->grad) {
        Tensor acc(ti->grad);
        add_(acc, g, 1.0f);
      } else {
        // The leaf must own its gradient (it is accumulated into in place later): when `g` is shared
        // with another consumer (add passes the same tensor to both inputs; reshape shares storage),
        // copy it; a freshly computed gradient is taken as is.
        const bool shared = g.impl_ptr().use_count() > 1 || g.impl()->storage.use_count() > 1;
        ti->grad = shared ? g.clone().impl_ptr() : g.impl_ptr();
      }
    }
  };

  if (!impl()->grad_fn) {  // backward on a leaf
    deliver(*this, seed);
    return;
  }
  grads[impl()] = seed;
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    TensorImpl* t = *it;
    auto found = grads.find(t);
    if (found == grads.end()) continue;
    Tensor g = std::move(found->second);
    grads.erase(found);
    const Node& node = *t->grad_fn;
    std::vector<Tensor> in_grads = node.fn(g, node);
    BIASCKA_CHECK(in_grads.size() == node.inputs.size(), "autograd: op ", node.name, " returned ",
                  in_grads.size(), " gradients for ", node.inputs.size(), " inputs");
    for (size_t i = 0; i < in_grads.size(); ++i) {
      if (!node.needs(i)) continue;
      const Tensor& gi = in_grads[i];
      if (gi.defined()) {
        BIASCKA_CHECK(gi.shape() == node.inputs[i].shape(), "autograd: op ", node.name, " gave input ", i,
                      " a gradient of shape ", shape_str(gi.shape()), ", expected ",
                      shape_str(node.inputs[i].shape()));
      }
      deliver(node.inputs[i], gi);
    }
  }
}

}  // namespace biascka
