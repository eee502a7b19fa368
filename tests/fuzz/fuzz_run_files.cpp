// A run folder's JSON as --resume reads it (workflows/run_files.h: settings.json and metrics.jsonl) and the
// run state a last.safetensors carries in its metadata (workflows/checkpoint.h). The same bytes go to all
// three: each parser sees objects, arrays and lines of every shape.
#include "engine/io/safetensors.h"
#include "tests/fuzz/fuzz_support.h"
#include "workflows/checkpoint.h"
#include "workflows/run_files.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace biascka;
  const std::string text(reinterpret_cast<const char*>(data), size);
  fuzz::expect_parse_or_error([&] { workflows::parse_settings(text, "settings.json"); });
  fuzz::expect_parse_or_error([&] { workflows::parse_metrics(text, "metrics.jsonl", 1000); });
  fuzz::expect_parse_or_error([&] {
    TensorFile file;
    file.path = "last.safetensors";
    file.metadata["run_state"] = text;
    workflows::read_run_state(file);
  });
  return 0;
}
