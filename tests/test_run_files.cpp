// A run folder's JSON read back on resume (workflows/json_file.h; TrainOptions::from_json + validate) and a
// checkpoint's run_state: settings written by a run read back equal; malformed text, missing fields and
// values of the wrong type or range are one-line errors naming the file and the field (before: nlohmann's
// exceptions, a bare "stoull", or undefined behaviour casting 1e300 to an int64 or a float).
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "engine/error.h"
#include "engine/io/safetensors.h"
#include "tests/support/test_support.h"
#include "workflows/checkpoint.h"
#include "workflows/json_file.h"
#include "workflows/train.h"

namespace biascka::workflows {
namespace {

using test::error_of;

#define EXPECT_CONTAINS(text, part) EXPECT_NE(std::string(text).find(part), std::string::npos) << (text)

// settings.json as resume reads it: parsed, typed, then the command line's rules.
TrainOptions read_settings_text(const std::string& text, const std::string& file) {
  TrainOptions o = TrainOptions::from_json(parse_json_text(text, file), file);
  o.validate(file);
  return o;
}

TEST(RunFiles, SettingsRoundTripAndHostileValues) {
  TrainOptions o;
  o.data = "/data/cmnist/5pct";
  o.loss = "sos";
  o.seed = 1234567890123456789ull;
  o.epochs = 7;
  o.lr = 3e-4f;
  o.image_size = 32;
  o.no_tf32 = true;
  const TrainOptions back = read_settings_text(o.to_json().dump(), "settings.json");
  EXPECT_EQ(back.data, o.data);
  EXPECT_EQ(back.loss, o.loss);
  EXPECT_EQ(back.seed, o.seed);
  EXPECT_EQ(back.epochs, o.epochs);
  EXPECT_EQ(back.lr, o.lr);
  EXPECT_EQ(back.image_size, o.image_size);
  EXPECT_EQ(back.no_tf32, o.no_tf32);

  auto with = [&](const char* key, const nlohmann::json& value) {
    nlohmann::json j = o.to_json();
    if (value.is_discarded())
      j.erase(key);
    else
      j[key] = value;
    return error_of([&] { read_settings_text(j.dump(), "run/settings.json"); });
  };
  EXPECT_EQ(with("epochs", nlohmann::json::value_t::discarded),
            "run/settings.json: field 'epochs' is missing");
  EXPECT_CONTAINS(with("epochs", 1e300), "run/settings.json: field 'epochs' must be an integer, got 1e+300");
  EXPECT_CONTAINS(with("epochs", 1.5), "field 'epochs' must be an integer");
  EXPECT_CONTAINS(with("image_size", int64_t{1} << 40), "run/settings.json: image_size ");
  EXPECT_CONTAINS(with("seed", -1), "field 'seed' must be a non-negative integer, got -1");
  EXPECT_CONTAINS(with("lr", 1e300), "run/settings.json: lr inf: must be a positive number");
  EXPECT_CONTAINS(with("lr", -1e-3), "run/settings.json: lr -0.001: must be a positive number");
  EXPECT_CONTAINS(with("batch", int64_t{1000000000000}), "run/settings.json: batch 1000000000000: must be");
  EXPECT_CONTAINS(with("loss", "mse"), "run/settings.json: loss mse");
  EXPECT_CONTAINS(with("data", 3), "field 'data' must be a string, got 3");
  EXPECT_CONTAINS(with("no_tf32", 0), "field 'no_tf32' must be true or false");
  EXPECT_CONTAINS(error_of([] { read_settings_text("{\"data\": ", "s.json"); }), "s.json: not valid JSON");
  EXPECT_CONTAINS(error_of([] { read_settings_text("[1, 2]", "s.json"); }), "s.json: expected a JSON object");
}

TEST(RunFiles, MetricsLinesAreObjects) {
  const std::string ok = "{\"epoch\": 1}\n\n{\"epoch\": 2}\n{\"epoch\": 3}\n";
  EXPECT_EQ(parse_jsonl_text(ok, "m.jsonl", 2).size(), 2u);
  EXPECT_EQ(parse_jsonl_text(ok, "m.jsonl", 10).size(), 3u);
  EXPECT_EQ(error_of([] {
              parse_jsonl_text("{\"epoch\": 1}\n{\"epo", "m.jsonl", 5);
            }).find("m.jsonl, line 2: not valid JSON"),
            0u);
  EXPECT_EQ(error_of([] { parse_jsonl_text("[]\n", "m.jsonl", 5); }),
            "m.jsonl, line 1: expected a JSON object, got []");
  EXPECT_TRUE(read_jsonl_file("/nonexistent/metrics.jsonl", 5).empty());
}

// Issue 11: a corrupted dropout_seed ended in a bare "stoull" naming nothing.
TEST(RunFiles, RunStateFieldsNameTheCheckpoint) {
  RunState s;
  s.epoch = 3;
  s.dropout_seed = 18446744073709551615ull;
  TensorFile file;
  file.path = "run/last.safetensors";
  file.metadata["run_state"] = s.to_json().dump();
  EXPECT_EQ(read_run_state(file).dropout_seed, s.dropout_seed);
  nlohmann::json j = s.to_json();
  j["dropout_seed"] = "12x";
  file.metadata["run_state"] = j.dump();
  EXPECT_CONTAINS(error_of([&] { read_run_state(file); }), "run/last.safetensors");
  EXPECT_CONTAINS(error_of([&] { read_run_state(file); }), "dropout_seed");
  j = s.to_json();
  j["epoch"] = 1e300;
  file.metadata["run_state"] = j.dump();
  EXPECT_CONTAINS(error_of([&] { read_run_state(file); }), "run/last.safetensors (run_state): field 'epoch'");
}

}  // namespace
}  // namespace biascka::workflows
