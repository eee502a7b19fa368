#include "workflows/evaluate.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops/metrics.h"
#include "engine/staging.h"
#include "workflows/group_accuracy.h"

namespace biascka::workflows {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
nlohmann::json num(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

// Each sample's prediction, on the host, into its (target, bias) group. The prediction is the first maximum
// of the row, torch.argmax's rule, which the device metric (engine/ops/metrics.h) uses too.
void add_to_groups(const Tensor& logits, const data::Batch& batch, GroupAccuracy& groups) {
  const Tensor z = logits.to(Device::cpu());
  const int64_t rows = z.size(0), cols = z.size(1);
  const float* p = z.data<float>();
  const int64_t* t = batch.targets.data<int64_t>();
  const int64_t* b = batch.biases.data<int64_t>();
  for (int64_t i = 0; i < rows; ++i) {
    const float* row = p + i * cols;
    const int64_t prediction = std::max_element(row, row + cols) - row;  // the first of equal maxima
    groups.add(t[i], b[i], prediction == t[i]);
  }
}
}  // namespace

nlohmann::json EvalResult::to_json() const {
  nlohmann::json per = nlohmann::json::array();
  for (double v : per_class) per.push_back(num(v));
  return {{"accuracy", num(accuracy)},
          {"aligned_accuracy", num(aligned_accuracy)},
          {"conflicting_accuracy", num(conflicting_accuracy)},
          {"unbiased_accuracy", num(unbiased_accuracy)},
          {"worst_group_accuracy", num(worst_group_accuracy)},
          {"groups", groups},
          {"per_class", per},
          {"confusion", confusion},
          {"count", count},
          {"aligned_count", aligned_count},
          {"conflicting_count", conflicting_count},
          {"loss", num(loss)}};
}

EvalResult evaluate(ResNet18& model, data::Loader& loader, int64_t num_classes,
                    const losses::Objective* objective, const losses::ObjectiveParams& params,
                    ProgressMode mode, const std::string& label) {
  const bool was_training = model.training();
  model.eval();
  NoGrad no_grad;
  EvalResult r;
  r.confusion.assign(num_classes, std::vector<int64_t>(num_classes, 0));
  double loss_sum = 0;
  const Device dev = model.device();
  BatchStager stager(dev);
  // The accuracy metric's counters (engine/ops/metrics.h) and the confusion matrix, on the device.
  Tensor counts = Tensor::zeros({4}, DType::I64, dev);
  Tensor confusion = Tensor::zeros({num_classes, num_classes}, DType::I64, dev);
  int64_t correct = 0;
  GroupAccuracy groups(num_classes);
  Progress progress(label, loader.batches_per_epoch(), mode);
  loader.start_epoch(0);
  data::Batch batch;
  int64_t step = 0;
  while (loader.next(batch)) {
    const int64_t b = batch.targets.numel();
    const int64_t* t = batch.targets.data<int64_t>();
    for (int64_t i = 0; i < b; ++i)
      BIASCKA_CHECK(t[i] >= 0 && t[i] < num_classes, "evaluate: target ", t[i], " outside [0, ", num_classes,
                    ")");
    const Tensor out = model.forward(stager.stage(batch.images));
    BIASCKA_CHECK(out.size(1) == num_classes, "evaluate: the model has ", out.size(1), " outputs, the data ",
                  num_classes, " classes");
    const Tensor targets = stager.stage(batch.targets);
    if (objective) loss_sum += losses::loss_and_grad(*objective, out, targets, params).loss.item() * b;
    accuracy_counts_(out, targets, stager.stage(batch.biases), counts, &confusion);
    add_to_groups(out, batch, groups);
    correct = counts.to(Device::cpu()).data<int64_t>()[0];
    r.count += b;
    progress.update(++step, r.count, "acc " + std::to_string(100.0 * correct / r.count).substr(0, 5) + "%");
  }
  progress.finish("");
  const Tensor c = counts.to(Device::cpu()), m = confusion.to(Device::cpu());
  const int64_t* cv = c.data<int64_t>();
  const int64_t correct_aligned = cv[2], correct_conflicting = cv[3];
  r.aligned_count = cv[1];
  r.conflicting_count = r.count - cv[1];
  for (int64_t t = 0; t < num_classes; ++t)
    for (int64_t p = 0; p < num_classes; ++p) r.confusion[t][p] = m.data<int64_t>()[t * num_classes + p];
  auto frac = [](int64_t a, int64_t n) { return n > 0 ? static_cast<double>(a) / n : kNaN; };
  r.accuracy = frac(correct, r.count);
  r.aligned_accuracy = frac(correct_aligned, r.aligned_count);
  r.conflicting_accuracy = frac(correct_conflicting, r.conflicting_count);
  r.loss = objective && r.count ? loss_sum / r.count : kNaN;
  r.unbiased_accuracy = groups.unbiased();
  r.worst_group_accuracy = groups.worst_group();
  r.groups = groups.groups_present();
  for (int64_t c = 0; c < num_classes; ++c) {
    int64_t n = 0;
    for (int64_t p = 0; p < num_classes; ++p) n += r.confusion[c][p];
    r.per_class.push_back(frac(r.confusion[c][c], n));
  }
  model.train(was_training);
  return r;
}

}  // namespace biascka::workflows
