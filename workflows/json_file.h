#pragma once
// Reading back the JSON files biascka writes (settings.json, summary.json, metrics.jsonl, cka.json), which a
// user may have edited or a disk may have damaged: every problem is one line that names the file (and the
// line or field), never the JSON library's bare message.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace biascka::workflows {

// The whole file as one JSON object (every JSON file biascka writes holds one). Throws "PATH: not valid
// JSON (line L, column C: ...)" or "PATH: expected a JSON object".
nlohmann::json read_json_file(const std::string& path);
// The same for text already in memory (`path` names it in messages; the fuzz targets call these).
nlohmann::json parse_json_text(const std::string& text, const std::string& path);

// One JSON object per non-empty line, at most `max_lines` of them (-1: all); a missing file is no lines.
// Throws "PATH, line N: not valid JSON (...)".
std::vector<nlohmann::json> read_jsonl_file(const std::string& path, int64_t max_lines = -1);
std::vector<nlohmann::json> parse_jsonl_text(const std::string& text, const std::string& path,
                                             int64_t max_lines = -1);

// Typed fields of a JSON object from `file`. Only types are checked here (an integer is a JSON integer,
// not 2.5 and not a string); ranges are the reader's business. Errors: "FILE: field 'KEY' is missing" and
// "FILE: field 'KEY' must be an integer, got "abc"".
class JsonFields {
 public:
  JsonFields(const nlohmann::json& object, std::string file);
  const std::string& file() const { return file_; }
  std::string text(const char* key) const;
  int64_t integer(const char* key) const;
  uint64_t non_negative_integer(const char* key) const;
  double number(const char* key) const;
  bool boolean(const char* key) const;

 private:
  const nlohmann::json& at(const char* key) const;
  [[noreturn]] void wrong_type(const char* key, const char* expected) const;
  const nlohmann::json& j_;
  std::string file_;
};

}  // namespace biascka::workflows
