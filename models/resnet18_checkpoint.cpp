#include "models/resnet18_checkpoint.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <utility>
#include <vector>

#include "engine/error.h"
#include "engine/parse.h"
#include "engine/printable.h"

#define XXH_INLINE_ALL  // header-only: no shared library to carry to the GPU host
#include <xxhash.h>

namespace biascka {

namespace {

constexpr const char* kChecksumKey = "checksum";
constexpr const char* kChecksumPrefix = "xxh3-128:";

bool biascka_format(const Metadata& m) {
  const auto it = m.find("format");
  return it != m.end() && it->second.starts_with("biascka checkpoint");
}

// As workflows' warn(): models sit below workflows, and a warning is no error.
void warn_unverified(const std::string& path) {
  std::fprintf(
      stderr, "biascka: warning: %s\n",
      printable(path + ": no checksum (written by an older biascka): loaded without verifying it").c_str());
  std::fflush(stderr);
}

}  // namespace

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

void write_resnet18_checkpoint(const std::string& path, const NamedTensors& tensors,
                               const ResNet18Config& cfg, Metadata meta) {
  meta["head"] = cfg.log_softmax_head ? "log_softmax" : "linear";
  meta["stem"] = cfg.cifar_stem ? "cifar" : "imagenet";
  meta["num_classes"] = std::to_string(cfg.num_classes);
  meta["format"] = "biascka checkpoint: torchvision resnet18 names; optim.* = torch.optim.Adam state";
  meta[kChecksumKey] = checkpoint_checksum(tensors, meta);
  write_safetensors(path, tensors, meta);
}

TensorFile read_checkpoint(const std::string& path) {
  TensorFile file = read_safetensors(path);
  const auto it = file.metadata.find(kChecksumKey);
  if (it == file.metadata.end()) {
    if (biascka_format(file.metadata)) warn_unverified(path);
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
  if (const auto n = ckpt.metadata.find("num_classes"); n != ckpt.metadata.end()) {
    const int64_t said = parse_int64(n->second, ckpt.path + ": metadata num_classes");
    BIASCKA_CHECK(said == cfg.num_classes, ckpt.path, ": metadata num_classes is ", said,
                  " but 'fc.weight' has ", cfg.num_classes, " rows");
  }
  const Tensor& c1 = ckpt.at("conv1.weight");
  BIASCKA_CHECK(c1.dim() == 4 && (c1.size(2) == 7 || c1.size(2) == 3), ckpt.path,
                ": tensor 'conv1.weight' has shape ", shape_str(c1.shape()),
                ", expected [64, 3, 7, 7] (or 3x3 for the CIFAR stem)");
  cfg.cifar_stem = c1.size(2) == 3;
  const auto head = ckpt.metadata.find("head");
  cfg.log_softmax_head = head != ckpt.metadata.end() && head->second == "log_softmax";
  return cfg;
}

ResNet18 load_resnet18(const std::string& path, Device device, std::optional<float> dropout) {
  const TensorFile file = read_checkpoint(path);
  ResNet18Config cfg = config_from_checkpoint(file);
  if (dropout) cfg.dropout = *dropout;
  ResNet18 model(cfg, 0, device);
  model.load_state_dict(file);
  return model;
}

}  // namespace biascka
