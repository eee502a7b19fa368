#include "models/torch_cka_axis.h"

#include <algorithm>

#include "engine/error.h"

namespace biascka {

std::vector<TorchCkaRow> torch_cka_axis(const std::vector<std::string>& all) {
  BIASCKA_CHECK(!all.empty(), "--layers torch_cka: the model has no layers");
  std::vector<TorchCkaRow> rows = {
      {"conv1", "conv1"}, {"bn1", "relu"}, {"relu", "relu"}, {"maxpool", "maxpool"}};
  for (int s = 1; s <= 4; ++s) {
    const std::string stage = "layer" + std::to_string(s);
    for (int b = 0; b < 2; ++b) {
      const std::string p = stage + "." + std::to_string(b);
      const std::string out = p + ".relu2";  // the block's output
      rows.push_back({p + ".conv1", p + ".conv1"});
      rows.push_back({p + ".bn1", p + ".relu1"});
      rows.push_back({p + ".relu", out});
      rows.push_back({p + ".conv2", p + ".conv2"});
      rows.push_back({p + ".bn2", out});
      if (s > 1 && b == 0) {
        rows.push_back({p + ".downsample.0", p + ".downsample.0"});
        rows.push_back({p + ".downsample.1", p + ".downsample.1"});
        rows.push_back({p + ".downsample", p + ".downsample.1"});
      }
      rows.push_back({p, out});
    }
    rows.push_back({stage, stage + ".1.relu2"});
  }
  rows.push_back({"avgpool", "avgpool"});
  rows.push_back({"fc", "fc"});
  rows.push_back({"(root)", all.back()});
  for (const TorchCkaRow& r : rows)
    BIASCKA_CHECK(std::find(all.begin(), all.end(), r.ours) != all.end(),
                  "--layers torch_cka: the model has no ", r.ours, " (torch-cka's row ", r.torch_cka,
                  "); the axis is torchvision's resnet18 with its stem");
  return rows;
}

std::vector<std::string> torch_cka_axis_labels(const std::vector<TorchCkaRow>& rows,
                                               const std::string& mode) {
  BIASCKA_CHECK(mode == "torch_cka" || mode == "ours" || mode == "both", "--axis-labels '", mode,
                "': expected torch_cka, ours or both");
  std::vector<std::string> out;
  for (const TorchCkaRow& r : rows) {
    if (mode == "torch_cka")
      out.push_back(r.torch_cka);
    else if (mode == "ours" || r.ours == r.torch_cka)
      out.push_back(r.ours);
    else
      out.push_back(r.torch_cka + " (= " + r.ours + ")");
  }
  return out;
}

}  // namespace biascka
