// `biascka train`: the paper's training protocol on one dataset, objective and seed.
#include <cstdint>
#include <cstdio>
#include <string>

#include "apps/commands.h"
#include "apps/common.h"
#include "engine/error.h"
#include "engine/parallel.h"
#include "losses/objectives.h"
#include "workflows/option_limits.h"
#include "workflows/progress.h"
#include "workflows/train.h"

namespace biascka::app {

void add_train_command(CLI::App& root) {
  auto o = std::make_shared<workflows::TrainOptions>();
  auto resume = std::make_shared<std::string>();
  auto quiet = std::make_shared<bool>(false);
  auto threads = std::make_shared<int>(0);
  auto seed = std::make_shared<std::string>("0");
  auto* cmd = root.add_subcommand(
      "train",
      "Train ResNet18 from scratch with one objective (Adam, early stopping on validation accuracy).\n"
      "DATA is a pct folder of the DisEnt layout: DATA/align + DATA/conflict train, DATA/valid (or "
      "DATA/../valid)\n"
      "stops early, DATA/../test (when present) evaluates the best checkpoint at the end.\n"
      "Writes RUN/settings.json, RUN/metrics.jsonl (one line per epoch), RUN/best.safetensors (torchvision "
      "names),\n"
      "RUN/last.safetensors (model + optimizer + loop state; Ctrl-C saves it mid-epoch and exits 130) and "
      "RUN/summary.json\n"
      "(test.accuracy, test.aligned_accuracy, test.conflicting_accuracy, ...). One process per RUN: a second "
      "one is refused\n"
      "(RUN/.lock). A training set of k * batch + 1 images leaves its last single image out of each epoch "
      "(batch norm\n"
      "cannot train on one sample; the order is shuffled, so a different image each epoch).\n"
      "Example: biascka train --data ROOT/cmnist/5pct --loss sce --seed 0 --out runs/cmnist-sce-0");
  cmd->add_option("--data", o->data, "pct folder, e.g. ROOT/cmnist/5pct");
  cmd->add_option("--out", o->out, "run folder to create");
  cmd->add_option("--resume", *resume, "continue the run in this folder (its settings are reused)");
  cmd->add_option("--loss", o->loss, "sce | nll | bce | l1 | l2 | sos")->capture_default_str();
  cmd->add_option("--sos-alpha", o->objective_params.sos_alpha, "alpha of the rescaled square loss")
      ->capture_default_str();
  cmd->add_option("--sos-beta", o->objective_params.sos_beta, "beta of the rescaled square loss")
      ->capture_default_str();
  cmd->add_option("--seed", *seed, "initialisation, shuffling and dropout seed (0 to 2^63-1)")
      ->capture_default_str();
  cmd->add_option("--device", o->device, "cpu | cuda | cuda:N")->capture_default_str();
  add_protocol_options(cmd, o.get());
  cmd->add_option("--lr", o->lr, "Adam learning rate")->capture_default_str();
  cmd->add_option("--weight-decay", o->weight_decay, "L2 added to the gradient (torch.optim.Adam)")
      ->capture_default_str();
  cmd->add_option("--stem", o->stem, "imagenet (torchvision's 7x7/2 + max-pool) | cifar (3x3/1)")
      ->capture_default_str();
  add_image_options(cmd, &o->normalization, &o->image_size, &o->workers);
  cmd->add_option("--cka-every", o->cka_every,
                  "CKA over training every K epochs and at initialisation (0: off): RUN/cka/, "
                  "RUN/cka_over_training.png")
      ->capture_default_str();
  cmd->add_option("--cka-samples", o->cka_samples,
                  "CKA probe set: the first N validation images in name order (all when fewer)")
      ->capture_default_str();
  cmd->add_option("--cka-layers", o->cka_layers,
                  "all | modules | torch_cka | REGEX (as biascka cka --layers)")
      ->capture_default_str();
  cmd->add_option("--threads", *threads, "CPU compute threads (0: cores)")->capture_default_str();
  cmd->add_flag(
      "--no-cuda-graph", [o](int64_t) { o->cuda_graph = false; }, "run every GPU step eagerly (debugging)");
  cmd->add_flag("--quiet", *quiet, "no progress output (errors and the final line only)");
  cmd->callback([o, resume, quiet, threads, seed] {
    o->progress = *quiet ? workflows::ProgressMode::Quiet : workflows::ProgressMode::Auto;
    const bool resuming = !resume->empty();
    usage_check([&] {
      workflows::check_threads(*threads);
      o->seed = static_cast<uint64_t>(parse_integer_option("--seed", *seed, 0, INT64_MAX));
      if (resuming) {  // the run's own settings are validated from its settings.json
        BIASCKA_CHECK(o->out.empty() || o->out == *resume, "--resume RUN and --out differ");
        workflows::parse_device("--device", o->device);
        workflows::check_image_options(0, o->workers);
      } else {
        BIASCKA_CHECK(!o->data.empty() && !o->out.empty(),
                      "train needs --data DIR and --out RUN (or --resume RUN)");
        o->validate();
      }
    });
    if (resuming) o->out = *resume;
    if (*threads > 0) set_cpu_threads(*threads);
    const auto r = workflows::train(*o, resuming);
    if (r.status == "interrupted") throw CLI::RuntimeError(interrupted_exit_code());
    // The summary of a finished run may be an old, hand-edited file: read it without trusting its types.
    const nlohmann::json& s = r.summary;
    auto field = [&](const char* split, const char* key) {
      return s.contains(split) && s[split].is_object() && s[split].contains(key) ? s[split][key]
                                                                                 : nlohmann::json();
    };
    auto fmt = [](const nlohmann::json& v) {
      return v.is_number() ? std::to_string(100 * v.get<double>()).substr(0, 5) + "%" : std::string("n/a");
    };
    const nlohmann::json best = s.contains("best_epoch") ? s["best_epoch"] : nlohmann::json();
    std::printf("run %s: best epoch %s, valid accuracy %s", workflows::printable(o->out).c_str(),
                best.is_number_integer() ? std::to_string(best.get<int64_t>()).c_str() : "n/a",
                fmt(field("valid", "accuracy")).c_str());
    if (s.contains("test"))
      std::printf(", test accuracy %s (aligned %s, conflicting %s)", fmt(field("test", "accuracy")).c_str(),
                  fmt(field("test", "aligned_accuracy")).c_str(),
                  fmt(field("test", "conflicting_accuracy")).c_str());
    std::printf("\n");
  });
}

}  // namespace biascka::app
