#include "apps/common.h"

#include <cstddef>
#include <map>
#include <string>
#include <type_traits>

#include "engine/error.h"
#include "engine/io/npy.h"
#include "engine/parse.h"
#include "workflows/interrupt.h"
#include "workflows/option_limits.h"

namespace biascka::app {

Tensor read_input_batch(const std::string& spec) {
  Tensor x;
  const size_t colon = spec.rfind(':');
  if (spec.ends_with(".npy")) {
    x = read_npy(spec);
  } else if (colon != std::string::npos && spec.substr(0, colon).ends_with(".safetensors")) {
    x = SafetensorsReader(spec.substr(0, colon)).load(spec.substr(colon + 1));
  } else {
    fail(spec, ": --input must be X.npy or FILE.safetensors:TENSOR_NAME");
  }
  if (x.dtype() == DType::F64) x = x.to_dtype(DType::F32);
  BIASCKA_CHECK(x.dtype() == DType::F32, spec, ": input must be float32 (or float64), got ",
                dtype_name(x.dtype()));
  BIASCKA_CHECK(x.dim() == 4 && x.size(1) == 3, spec, ": input must be [N, 3, H, W], got ",
                shape_str(x.shape()));
  return x;
}

int64_t parse_integer_option(const std::string& option, const std::string& text, int64_t lo, int64_t hi) {
  const int64_t v = parse_int64(text, option);
  workflows::check_range(option, v, lo, hi);
  return v;
}

int interrupted_exit_code() {
  return workflows::interrupt_requested() ? workflows::interrupt_exit_code() : 130;
}

void add_image_options(CLI::App* cmd, std::string* normalization, int* image_size, int* workers) {
  cmd->add_option("--normalization", *normalization,
                  "cmnist | cifar10c | bffhq | unit (default: from the folder name)");
  cmd->add_option("--image-size", *image_size, "resize images to this size (0: native; bffhq 224)")
      ->capture_default_str();
  cmd->add_option("--workers", *workers, "image loading threads (0: cores)")->capture_default_str();
}

}  // namespace biascka::app

namespace biascka::app {

void add_image_options(CLI::App* cmd, workflows::ImageOptions* image) {
  add_image_options(cmd, &image->normalization, &image->image_size, &image->workers);
}

void add_protocol_options(CLI::App* cmd, workflows::TrainProtocol* protocol) {
  static const std::map<std::string, std::string> help = {
      {"epochs", "maximum epochs (of each run)"},
      {"patience", "early-stopping patience in epochs"},
      {"batch", "training batch size"},
      {"max_train", "train on a seeded subset of this many images (0: all)"},
      {"max_eval", "evaluate on a seeded subset of this many images (0: all)"},
      {"no_tf32", "exact FP32 math on the GPU (no TF32 tensor cores)"}};
  // Ranges: TrainOptions::validate, the one set of rules for the command line and a resumed settings.json.
  workflows::for_each_protocol_field(
      [&](const workflows::TrainField& field, auto& value) {
        const std::string name = workflows::option_name(field.key), text = help.at(field.key);
        if constexpr (std::is_same_v<std::decay_t<decltype(value)>, bool>)
          cmd->add_flag(name, value, text);
        else
          cmd->add_option(name, value, text)->capture_default_str();
      },
      *protocol);
}

}  // namespace biascka::app
