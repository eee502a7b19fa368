// A run folder's JSON as --resume reads it (workflows/json_file.h and TrainOptions: settings.json read and
// validated with the command line's rules, metrics.jsonl), the run state a last.safetensors carries in
// its metadata (workflows/checkpoint.h), and cka/cka.json as `reproduce --collect` reads it (its matrix and
// the claim metrics of cka/claims.h over it), and compare.json as report.md reads it. The same bytes go to
// all four: each parser sees objects, arrays and lines of every shape.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "cka/claims.h"
#include "engine/io/safetensors.h"
#include "tests/fuzz/fuzz_support.h"
#include "workflows/checkpoint.h"
#include "workflows/cka_runs.h"
#include "workflows/compare_output.h"
#include "workflows/json_file.h"
#include "workflows/train.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace biascka;
  const std::string text(reinterpret_cast<const char*>(data), size);
  fuzz::expect_parse_or_error([&] {
    const std::string file = "settings.json";
    workflows::TrainOptions::from_json(workflows::parse_json_text(text, file), file).validate(file);
  });
  fuzz::expect_parse_or_error([&] { workflows::parse_jsonl_text(text, "metrics.jsonl", 1000); });
  fuzz::expect_parse_or_error([&] {
    TensorFile file;
    file.path = "last.safetensors";
    file.metadata["run_state"] = text;
    workflows::read_run_state(file);
  });
  fuzz::expect_parse_or_error([&] {
    const nlohmann::json j = workflows::parse_json_text(text, "cka.json");
    const workflows::RunProbes p = workflows::probes_from_json(j, "cka.json");
    if (!p.empty()) cka::probe_crossing(p.target, p.bias);
    const cka::SquareMatrix m = workflows::cka_matrix_from_json(j, "cka.json");
    cka::depth_decay(m);
    cka::block_index(m);
  });
  fuzz::expect_parse_or_error([&] {
    workflows::compare_summary_from_json(workflows::parse_json_text(text, "compare.json"), "compare.json");
  });
  return 0;
}
