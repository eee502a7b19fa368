#pragma once
// A run folder's JSON read back on resume: settings.json (the run-defining options), metrics.jsonl (one
// line per finished epoch) and summary.json. Like every input they are untrusted: text that is not JSON, a
// field missing or of the wrong type or range is a biascka::Error, one line naming the file. The parse_*
// functions take the text itself; the fuzz target tests/fuzz/fuzz_run_files.cpp calls them.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "workflows/train.h"

namespace biascka::workflows {

nlohmann::json parse_json(const std::string& text, const std::string& path);
TrainOptions parse_settings(const std::string& text, const std::string& path);
// The first `keep` non-empty lines, each a JSON object.
std::vector<nlohmann::json> parse_metrics(const std::string& text, const std::string& path, int64_t keep);

nlohmann::json read_json(const std::string& path);
TrainOptions read_settings(const std::string& path);
// An absent file has no lines.
std::vector<nlohmann::json> read_metrics(const std::string& path, int64_t keep);

}  // namespace biascka::workflows
