#pragma once
// One optimisation step (forward, fused objective, backward, Adam) and the epoch's running totals, on the
// device (engine/backend.h), the same code on the CPU and the GPU. On the GPU the batch is staged through
// pinned memory and copied asynchronously, nothing waits for the device inside an epoch, and once three
// full-size steps have run (cuDNN's algorithm search, the allocator and Adam's tables settle) the whole step
// is captured as a CUDA graph and replayed; a smaller last batch runs eagerly.
#include <cstdint>
#include <memory>
#include <vector>

#include "data/loader.h"
#include "engine/adam.h"
#include "losses/objectives.h"
#include "models/resnet18.h"

namespace biascka::workflows {

struct StepTotals {
  int64_t steps = 0;
  double loss_sum = 0;  // sum over steps of (batch-mean loss x batch size)
  int64_t seen = 0, correct = 0, aligned = 0, correct_aligned = 0, correct_conflicting = 0;
  int64_t first_bad_step = -1;  // the first step (0-based since reset) whose loss was not finite
  double bad_loss = 0;
};

class TrainStep {
 public:
  TrainStep(ResNet18& model, Adam& opt, const losses::Objective& objective, losses::ObjectiveParams params,
            bool use_cuda_graph);
  ~TrainStep();
  TrainStep(const TrainStep&) = delete;
  TrainStep& operator=(const TrainStep&) = delete;

  // Starts a new accumulation window of at most `max_steps` steps (an epoch).
  void reset(int64_t max_steps);
  void run(const data::Batch& batch);
  // The totals since reset (waits for the GPU). Cheap on the CPU.
  StepTotals totals();
  bool graph_active() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace biascka::workflows
