#include "workflows/evaluate.h"

#include <cmath>
#include <limits>

#include "engine/autograd.h"
#include "engine/error.h"

namespace biascka::workflows {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
nlohmann::json num(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }
}  // namespace

nlohmann::json EvalResult::to_json() const {
  nlohmann::json per = nlohmann::json::array();
  for (double v : per_class) per.push_back(num(v));
  return {{"accuracy", num(accuracy)},
          {"aligned_accuracy", num(aligned_accuracy)},
          {"conflicting_accuracy", num(conflicting_accuracy)},
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
  int64_t correct = 0, correct_aligned = 0, correct_conflicting = 0;
  double loss_sum = 0;
  const Device dev = model.device();
  Progress progress(label, loader.batches_per_epoch(), mode);
  loader.start_epoch(0);
  data::Batch batch;
  int64_t step = 0;
  while (loader.next(batch)) {
    const int64_t b = batch.targets.numel();
    const Tensor out = model.forward(batch.images.to(dev));
    BIASCKA_CHECK(out.size(1) == num_classes, "evaluate: the model has ", out.size(1), " outputs, the data ",
                  num_classes, " classes");
    if (objective)
      loss_sum += losses::loss_and_grad(*objective, out, batch.targets.to(dev), params).loss.item() * b;
    const Tensor logits = out.to(Device::cpu());
    const float* z = logits.data<float>();
    const int64_t* t = batch.targets.data<int64_t>();
    const int64_t* bias = batch.biases.data<int64_t>();
    for (int64_t i = 0; i < b; ++i) {
      int64_t pred = 0;
      for (int64_t c = 1; c < num_classes; ++c)
        if (z[i * num_classes + c] > z[i * num_classes + pred]) pred = c;  // first maximum, as torch.argmax
      BIASCKA_CHECK(t[i] >= 0 && t[i] < num_classes, "evaluate: target ", t[i], " outside [0, ", num_classes,
                    ")");
      ++r.confusion[t[i]][pred];
      const bool ok = pred == t[i], aligned = t[i] == bias[i];
      correct += ok;
      if (aligned)
        ++r.aligned_count, correct_aligned += ok;
      else
        ++r.conflicting_count, correct_conflicting += ok;
    }
    r.count += b;
    progress.update(++step, r.count, "acc " + std::to_string(100.0 * correct / r.count).substr(0, 5) + "%");
  }
  progress.finish("");
  auto frac = [](int64_t a, int64_t n) { return n > 0 ? static_cast<double>(a) / n : kNaN; };
  r.accuracy = frac(correct, r.count);
  r.aligned_accuracy = frac(correct_aligned, r.aligned_count);
  r.conflicting_accuracy = frac(correct_conflicting, r.conflicting_count);
  r.loss = objective && r.count ? loss_sum / r.count : kNaN;
  for (int64_t c = 0; c < num_classes; ++c) {
    int64_t n = 0;
    for (int64_t p = 0; p < num_classes; ++p) n += r.confusion[c][p];
    r.per_class.push_back(frac(r.confusion[c][c], n));
  }
  model.train(was_training);
  return r;
}

}  // namespace biascka::workflows
