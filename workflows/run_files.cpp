#include "workflows/run_files.h"

#include <filesystem>
#include <sstream>

#include "engine/error.h"
#include "engine/io/atomic_file.h"

namespace biascka::workflows {

nlohmann::json parse_json(const std::string& text, const std::string& path) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail(path, ": not valid JSON (", e.what(), ")");
  }
}

TrainOptions parse_settings(const std::string& text, const std::string& path) {
  const nlohmann::json j = parse_json(text, path);
  try {
    return TrainOptions::from_json(j);
  } catch (const Error& e) {
    fail(path, ": ", e.what());
  }
}

std::vector<nlohmann::json> parse_metrics(const std::string& text, const std::string& path, int64_t keep) {
  std::vector<nlohmann::json> lines;
  std::istringstream in(text);
  std::string line;
  for (int64_t number = 1; static_cast<int64_t>(lines.size()) < keep && std::getline(in, line); ++number) {
    if (line.empty()) continue;
    nlohmann::json j = parse_json(line, path + ": line " + std::to_string(number));
    BIASCKA_CHECK(j.is_object(), path, ": line ", number, ": expected a JSON object, got ", j.type_name());
    lines.push_back(std::move(j));
  }
  return lines;
}

nlohmann::json read_json(const std::string& path) { return parse_json(read_file(path), path); }

TrainOptions read_settings(const std::string& path) { return parse_settings(read_file(path), path); }

std::vector<nlohmann::json> read_metrics(const std::string& path, int64_t keep) {
  if (!std::filesystem::exists(path)) return {};
  return parse_metrics(read_file(path), path, keep);
}

}  // namespace biascka::workflows
