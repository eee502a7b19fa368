#include "workflows/json_file.h"

#include <climits>
#include <filesystem>
#include <sstream>
#include <utility>

#include "engine/error.h"
#include "engine/io/atomic_file.h"

namespace biascka::workflows {

namespace {

// The library's message without its "[json.exception.parse_error.101] parse error at " prefix.
std::string parse_problem(const nlohmann::json::exception& e) {
  std::string m = e.what();
  if (m.starts_with("[json.exception.")) m = m.substr(m.find(']') + 2);
  if (m.starts_with("parse error at ")) m = m.substr(15);
  return m;
}

// A value as it appears in the file, shortened for a message.
std::string shown(const nlohmann::json& v) {
  std::string s = v.dump();
  return s.size() > 40 ? s.substr(0, 37) + "..." : s;
}

}  // namespace

nlohmann::json read_json_file(const std::string& path) { return parse_json_text(read_file(path), path); }

nlohmann::json parse_json_text(const std::string& text, const std::string& path) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail(path, ": not valid JSON (", parse_problem(e), ")");
  }
  BIASCKA_CHECK(j.is_object(), path, ": expected a JSON object, got ", shown(j));
  return j;
}

std::vector<nlohmann::json> read_jsonl_file(const std::string& path, int64_t max_lines) {
  if (!std::filesystem::exists(path)) return {};
  return parse_jsonl_text(read_file(path), path, max_lines);
}

std::vector<nlohmann::json> parse_jsonl_text(const std::string& text, const std::string& path,
                                             int64_t max_lines) {
  std::vector<nlohmann::json> out;
  std::istringstream in(text);
  std::string line;
  for (int64_t number = 1;
       (max_lines < 0 || static_cast<int64_t>(out.size()) < max_lines) && std::getline(in, line); ++number) {
    if (line.empty()) continue;
    try {
      out.push_back(nlohmann::json::parse(line));
    } catch (const nlohmann::json::exception& e) {
      fail(path, ", line ", number, ": not valid JSON (", parse_problem(e), ")");
    }
    BIASCKA_CHECK(out.back().is_object(), path, ", line ", number, ": expected a JSON object, got ",
                  shown(out.back()));
  }
  return out;
}

JsonFields::JsonFields(const nlohmann::json& object, std::string file) : j_(object), file_(std::move(file)) {
  BIASCKA_CHECK(j_.is_object(), file_, ": expected a JSON object, got ", shown(j_));
}

const nlohmann::json& JsonFields::at(const char* key) const {
  const auto it = j_.find(key);
  BIASCKA_CHECK(it != j_.end(), file_, ": field '", key, "' is missing");
  return *it;
}

void JsonFields::wrong_type(const char* key, const char* expected) const {
  fail(file_, ": field '", key, "' must be ", expected, ", got ", shown(at(key)));
}

std::string JsonFields::text(const char* key) const {
  const nlohmann::json& v = at(key);
  if (!v.is_string()) wrong_type(key, "a string");
  return v.get<std::string>();
}

int64_t JsonFields::integer(const char* key) const {
  const nlohmann::json& v = at(key);
  if (v.is_number_integer() && !(v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(INT64_MAX)))
    return v.get<int64_t>();
  wrong_type(key, "an integer");
}

uint64_t JsonFields::non_negative_integer(const char* key) const {
  const nlohmann::json& v = at(key);
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  wrong_type(key, "a non-negative integer");
}

double JsonFields::number(const char* key) const {
  const nlohmann::json& v = at(key);
  if (!v.is_number()) wrong_type(key, "a number");
  return v.get<double>();
}

bool JsonFields::boolean(const char* key) const {
  const nlohmann::json& v = at(key);
  if (!v.is_boolean()) wrong_type(key, "true or false");
  return v.get<bool>();
}

}  // namespace biascka::workflows
