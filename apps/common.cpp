#include "apps/common.h"

#include <cstddef>

#include "engine/error.h"
#include "engine/io/npy.h"

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

ResNet18Config config_from_checkpoint(const TensorFile& ckpt) {
  ResNet18Config cfg;
  BIASCKA_CHECK(ckpt.contains("fc.weight"), ckpt.path,
                ": no tensor 'fc.weight' (not a ResNet18 checkpoint?)");
  BIASCKA_CHECK(ckpt.contains("conv1.weight"), ckpt.path,
                ": no tensor 'conv1.weight' (not a ResNet18 checkpoint?)");
  const Tensor& fc = ckpt.at("fc.weight");
  BIASCKA_CHECK(fc.dim() == 2 && fc.size(1) == 512 && fc.size(0) >= 1, ckpt.path,
                ": tensor 'fc.weight' has shape ", shape_str(fc.shape()), ", expected [classes, 512]");
  cfg.num_classes = fc.size(0);
  const Tensor& c1 = ckpt.at("conv1.weight");
  BIASCKA_CHECK(c1.dim() == 4 && (c1.size(2) == 7 || c1.size(2) == 3), ckpt.path,
                ": tensor 'conv1.weight' has shape ", shape_str(c1.shape()),
                ", expected [64, 3, 7, 7] (or 3x3 for the CIFAR stem)");
  cfg.cifar_stem = c1.size(2) == 3;
  auto it = ckpt.metadata.find("head");
  cfg.log_softmax_head = it != ckpt.metadata.end() && it->second == "log_softmax";
  return cfg;
}

void add_image_options(CLI::App* cmd, std::string* normalization, int* image_size, int* workers) {
  cmd->add_option("--normalization", *normalization,
                  "cmnist | cifar10c | bffhq | unit (default: from the folder name)");
  cmd->add_option("--image-size", *image_size, "resize images to this size (0: native; bffhq 224)")
      ->capture_default_str();
  cmd->add_option("--workers", *workers, "image loading threads (0: cores)")->capture_default_str();
}

}  // namespace biascka::app
