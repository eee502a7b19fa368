#include "workflows/layer_capture.h"

#include <cstddef>
#include <unordered_map>

#include "cka/probes.h"
#include "engine/error.h"

namespace biascka::workflows {

std::vector<Tensor> capture_layers(ResNet18& model, const Tensor& images,
                                   const std::vector<std::string>& layers, bool to_host) {
  std::unordered_map<std::string, std::vector<size_t>> index;
  for (size_t i = 0; i < layers.size(); ++i) index[layers[i]].push_back(i);
  std::vector<Tensor> out(layers.size());
  model.forward(images.to(model.device()), [&](const std::string& name, const Tensor& t) {
    const auto it = index.find(name);
    if (it == index.end()) return;
    const Tensor kept = to_host ? t.to(Device::cpu()) : t;
    for (const size_t i : it->second) out[i] = kept;
  });
  for (size_t i = 0; i < layers.size(); ++i)
    BIASCKA_CHECK(out[i].defined(), "CKA: layer '", layers[i], "' produced no output in the forward pass");
  return out;
}

std::vector<Tensor> probe_activations(const data::Batch& batch, const std::vector<std::string>& probes,
                                      const data::Split& split, Device device) {
  std::vector<Tensor> out;
  for (const std::string& p : probes)
    out.push_back(cka::one_hot(p == "target" ? batch.targets : batch.biases, split.num_classes,
                               split.dir + ": " + p + " labels")
                      .to(device));
  return out;
}

}  // namespace biascka::workflows
