#include "workflows/checkpoint.h"

#include <utility>

#include "engine/error.h"
#include "engine/parse.h"
#include "workflows/json_file.h"

namespace biascka::workflows {

namespace {

// A 64-bit value stored as a decimal string (JSON readers lose bits of large numbers).
uint64_t decimal_u64(const JsonFields& f, const char* key) {
  return parse_uint64(f.text(key), f.file() + ": field '" + key + "'");
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

void save_checkpoint(const std::string& path, const ResNet18& model, const Adam* optimizer,
                     const RunState* state, Metadata meta) {
  NamedTensors tensors = model.state_dict();
  if (optimizer) {
    NamedTensors opt = optimizer->state();
    tensors.insert(tensors.end(), opt.begin(), opt.end());
  }
  if (state) meta["run_state"] = state->to_json().dump();
  write_resnet18_checkpoint(path, tensors, model.config(), std::move(meta));
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

}  // namespace biascka::workflows
