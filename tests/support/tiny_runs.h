#pragma once
// What the training tests share: the options of a tiny run on tiny_cmnist, a run's per-epoch numbers
// without their timing, and bit-for-bit comparison of two checkpoints.
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/io/safetensors.h"
#include "workflows/train.h"

namespace biascka::test {

// Seed 5, 3 epochs of batch 32 (5 batches each on tiny_cmnist's training split), one loader thread,
// quiet.
inline workflows::TrainOptions tiny_train_options(const std::string& data, const std::string& out,
                                                  const std::string& loss = "sce") {
  workflows::TrainOptions o;
  o.data = data;
  o.out = out;
  o.loss = loss;
  o.seed = 5;
  o.epochs = 3;
  o.batch = 32;
  o.workers = 1;
  o.progress = workflows::ProgressMode::Quiet;
  return o;
}

// RUN/metrics.jsonl without the timing fields (seconds, images_per_s).
inline std::vector<nlohmann::json> epoch_metrics(const std::string& run) {
  std::vector<nlohmann::json> out;
  std::ifstream in(run + "/metrics.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    j.erase("seconds");
    j.erase("images_per_s");
    out.push_back(j);
  }
  return out;
}

// Whether two safetensors files hold the same tensors, byte for byte ("" when they do, else the first
// difference).
inline std::string tensor_difference(const std::string& a, const std::string& b) {
  const TensorFile x = read_safetensors(a), y = read_safetensors(b);
  if (x.tensors.size() != y.tensors.size()) return "different numbers of tensors";
  for (const auto& [name, t] : x.tensors) {
    if (!y.contains(name)) return "no " + name + " in " + b;
    const Tensor& u = y.at(name);
    if (t.nbytes() != u.nbytes() || std::memcmp(t.raw_data(), u.raw_data(), t.nbytes()) != 0) return name;
  }
  return "";
}

}  // namespace biascka::test
