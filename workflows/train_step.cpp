#include "workflows/train_step.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/error.h"
#include "engine/ops/metrics.h"
#include "engine/staging.h"
#include "engine/step_graph.h"

namespace biascka::workflows {

struct TrainStep::Impl {
  ResNet18& model;
  Adam& opt;
  const losses::Objective& objective;
  losses::ObjectiveParams params;
  Device dev;
  BatchStager stager;
  StepGraph graph;
  int64_t steps = 0, seen = 0;
  std::vector<int64_t> sizes;  // batch size of each step since reset (the recorded losses are per step)
  int64_t capacity = 0;
  // Accumulators on the device: per-step mean losses, the write index, and the four accuracy counters.
  Tensor slots, index, counts;
  // Fixed input buffers that a captured graph reads.
  Tensor x_static, y_static, b_static;
  int64_t full_batch = 0, full_steps = 0;

  Impl(ResNet18& m, Adam& o, const losses::Objective& obj, losses::ObjectiveParams p, bool g)
      : model(m), opt(o), objective(obj), params(p), dev(m.device()), stager(dev), graph(dev, g) {}

  // The step itself, on device tensors. Everything here runs in the device's order without waiting for it
  // (on a GPU: kernels and cuDNN/cuBLAS calls on its stream), so it can be captured.
  void body(const Tensor& x, const Tensor& y, const Tensor& b) {
    opt.zero_grad();
    const Tensor out = model.forward(x);
    const losses::LossResult r = losses::loss_and_grad(objective, out.detach(), y, params);
    out.backward(r.grad);
    opt.step();
    record_scalar_(r.loss, slots, index);
    accuracy_counts_(out, y, b, counts);
  }

  void run(const data::Batch& batch) {
    const int64_t n = batch.size();
    if (full_batch == 0) full_batch = n;  // the first batch is a full one (only the last may be short)
    if (!graph.available() || n != full_batch) {
      body(stager.stage(batch.images), stager.stage(batch.targets), stager.stage(batch.biases));
      return;
    }
    if (!x_static.defined()) {
      x_static = Tensor::empty(batch.images.shape(), DType::F32, dev);
      y_static = Tensor::empty(batch.targets.shape(), DType::I64, dev);
      b_static = Tensor::empty(batch.biases.shape(), DType::I64, dev);
    }
    stager.stage_into(batch.images, x_static);
    stager.stage_into(batch.targets, y_static);
    stager.stage_into(batch.biases, b_static);
    if (graph.captured()) {
      graph.replay();
      return;
    }
    if (++full_steps < 3) {  // warm-up: cuDNN picks algorithms, workspaces and Adam's table settle
      body(x_static, y_static, b_static);
      return;
    }
    graph.capture([&] { body(x_static, y_static, b_static); });
    graph.replay();  // capture records; this step runs now
  }
};

TrainStep::TrainStep(ResNet18& model, Adam& opt, const losses::Objective& objective,
                     losses::ObjectiveParams params, bool use_cuda_graph)
    : impl_(std::make_unique<Impl>(model, opt, objective, params, use_cuda_graph)) {}

TrainStep::~TrainStep() = default;

bool TrainStep::graph_active() const { return impl_->graph.captured(); }

void TrainStep::reset(int64_t max_steps) {
  Impl& s = *impl_;
  s.steps = s.seen = 0;
  s.sizes.clear();
  // The accumulators keep their addresses across epochs (a captured graph writes into them).
  if (!s.slots.defined() || max_steps > s.capacity) {
    BIASCKA_CHECK(!s.slots.defined() || !graph_active(),
                  "TrainStep: more steps per epoch than when captured");
    s.capacity = std::max<int64_t>(max_steps, 1);
    s.slots = Tensor::zeros({s.capacity}, DType::F64, s.dev);
    s.index = Tensor::zeros({}, DType::I64, s.dev);
    s.counts = Tensor::zeros({4}, DType::I64, s.dev);
  } else {
    s.index.fill(0);
    s.counts.fill(0);
  }
}

void TrainStep::run(const data::Batch& batch) {
  Impl& s = *impl_;
  BIASCKA_CHECK(batch.size() > 0, "TrainStep: empty batch");
  BIASCKA_CHECK(static_cast<int64_t>(s.sizes.size()) < s.capacity,
                "TrainStep: more steps than reset() allowed");
  s.run(batch);
  s.sizes.push_back(batch.size());
  ++s.steps;
  s.seen += batch.size();
}

StepTotals TrainStep::totals() {
  Impl& s = *impl_;
  StepTotals t;
  t.steps = s.steps;
  t.seen = s.seen;
  const Tensor slots = s.slots.to(Device::cpu()), counts = s.counts.to(Device::cpu());
  for (int64_t i = 0; i < t.steps; ++i) {
    const double loss = slots.data<double>()[i];
    if (!std::isfinite(loss) && t.first_bad_step < 0) {
      t.first_bad_step = i;
      t.bad_loss = loss;
    }
    t.loss_sum += loss * s.sizes[i];
  }
  const int64_t* c = counts.data<int64_t>();
  t.correct = c[0];
  t.aligned = c[1];
  t.correct_aligned = c[2];
  t.correct_conflicting = c[3];
  return t;
}

}  // namespace biascka::workflows
