#include "models/resnet18.h"

#include <cmath>
#include <cstddef>
#include <regex>
#include <sstream>
#include <utility>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops/batch_norm.h"
#include "engine/ops/conv2d.h"
#include "engine/ops/dropout.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/linear.h"
#include "engine/ops/pooling.h"
#include "engine/ops/softmax.h"
#include "engine/random.h"
#include "models/torch_cka_axis.h"

namespace biascka {

namespace {
constexpr int64_t kStageChannels[4] = {64, 128, 256, 512};

std::string block_name(int stage, int b) { return "layer" + std::to_string(stage) + "." + std::to_string(b); }

}  // namespace

ResNet18::ResNet18(ResNet18Config cfg, uint64_t seed, Device device) : cfg_(cfg), device_(Device::cpu()) {
  BIASCKA_CHECK(cfg.num_classes >= 1, "ResNet18: num_classes must be positive, got ", cfg.num_classes);
  dropout_seed_ = seed ^ 0x5DEECE66Dull;
  dropout_counter_ = Tensor::zeros({}, DType::I64);
  make_conv("conv1.weight", 64, 3, cfg.cifar_stem ? 3 : 7, seed);
  make_bn("bn1", 64);
  int64_t in = 64;
  for (int s = 1; s <= 4; ++s) {
    const int64_t ch = kStageChannels[s - 1];
    for (int b = 0; b < 2; ++b) {
      const std::string p = block_name(s, b);
      make_conv(p + ".conv1.weight", ch, in, 3, seed);
      make_bn(p + ".bn1", ch);
      make_conv(p + ".conv2.weight", ch, ch, 3, seed);
      make_bn(p + ".bn2", ch);
      if (s > 1 && b == 0) {
        make_conv(p + ".downsample.0.weight", ch, in, 1, seed);
        make_bn(p + ".downsample.1", ch);
      }
      in = ch;
    }
  }
  // nn.Linear's default: weight and bias uniform in +-1/sqrt(fan_in).
  const float bound = 1.f / std::sqrt(512.f);
  register_tensor("fc.weight", rand_uniform({cfg.num_classes, 512}, -bound, bound, seed, hash64("fc.weight")),
                  true);
  register_tensor("fc.bias", rand_uniform({cfg.num_classes}, -bound, bound, seed, hash64("fc.bias")), true);
  to(device);
}

void ResNet18::make_conv(const std::string& name, int64_t out, int64_t in, int64_t k, uint64_t seed) {
  // torchvision: kaiming_normal_(mode="fan_out", nonlinearity="relu").
  const float std = std::sqrt(2.f / static_cast<float>(out * k * k));
  register_tensor(name, rand_normal({out, in, k, k}, 0.f, std, seed, hash64(name.c_str())), true);
}

void ResNet18::make_bn(const std::string& p, int64_t c) {
  register_tensor(p + ".weight", Tensor::full({c}, 1.0), true);
  register_tensor(p + ".bias", Tensor::zeros({c}), true);
  register_tensor(p + ".running_mean", Tensor::zeros({c}), false);
  register_tensor(p + ".running_var", Tensor::full({c}, 1.0), false);
  register_tensor(p + ".num_batches_tracked", Tensor::zeros({}, DType::I64), false);
}

Tensor& ResNet18::register_tensor(const std::string& name, Tensor t, bool parameter) {
  if (parameter) t.set_requires_grad(true);
  entries_.push_back({name, std::move(t), parameter});
  return entries_.back().tensor;
}

Tensor& ResNet18::get(const std::string& name) {
  for (auto& e : entries_)
    if (e.name == name) return e.tensor;
  fail("ResNet18: no tensor '", name, "'");
}

void ResNet18::to(Device device) {
  require_device(device);
  if (device == device_) return;
  for (auto& e : entries_) {
    Tensor moved = e.tensor.detach().to(device);
    if (e.parameter) moved.set_requires_grad(true);
    e.tensor = moved;
  }
  dropout_counter_ = dropout_counter_.to(device);
  device_ = device;
}

uint64_t ResNet18::dropout_offset() const { return static_cast<uint64_t>(dropout_counter_.item()); }

void ResNet18::set_dropout_state(uint64_t seed, uint64_t offset) {
  dropout_seed_ = seed;
  dropout_counter_.fill(static_cast<double>(offset));
}

Tensor ResNet18::conv(const std::string& prefix, const Tensor& x, int stride, int pad) {
  return conv2d(x, get(prefix + ".weight"), {stride, pad});
}

Tensor ResNet18::bn(const std::string& p, const Tensor& x) {
  if (training_) increment_(get(p + ".num_batches_tracked"), 1);
  return batch_norm(x, get(p + ".weight"), get(p + ".bias"), get(p + ".running_mean"),
                    get(p + ".running_var"), {training_, 0.1f, 1e-5f});
}

Tensor ResNet18::block(const std::string& p, const Tensor& x, int stride, bool downsample, const TapFn& tap) {
  auto emit = [&](const char* leaf, const Tensor& t) {
    if (tap) tap(p + "." + leaf, t);
  };
  Tensor h = conv(p + ".conv1", x, stride, 1);
  emit("conv1", h);
  h = bn(p + ".bn1", h);
  emit("bn1", h);
  h = relu(h);
  emit("relu1", h);
  h = conv(p + ".conv2", h, 1, 1);
  emit("conv2", h);
  h = bn(p + ".bn2", h);
  emit("bn2", h);
  Tensor identity = x;
  if (downsample) {
    identity = conv(p + ".downsample.0", x, stride, 0);
    emit("downsample.0", identity);
    identity = bn(p + ".downsample.1", identity);
    emit("downsample.1", identity);
  }
  h = add(h, identity);
  emit("add", h);
  h = relu(h);
  emit("relu2", h);
  return h;
}

Tensor ResNet18::forward(const Tensor& x, const TapFn& tap) {
  BIASCKA_CHECK(x.dim() == 4 && x.size(3) == 3, "ResNet18: input must be [N, H, W, 3], got ",
                shape_str(x.shape()));
  BIASCKA_CHECK(x.device() == device_, "ResNet18: input on ", x.device().str(), ", model on ", device_.str());
  auto emit = [&](const char* name, const Tensor& t) {
    if (tap) tap(name, t);
  };
  Tensor h = cfg_.cifar_stem ? conv("conv1", x, 1, 1) : conv("conv1", x, 2, 3);
  emit("conv1", h);
  h = bn("bn1", h);
  emit("bn1", h);
  h = relu(h);
  emit("relu", h);
  if (!cfg_.cifar_stem) {
    h = max_pool2d(h, {3, 2, 1});
    emit("maxpool", h);
  }
  for (int s = 1; s <= 4; ++s)
    for (int b = 0; b < 2; ++b) h = block(block_name(s, b), h, s > 1 && b == 0 ? 2 : 1, s > 1 && b == 0, tap);
  h = global_avg_pool(h);
  emit("avgpool", h);
  h = dropout(h, cfg_.dropout, training_, dropout_seed_, dropout_counter_);
  emit("dropout", h);
  h = linear(h, get("fc.weight"), get("fc.bias"));
  emit("fc", h);
  if (cfg_.log_softmax_head) {
    h = log_softmax(h);
    emit("log_softmax", h);
  }
  return h;
}

NamedTensors ResNet18::named_parameters() const {
  NamedTensors out;
  for (const auto& e : entries_)
    if (e.parameter) out.emplace_back(e.name, e.tensor);
  return out;
}

NamedTensors ResNet18::named_buffers() const {
  NamedTensors out;
  for (const auto& e : entries_)
    if (!e.parameter) out.emplace_back(e.name, e.tensor);
  return out;
}

NamedTensors ResNet18::state_dict() const {
  NamedTensors out;
  for (const auto& e : entries_) out.emplace_back(e.name, e.tensor);
  return out;
}

namespace {
// Whether every value of a float tensor is finite (integer tensors always are).
bool all_finite(const Tensor& t) {
  if (t.dtype() != DType::F32 && t.dtype() != DType::F64) return true;
  const Tensor host = t.device().is_cpu() ? t : t.to(Device::cpu());
  const int64_t n = host.numel();
  if (host.dtype() == DType::F64) {
    const double* p = host.data<double>();
    for (int64_t i = 0; i < n; ++i)
      if (!std::isfinite(p[i])) return false;
    return true;
  }
  const float* p = host.data<float>();
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(p[i])) return false;
  return true;
}
}  // namespace

void ResNet18::load_state_dict(const TensorFile& file) {
  NoGrad no_grad;
  for (auto& e : entries_) {
    BIASCKA_CHECK(file.contains(e.name), file.path, ": no tensor '", e.name,
                  "' (a ResNet18 checkpoint with torchvision's names is expected)");
    const Tensor& src = file.at(e.name);
    BIASCKA_CHECK(src.dtype() == e.tensor.dtype(), file.path, ": tensor '", e.name, "' is ",
                  dtype_name(src.dtype()), ", the model expects ", dtype_name(e.tensor.dtype()));
    BIASCKA_CHECK(src.numel() == e.tensor.numel() &&
                      (src.shape() == e.tensor.shape() || src.dim() + e.tensor.dim() <= 1),
                  file.path, ": tensor '", e.name, "' has shape ", shape_str(src.shape()),
                  ", the model expects ", shape_str(e.tensor.shape()));
    BIASCKA_CHECK(all_finite(src), file.path, ": tensor '", e.name,
                  "' holds NaN or infinite values (a diverged or damaged model): refusing to use it");
    e.tensor.copy_from(src);
  }
}

std::vector<std::string> ResNet18::layer_names() const {
  std::vector<std::string> n = {"conv1", "bn1", "relu"};
  if (!cfg_.cifar_stem) n.push_back("maxpool");
  for (int s = 1; s <= 4; ++s)
    for (int b = 0; b < 2; ++b) {
      const std::string p = block_name(s, b) + ".";
      for (const char* leaf : {"conv1", "bn1", "relu1", "conv2", "bn2"}) n.push_back(p + leaf);
      if (s > 1 && b == 0) {
        n.push_back(p + "downsample.0");
        n.push_back(p + "downsample.1");
      }
      n.push_back(p + "add");
      n.push_back(p + "relu2");
    }
  for (const char* leaf : {"avgpool", "dropout", "fc"}) n.push_back(leaf);
  if (cfg_.log_softmax_head) n.push_back("log_softmax");
  return n;
}

std::vector<std::string> select_layers(const std::vector<std::string>& all, const std::string& selection) {
  auto listing = [&] {
    std::ostringstream os;
    for (size_t i = 0; i < all.size(); ++i) os << (i ? ", " : "") << all[i];
    return os.str();
  };
  if (selection.empty() || selection == "all") return all;
  std::vector<std::string> out;
  if (selection == "modules") {
    // PyTorch hooks see one output per module: a block's single ReLU module reports its last call (relu2),
    // and the residual add is no module.
    for (const auto& n : all) {
      const bool hidden = n.ends_with(".relu1") || n.ends_with(".add");
      if (!hidden) out.push_back(n);
    }
    return out;
  }
  if (selection == "torch_cka") {
    for (const TorchCkaRow& r : torch_cka_axis(all)) out.push_back(r.ours);
    return out;
  }
  std::regex re;
  try {
    re = std::regex(selection, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    fail("--layers '", selection, "' is not a valid regular expression (", e.what(), ")");
  }
  for (const auto& n : all)
    if (std::regex_match(n, re)) out.push_back(n);
  BIASCKA_CHECK(
      !out.empty(), "--layers '", selection,
      "' matches no layer; the layers are: all, modules, torch_cka, or a pattern over: ", listing());
  return out;
}

}  // namespace biascka
