#include "workflows/checkpoint.h"

#include "engine/error.h"

namespace biascka::workflows {

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

RunState RunState::from_json(const nlohmann::json& j) {
  RunState s;
  s.epoch = j.at("epoch").get<int64_t>();
  s.step_in_epoch = j.at("step_in_epoch").get<int64_t>();
  s.dropout_seed = std::stoull(j.at("dropout_seed").get<std::string>());
  s.dropout_offset = std::stoull(j.at("dropout_offset").get<std::string>());
  s.best_epoch = j.at("best_epoch").get<int64_t>();
  s.best_valid_accuracy = j.at("best_valid_accuracy").get<double>();
  s.bad_epochs = j.at("bad_epochs").get<int64_t>();
  s.partial = j.value("partial", nlohmann::json::object());
  return s;
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
  write_safetensors(path, tensors, meta);
}

RunState read_run_state(const TensorFile& file) {
  auto it = file.metadata.find("run_state");
  BIASCKA_CHECK(it != file.metadata.end(), file.path,
                ": no run_state in the metadata (not a biascka last checkpoint)");
  try {
    return RunState::from_json(nlohmann::json::parse(it->second));
  } catch (const nlohmann::json::exception& e) {
    fail(file.path, ": malformed run_state (", e.what(), ")");
  }
}

}  // namespace biascka::workflows
