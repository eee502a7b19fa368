#include "workflows/train_step.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/error.h"
#include "engine/ops/dispatch.h"
#ifdef BIASCKA_WITH_CUDA
#include "engine/cuda/graph.h"
#endif

namespace biascka::workflows {

namespace {

// Accuracy bookkeeping of one batch on the host (the CPU path; the GPU counts with a kernel).
void count_host(const Tensor& logits, const Tensor& targets, const Tensor& biases, StepTotals& s) {
  const int64_t n = targets.numel(), c = logits.size(1);
  const float* z = logits.data<float>();
  const int64_t* t = targets.data<int64_t>();
  const int64_t* b = biases.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    int64_t pred = 0;
    for (int64_t k = 1; k < c; ++k)
      if (z[i * c + k] > z[i * c + pred]) pred = k;  // the first maximum, as torch.argmax
    const bool ok = pred == t[i], aligned = t[i] == b[i];
    s.correct += ok;
    s.aligned += aligned;
    s.correct_aligned += ok && aligned;
    s.correct_conflicting += ok && !aligned;
  }
}

}  // namespace

struct TrainStep::Impl {
  ResNet18& model;
  Adam& opt;
  const losses::Objective& objective;
  losses::ObjectiveParams params;
  bool use_graph;
  Device dev;
  StepTotals host;             // the CPU path's totals
  std::vector<int64_t> sizes;  // batch size of each step since reset (the GPU path's losses are per step)
  int64_t capacity = 0;
  // GPU accumulators: per-step mean losses, the write index, and the four accuracy counters.
  Tensor slots, index, counts;
  // Fixed input buffers that a captured graph reads.
  Tensor x_static, y_static, b_static;
  int64_t full_batch = 0, full_steps = 0;
#ifdef BIASCKA_WITH_CUDA
  std::unique_ptr<cuda::Graph> graph;
  std::unique_ptr<cuda::Uploader> uploader;
#endif

  Impl(ResNet18& m, Adam& o, const losses::Objective& obj, losses::ObjectiveParams p, bool g)
      : model(m), opt(o), objective(obj), params(p), use_graph(g), dev(m.device()) {}

  // The step itself, on device tensors. Everything here is a kernel or a cuDNN/cuBLAS call on the device's
  // stream (no host synchronisation), so it can be captured.
  Tensor body(const Tensor& x, const Tensor& y, const Tensor& b) {
    opt.zero_grad();
    const Tensor out = model.forward(x);
    const losses::LossResult r = losses::loss_and_grad(objective, out.detach(), y, params);
    out.backward(r.grad);
    opt.step();
    if (dev.is_cuda()) {
      BIASCKA_CUDA_ONLY(kernels::record_scalar(r.loss.data<double>(), slots.data<double>(),
                                               index.data<int64_t>(), BIASCKA_STREAM(x));
                        kernels::accuracy_counts(out.data<float>(), y.data<int64_t>(), b.data<int64_t>(),
                                                 out.size(0), out.size(1), counts.data<int64_t>(),
                                                 BIASCKA_STREAM(x)));
    } else {
      const double loss = r.loss.item();
      if (!std::isfinite(loss) && host.first_bad_step < 0) {
        host.first_bad_step = host.steps;
        host.bad_loss = loss;
      }
      host.loss_sum += loss * y.numel();
      count_host(out, y, b, host);
    }
    return out;
  }

#ifdef BIASCKA_WITH_CUDA
  Tensor upload(const Tensor& host_tensor, Tensor* into = nullptr) {
    Tensor dst =
        into && into->defined() ? *into : Tensor::empty(host_tensor.shape(), host_tensor.dtype(), dev);
    uploader->upload(dst.raw_data(), host_tensor.raw_data(), host_tensor.nbytes());
    return dst;
  }

  void run_cuda(const data::Batch& batch) {
    if (!uploader) uploader = std::make_unique<cuda::Uploader>(dev.index);
    const int64_t n = batch.size();
    if (full_batch == 0) full_batch = n;  // the first batch is a full one (only the last may be short)
    const bool full = n == full_batch;
    if (!use_graph || !full) {
      body(upload(batch.images), upload(batch.targets), upload(batch.biases));
      return;
    }
    if (!x_static.defined()) {
      x_static = Tensor::empty(batch.images.shape(), DType::F32, dev);
      y_static = Tensor::empty(batch.targets.shape(), DType::I64, dev);
      b_static = Tensor::empty(batch.biases.shape(), DType::I64, dev);
    }
    upload(batch.images, &x_static);
    upload(batch.targets, &y_static);
    upload(batch.biases, &b_static);
    if (graph) {
      graph->replay();
      return;
    }
    if (++full_steps < 3) {  // warm-up: cuDNN picks algorithms, workspaces and Adam's table settle
      body(x_static, y_static, b_static);
      return;
    }
    graph = std::make_unique<cuda::Graph>(dev.index);
    graph->capture([&] { body(x_static, y_static, b_static); });
    cuda::allocator(dev.index).empty_cache();  // the eager warm-up's cached blocks are not needed any more
    graph->replay();                           // capture records; this step runs now
  }
#endif
};

TrainStep::TrainStep(ResNet18& model, Adam& opt, const losses::Objective& objective,
                     losses::ObjectiveParams params, bool use_cuda_graph)
    : impl_(std::make_unique<Impl>(model, opt, objective, params,
                                   use_cuda_graph && model.device().is_cuda())) {}

TrainStep::~TrainStep() = default;

bool TrainStep::graph_active() const {
#ifdef BIASCKA_WITH_CUDA
  return impl_->graph != nullptr;
#else
  return false;
#endif
}

void TrainStep::reset(int64_t max_steps) {
  Impl& s = *impl_;
  s.host = StepTotals{};
  s.sizes.clear();
  if (!s.dev.is_cuda()) return;
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
  if (s.dev.is_cuda()) {
    BIASCKA_CHECK(static_cast<int64_t>(s.sizes.size()) < s.capacity,
                  "TrainStep: more steps than reset() allowed");
    BIASCKA_CUDA_ONLY(s.run_cuda(batch));
  } else {
    s.body(batch.images, batch.targets, batch.biases);
  }
  s.sizes.push_back(batch.size());
  ++s.host.steps;
  s.host.seen += batch.size();
}

StepTotals TrainStep::totals() {
  Impl& s = *impl_;
  if (!s.dev.is_cuda()) return s.host;
  StepTotals t;
  t.steps = s.host.steps;
  t.seen = s.host.seen;
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
