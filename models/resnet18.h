#pragma once
// torchvision's resnet18 (7x7/2 stem, 3x3/2 max-pool, four stages of two BasicBlocks, global average
// pool), with one dropout (p = 0.4) before fc, torchvision's parameter and buffer names and
// initialisation. Feature maps are channels-last [N, H, W, C]; the input is [N, H, W, 3].
//
// Layer taps: every layer output CKA can read, in forward order, one name per application (DESIGN.md):
// conv1 bn1 relu maxpool, then per block layerS.B.{conv1,bn1,relu1,conv2,bn2,[downsample.0,downsample.1],
// add,relu2}, then avgpool dropout fc (69), plus log_softmax when the model ends in one (the NLL objective).
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/io/safetensors.h"
#include "engine/tensor.h"

namespace biascka {

struct ResNet18Config {
  int64_t num_classes = 10;
  bool cifar_stem = false;        // 3x3/1 stem without max-pool, for small images (--stem cifar)
  bool log_softmax_head = false;  // the NLL objective's network ends in a LogSoftmax layer
  float dropout = 0.4f;
};

// Called with each tapped layer's output during forward (no copy is made; keep what you need).
using TapFn = std::function<void(const std::string& name, const Tensor& output)>;

class ResNet18 {
 public:
  // Parameters initialised as torchvision does, from `seed`.
  ResNet18(ResNet18Config cfg, uint64_t seed, Device device = Device::cpu());

  const ResNet18Config& config() const { return cfg_; }
  Device device() const { return device_; }

  // x [N, H, W, 3] -> logits [N, classes] (or log-probabilities with the log_softmax head).
  Tensor forward(const Tensor& x, const TapFn& tap = {});

  void train(bool on = true) { training_ = on; }
  void eval() { training_ = false; }
  bool training() const { return training_; }

  // torchvision's names, in state_dict order. Parameters (weights and biases) and buffers
  // (running_mean, running_var, num_batches_tracked).
  NamedTensors named_parameters() const;
  NamedTensors named_buffers() const;
  NamedTensors state_dict() const;  // parameters and buffers interleaved as torchvision orders them
  // Loads every tensor of the state dict from `file` (extra tensors are ignored: optimizer state etc.).
  // Missing tensors, shape or dtype mismatches and NaN or infinite values are errors naming the file and
  // the tensor (a model with NaN weights would otherwise evaluate to a plausible-looking accuracy).
  void load_state_dict(const TensorFile& file);
  void to(Device device);

  // Dropout's counter-based generator: the mask of training step k comes from (seed, offset). Saved in
  // checkpoints so that a resumed run draws the same masks.
  uint64_t dropout_seed() const { return dropout_seed_; }
  uint64_t dropout_offset() const;  // reads the device counter (a sync on the GPU)
  void set_dropout_state(uint64_t seed, uint64_t offset);

  // The tap names for this configuration, in forward order.
  std::vector<std::string> layer_names() const;

 private:
  struct Entry {
    std::string name;
    Tensor tensor;
    bool parameter;
  };
  Tensor& register_tensor(const std::string& name, Tensor t, bool parameter);
  Tensor& get(const std::string& name);
  Tensor conv(const std::string& prefix, const Tensor& x, int stride, int pad);
  Tensor bn(const std::string& prefix, const Tensor& x);
  Tensor block(const std::string& prefix, const Tensor& x, int stride, bool downsample, const TapFn& tap);
  void make_conv(const std::string& name, int64_t out, int64_t in, int64_t k, uint64_t seed);
  void make_bn(const std::string& prefix, int64_t c);

  ResNet18Config cfg_;
  Device device_;
  bool training_ = true;
  std::vector<Entry> entries_;  // registration order == torchvision's state_dict order
  uint64_t dropout_seed_ = 0;
  Tensor dropout_counter_;  // I64 [] on the model's device, advanced by each training forward
};

// Resolves a --layers selection against the model's tap names: "all", "modules" (the 53 outputs that
// PyTorch forward hooks on every leaf module see: a block's ReLU module reports its last application,
// relu2), "torch_cka" (torch-cka 0.21's 68 rows, some layers repeated: torch_cka_axis.h), or a regular
// expression (ECMAScript, matched against the whole name). An empty result or an invalid pattern is an error
// listing the valid names.
std::vector<std::string> select_layers(const std::vector<std::string>& all_names,
                                       const std::string& selection);

}  // namespace biascka
