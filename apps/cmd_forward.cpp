// `biascka forward`: run a checkpoint on a batch and dump the logits and the requested layers' outputs.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "apps/commands.h"
#include "apps/common.h"
#include "engine/autograd.h"
#include "engine/io/npy.h"
#include "engine/io/safetensors.h"
#include "engine/ops/layout.h"
#include "models/resnet18.h"
#include "models/resnet18_checkpoint.h"
#include "workflows/option_limits.h"

namespace biascka::app {

void add_forward_command(CLI::App& root) {
  struct Opts {
    std::string checkpoint, input, out, layers = "all", device = "cpu";
    bool train_mode = false, no_dropout = false;
    uint64_t seed = 0;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = root.add_subcommand(
      "forward",
      "Run a model on a batch and dump what it computes: `logits` and one `act.<layer>` per requested layer\n"
      "(4-D maps in PyTorch's NCHW order), the layer order in the metadata key `layers`.\n"
      "Evaluation mode (running statistics, no dropout) unless --train-mode.\n"
      "Example: biascka forward --checkpoint run/best.safetensors --input x.npy --out acts.safetensors "
      "--layers modules");
  cmd->add_option("--checkpoint", o->checkpoint, "model weights (safetensors, torchvision names)")
      ->required();
  cmd->add_option("--input", o->input, "input batch [N, 3, H, W] float32: X.npy or FILE.safetensors:TENSOR")
      ->required();
  cmd->add_option("--out", o->out, "output safetensors file")->required();
  cmd->add_flag("--train-mode", o->train_mode,
                "batch statistics (running stats updated in memory only) and dropout");
  cmd->add_flag("--no-dropout", o->no_dropout,
                "with --train-mode: leave dropout out (as torchvision's resnet18)");
  cmd->add_option("--layers", o->layers,
                  "all | modules | torch_cka (its distinct layers) | REGEX over the layer names")
      ->capture_default_str();
  cmd->add_option("--device", o->device, "cpu | cuda | cuda:N")->capture_default_str();
  cmd->add_option("--seed", o->seed, "dropout seed with --train-mode")->capture_default_str();
  cmd->callback([o] {
    Device dev;
    usage_check([&] { dev = workflows::parse_device("--device", o->device); });
    require_device(dev);
    ResNet18 model =
        load_resnet18(o->checkpoint, dev, o->no_dropout ? std::optional<float>(0.f) : std::nullopt);
    model.set_dropout_state(o->seed, 0);
    model.train(o->train_mode);
    // Each layer once (torch_cka's axis repeats layers: its distinct ones are dumped), in the selection's
    // order.
    std::vector<std::string> layers;
    for (const std::string& l : select_layers(model.layer_names(), o->layers))
      if (std::find(layers.begin(), layers.end(), l) == layers.end()) layers.push_back(l);
    Tensor x = read_input_batch(o->input);
    NamedTensors out;
    NoGrad no_grad;
    Tensor logits = model.forward(nchw_to_nhwc(x.to(dev)), [&](const std::string& name, const Tensor& t) {
      if (std::find(layers.begin(), layers.end(), name) != layers.end())
        out.emplace_back("act." + name, t.dim() == 4 ? nhwc_to_nchw(t) : t);
    });
    out.insert(out.begin(), {"logits", logits});
    nlohmann::json meta_layers = layers;
    write_safetensors(o->out, out,
                      {{"layers", meta_layers.dump()},
                       {"layout", "NCHW"},
                       {"checkpoint", o->checkpoint},
                       {"mode", o->train_mode ? "train" : "eval"}});
    std::printf("wrote %s: logits %s and %zu layers\n", o->out.c_str(), shape_str(logits.shape()).c_str(),
                layers.size());
  });
}

}  // namespace biascka::app
