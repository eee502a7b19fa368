#pragma once
// Helpers shared by several subcommands.
#include <string>

#include <CLI/CLI.hpp>

#include "engine/io/safetensors.h"
#include "engine/tensor.h"
#include "models/resnet18.h"

namespace biascka::app {

// Reads X.npy or FILE.safetensors:TENSOR as a float32 [N, 3, H, W] batch (PyTorch's layout).
Tensor read_input_batch(const std::string& spec);

// The architecture a checkpoint holds: classes from fc.weight, the stem from conv1.weight, the
// log-softmax head from the metadata biascka writes ("head": "log_softmax").
ResNet18Config config_from_checkpoint(const TensorFile& ckpt);

// The image-loading options of the subcommands that read a split folder: --normalization, --image-size,
// --workers.
void add_image_options(CLI::App* cmd, std::string* normalization, int* image_size, int* workers);

}  // namespace biascka::app
