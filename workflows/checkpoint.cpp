#include "workflows/checkpoint.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <system_error>
#include <utility>
#include <vector>

#include "engine/error.h"
#include "workflows/json_file.h"
#include "workflows/progress.h"

#define XXH_INLINE_ALL  // header-only: no shared library to carry to the GPU host
#include <xxhash.h>

namespace biascka::workflows {

namespace {

constexpr const char* kChecksumKey = "checksum";
constexpr const char* kChecksumPrefix = "xxh3-128:";

// A 64-bit value stored as a decimal string (JSON readers lose bits of large numbers).
uint64_t decimal_u64(const JsonFields& f, const char* key) {
  const std::string s = f.text(key);
  uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  BIASCKA_CHECK(!s.empty() && ec == std::errc() && end == s.data() + s.size(), f.file(), ": field '", key,
                "' must be a decimal integer below 2^64, got \"", s, "\"");
  return v;
}

bool biascka_format(const Metadata& m) {
  const auto it = m.find("format");
  return it != m.end() && it->second.starts_with("biascka checkpoint");
}

}  // namespace

nlohmann::json RunState::to_json() const {
  return {{"epoch", epoch},
          {"step_in_epoch", step_in_epoch},
          {"dropout_seed", std::to_string(dropout_seed)},  // 64-bit values as strings: JSON readers lose bits
          {"dropout_offset", std::to_string(dropout_offset)},
          {"best_epoch", best_epoch},
          {"best_valid_accuracy", best_valid_accuracy},
          {"bad_epochs", bad_epochs},
          {"partial", partial}};
}

RunState RunState::from_json(const nlohmann::json& j, const std::string& file) {
  const JsonFields f(j, file);
  RunState s;
  s.epoch = f.integer("epoch");
  s.step_in_epoch = f.integer("step_in_epoch");
  s.dropout_seed = decimal_u64(f, "dropout_seed");
  s.dropout_offset = decimal_u64(f, "dropout_offset");
  s.best_epoch = f.integer("best_epoch");
  s.best_valid_accuracy = f.number("best_valid_accuracy");
  s.bad_epochs = f.integer("bad_epochs");
  s.partial = j.value("partial", nlohmann::json::object());
  BIASCKA_CHECK(s.epoch >= 0 && s.step_in_epoch >= 0 && s.bad_epochs >= 0 && s.best_epoch >= 0 &&
                    s.best_epoch <= s.epoch,
                file, ": run state out of range (epoch ", s.epoch, ", step_in_epoch ", s.step_in_epoch,
                ", best_epoch ", s.best_epoch, ", bad_epochs ", s.bad_epochs, ")");
  BIASCKA_CHECK(s.partial.is_object(), file, ": field 'partial' must be an object");
  return s;
}

std::string checkpoint_checksum(const NamedTensors& tensors, const Metadata& metadata) {
  XXH3_state_t* st = XXH3_createState();
  BIASCKA_CHECK(st != nullptr, "checksum: out of memory");
  XXH3_128bits_reset(st);
  auto add = [&](const void* p, size_t n) { XXH3_128bits_update(st, p, n); };
  auto add_text = [&](const std::string& s) { add(s.c_str(), s.size() + 1); };  // with its terminating 0
  auto add_u64 = [&](uint64_t v) { add(&v, sizeof v); };
  add_text("biascka checkpoint checksum v1");
  std::vector<const std::pair<std::string, Tensor>*> sorted;
  for (const auto& t : tensors) sorted.push_back(&t);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->first < b->first; });
  for (const auto* nt : sorted) {
    const Tensor host = nt->second.device().is_cpu() ? nt->second : nt->second.to(Device::cpu());
    add_text(nt->first);
    add_text(dtype_name(host.dtype()));
    add_u64(host.shape().size());
    for (int64_t d : host.shape()) add_u64(static_cast<uint64_t>(d));
    add_u64(host.nbytes());
    add(host.raw_data(), host.nbytes());
  }
  for (const auto& [k, v] : metadata)  // std::map: in key order
    if (k != kChecksumKey) {
      add_text(k);
      add_text(v);
    }
  const XXH128_hash_t h = XXH3_128bits_digest(st);
  XXH3_freeState(st);
  char hex[33];
  std::snprintf(hex, sizeof hex, "%016llx%016llx", static_cast<unsigned long long>(h.high64),
                static_cast<unsigned long long>(h.low64));
  return std::string(kChecksumPrefix) + hex;
}

void save_checkpoint(const std::string& path, const ResNet18& model, const Adam* optimizer,
                     const RunState* state, Metadata meta) {
  NamedTensors tensors = model.state_dict();
  if (optimizer) {
    NamedTensors opt = optimizer->state();
    tensors.insert(tensors.end(), opt.begin(), opt.end());
  }
  const ResNet18Config& cfg = model.config();
  meta["head"] = cfg.log_softmax_head ? "log_softmax" : "linear";
  meta["stem"] = cfg.cifar_stem ? "cifar" : "imagenet";
  meta["num_classes"] = std::to_string(cfg.num_classes);
  meta["format"] = "biascka checkpoint: torchvision resnet18 names; optim.* = torch.optim.Adam state";
  if (state) meta["run_state"] = state->to_json().dump();
  meta[kChecksumKey] = checkpoint_checksum(tensors, meta);
  write_safetensors(path, tensors, meta);
}

TensorFile read_checkpoint(const std::string& path) {
  TensorFile file = read_safetensors(path);
  const auto it = file.metadata.find(kChecksumKey);
  if (it == file.metadata.end()) {
    if (biascka_format(file.metadata))
      warn(path + ": no checksum (written by an older biascka): loaded without verifying it");
    return file;
  }
  const std::string want = it->second, got = checkpoint_checksum(file.tensors, file.metadata);
  BIASCKA_CHECK(want.starts_with(kChecksumPrefix), path, ": unknown checksum kind '", want.substr(0, 20),
                "' (this biascka writes ", kChecksumPrefix, "...)");
  BIASCKA_CHECK(want == got, path,
                ": checksum mismatch: the file changed after biascka wrote it (disk damage, a bad copy or an "
                "edit) and cannot be trusted (stored ",
                want, ", contents ", got, ")");
  return file;
}

RunState read_run_state(const TensorFile& file) {
  auto it = file.metadata.find("run_state");
  BIASCKA_CHECK(it != file.metadata.end(), file.path,
                ": no run_state in the metadata (not a biascka last checkpoint)");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(it->second);
  } catch (const nlohmann::json::exception& e) {
    fail(file.path, ": run_state in the metadata is not valid JSON");
  }
  return RunState::from_json(j, file.path + " (run_state)");
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

}  // namespace biascka::workflows
