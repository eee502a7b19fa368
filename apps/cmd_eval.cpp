// `biascka eval`: accuracy of a checkpoint on a split, overall, bias-aligned and bias-conflicting.
#include <cstdint>
#include <cstdio>
#include <string>

#include "apps/commands.h"
#include "apps/common.h"
#include "data/disent.h"
#include "data/loader.h"
#include "engine/error.h"
#include "engine/io/atomic_file.h"
#include "engine/ops/conv2d.h"
#include "models/resnet18_checkpoint.h"
#include "workflows/evaluate.h"
#include "workflows/option_limits.h"
#include "workflows/split_loader.h"

namespace biascka::app {

void add_eval_command(CLI::App& root) {
  struct Opts {
    std::string checkpoint, data, out, device = "cpu";
    int64_t batch = 512, max_eval = 0;
    workflows::ImageOptions image;
    bool quiet = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = root.add_subcommand(
      "eval",
      "Evaluate a checkpoint on a split folder (DisEnt layout): accuracy on all, bias-aligned and "
      "bias-conflicting\n"
      "samples, unbiased (mean over (target, bias) groups, as LfF) and worst-group accuracy, per class, and "
      "the\n"
      "confusion matrix. For B-FFHQ, DisEnt reports conflicting_accuracy alone.\n"
      "Writes --out eval.json with keys accuracy, aligned_accuracy, conflicting_accuracy, "
      "unbiased_accuracy,\n"
      "worst_group_accuracy, groups, per_class, confusion, count.\n"
      "Example: biascka eval --checkpoint runs/cmnist-sce-0/best.safetensors --data ROOT/cmnist/test --out "
      "eval.json");
  cmd->add_option("--checkpoint", o->checkpoint, "model weights (safetensors)")->required();
  cmd->add_option("--data", o->data, "split folder (e.g. ROOT/cmnist/test)")->required();
  cmd->add_option("--out", o->out, "write the result as JSON here");
  cmd->add_option("--device", o->device, "cpu | cuda | cuda:N")->capture_default_str();
  cmd->add_option("--batch", o->batch, "batch size")->capture_default_str();
  cmd->add_option("--max-eval", o->max_eval, "a seeded subset of this many images (0: all)")
      ->capture_default_str();
  add_image_options(cmd, &o->image);
  cmd->add_flag("--quiet", o->quiet, "no progress output");
  cmd->callback([o] {
    Device dev;
    usage_check([&] {
      workflows::check_range("--batch", o->batch, 1, workflows::kMaxBatch);
      workflows::check_image_options(o->image.image_size, o->image.workers);
      workflows::check_batch_memory("", o->batch, o->image.image_size);
      dev = workflows::parse_device("--device", o->device);
    });
    require_device(dev);
    ResNet18 model = load_resnet18(o->checkpoint, dev);
    const ResNet18Config& cfg = model.config();
    // A label beyond the model's classes is an error naming the file.
    const data::Split split = data::scan_split(o->data, cfg.num_classes);
    data::Loader loader(split, workflows::split_loader_options(o->data, o->image, o->batch, o->max_eval));
    const auto mode = o->quiet ? workflows::ProgressMode::Quiet : workflows::ProgressMode::Auto;
    const workflows::EvalResult r = workflows::evaluate(model, loader, cfg.num_classes, nullptr, {}, mode);
    nlohmann::json j = r.to_json();
    j["checkpoint"] = o->checkpoint;
    j["data"] = o->data;
    if (!o->out.empty()) write_text_atomic(o->out, j.dump(2) + "\n");
    std::printf("%-22s %8s %8s\n", "samples", "count", "accuracy");
    auto row = [](const char* name, int64_t n, double acc) {
      std::printf("%-22s %8lld %7.2f%%\n", name, static_cast<long long>(n), 100 * acc);
    };
    row("all", r.count, r.accuracy);
    row("bias-aligned", r.aligned_count, r.aligned_accuracy);
    row("bias-conflicting", r.conflicting_count, r.conflicting_accuracy);
    std::printf("%-22s %8lld %7.2f%%\n%-22s %8s %7.2f%%\n", "unbiased (groups)",
                static_cast<long long>(r.groups), 100 * r.unbiased_accuracy, "worst group", "",
                100 * r.worst_group_accuracy);
  });
}

}  // namespace biascka::app
