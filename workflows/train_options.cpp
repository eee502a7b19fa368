#include "workflows/train_options.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <regex>
#include <type_traits>
#include <vector>

#include "data/normalize.h"
#include "engine/error.h"
#include "workflows/json_file.h"

namespace biascka::workflows {

namespace {

// A float setting as the double of its shortest decimal (1e-3f is written 0.001, not 0.0010000000474974513);
// reading it back into a float gives the same float.
double json_float(float v) {
  char buf[32];
  const auto end = std::to_chars(buf, buf + sizeof buf, v).ptr;
  return std::strtod(std::string(buf, end).c_str(), nullptr);
}

// Floats go through double: a value beyond float's range becomes inf (not an undefined conversion), which
// validate() refuses.
float to_float(double v) {
  if (std::isnan(v) || std::fabs(v) <= std::numeric_limits<float>::max()) return static_cast<float>(v);
  return v > 0 ? INFINITY : -INFINITY;
}

// Integers that are ints in memory: out of int's range they are clamped to a value validate() refuses.
int to_int(int64_t v) {
  return static_cast<int>(
      std::clamp<int64_t>(v, std::numeric_limits<int>::min(), std::numeric_limits<int>::max()));
}

template <class T>
void read_field(const JsonFields& f, const TrainField& field, T& value) {
  if constexpr (std::is_same_v<T, std::string>)
    value = f.text(field.key);
  else if constexpr (std::is_same_v<T, float>)
    value = to_float(f.number(field.key));
  else if constexpr (std::is_same_v<T, uint64_t>)
    value = f.non_negative_integer(field.key);
  else if constexpr (std::is_same_v<T, int64_t>)
    value = f.integer(field.key);
  else if constexpr (std::is_same_v<T, int>)
    value = to_int(f.integer(field.key));
  else if constexpr (std::is_same_v<T, bool>)
    value = f.boolean(field.key);
  else
    static_assert(!sizeof(T), "a TrainOptions field of a type from_json cannot read");
}

const char* number_rule(TrainField::Number n) {
  switch (n) {
    case TrainField::Number::Positive:
      return "must be a positive number";
    case TrainField::Number::NonNegative:
      return "must be a non-negative number";
    case TrainField::Number::Finite:
      break;
  }
  return "must be a finite number";
}

bool number_ok(TrainField::Number n, float v) {
  if (!std::isfinite(v)) return false;
  return n == TrainField::Number::Positive ? v > 0 : n == TrainField::Number::NonNegative ? v >= 0 : true;
}

// One field against its limits; `name` is "--max-train" or "RUN/settings.json: max_train".
template <class T>
void check_field(const std::string& name, const TrainField& field, const T& value) {
  if constexpr (std::is_same_v<T, std::string>) {
    if (field.check_text) field.check_text(name, value);
  } else if constexpr (std::is_same_v<T, float>) {
    if (!number_ok(field.number, value)) fail(name, " ", value, ": ", number_rule(field.number));
  } else if constexpr (std::is_same_v<T, uint64_t>) {
    if (value > static_cast<uint64_t>(field.hi)) fail(name, " ", value, ": ", field.why);
  } else if constexpr (std::is_same_v<T, int64_t> || std::is_same_v<T, int>) {
    check_range(name, value, field.lo, field.hi, field.why);
  }
}

}  // namespace

std::string option_name(std::string_view key) {
  std::string name = "--" + std::string(key);
  std::replace(name.begin(), name.end(), '_', '-');
  return name;
}

void check_loss_name(const std::string& name, const std::string& value) {
  try {
    losses::objective(value);
  } catch (const Error& e) {
    fail(name, " ", value, ": ", e.what());
  }
}

void check_stem_name(const std::string& name, const std::string& value) {
  if (value != "imagenet" && value != "cifar") fail(name, " ", value, ": must be imagenet or cifar");
}

void check_normalization_name(const std::string& name, const std::string& value) {
  if (value.empty()) return;  // from the folder name
  try {
    data::normalization_preset(value);
  } catch (const Error& e) {
    fail(name, " ", value, ": ", e.what());
  }
}

void check_device_name(const std::string& name, const std::string& value) { parse_device(name, value); }

void check_cka_layers(const std::string& name, const std::string& value) {
  if (value == "all" || value == "modules" || value == "torch_cka") return;
  try {
    const std::regex re(value, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    fail(name, " ", value, ": not all, modules, torch_cka or a valid regular expression (", e.what(), ")");
  }
}

const TrainField* find_train_field(std::string_view key) {
  static const std::vector<TrainField> fields = [] {
    std::vector<TrainField> all;
    const TrainOptions any;
    for_each_train_field([&](const TrainField& f, const auto&) { all.push_back(f); }, any);
    return all;
  }();
  for (const TrainField& f : fields)
    if (key == f.key) return &f;
  return nullptr;
}

nlohmann::json TrainOptions::to_json() const {
  nlohmann::json j = nlohmann::json::object();
  for_each_train_field(
      [&](const TrainField& f, const auto& value) {
        if constexpr (std::is_same_v<std::decay_t<decltype(value)>, float>)
          j[f.key] = json_float(value);
        else
          j[f.key] = value;
      },
      *this);
  return j;
}

TrainOptions TrainOptions::from_json(const nlohmann::json& j, const std::string& file) {
  const JsonFields f(j, file);
  TrainOptions o;
  for_each_train_field(
      [&](const TrainField& field, auto& value) {
        if (!field.default_when_absent || j.contains(field.key)) read_field(f, field, value);
      },
      o);
  return o;
}

void TrainOptions::validate(const std::string& settings_file) const {
  // "--max-train" on the command line, "RUN/settings.json: max_train" for a file.
  for_each_train_field(
      [&](const TrainField& field, const auto& value) {
        check_field(settings_file.empty() ? option_name(field.key) : settings_file + ": " + field.key, field,
                    value);
      },
      *this);
  check_range("--workers", workers, 0, kMaxWorkers, "0: one per core");
  check_batch_memory(settings_file.empty() ? "" : settings_file + ": ", batch, image_size);
}

}  // namespace biascka::workflows
