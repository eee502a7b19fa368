#pragma once
// The paper's Figure 1 axis: the 68 rows torch-cka 0.21 records on torchvision's resnet18 with its default
// hooks (every module), in its order, and which of our layer taps (resnet18.h) holds each row's values.
// bench/peers/torch_cka_axis.py derives the list by running torch-cka itself and identifying every recorded
// tensor; its output, bench/peers/torch_cka_axis.tsv, is what tests/test_torch_cka_axis.cpp holds this
// table to. Why rows repeat (all from torch-cka's `features[name] = out` hook, see the script):
// - containers: `layerS.B` and `layerS` are their last child's output (the block's final ReLU),
//   `layerS.0.downsample` is `downsample.1`, the root module ("(root)") the model's output;
// - the block's one ReLU module keeps its first position (after bn1) but its last call's output (relu2);
// - the stored outputs are overwritten by torchvision's in-place ReLUs and `out += identity`: the row `bn1`
//   is the stem's relu, `layerS.B.bn1` is relu1, `layerS.B.bn2` is relu2.
// So the axis never shows a batch-norm output before its ReLU nor the residual sum (nor our dropout): 68
// rows of 43 distinct layers, 26 of our 69 hidden.
#include <string>
#include <vector>

namespace biascka {

struct TorchCkaRow {
  std::string torch_cka;  // torch-cka's name of the row (the root module's empty name as "(root)")
  std::string ours;       // our layer tap with the same values
};

// The rows for a model with these tap names (ResNet18::layer_names()); the root row is the model's last
// layer (fc, or log_softmax with the NLL head). Error when the model lacks a layer the axis needs (the CIFAR
// stem has no max-pool).
std::vector<TorchCkaRow> torch_cka_axis(const std::vector<std::string>& all_names);

// Row labels: "torch_cka" (torch-cka's names), "ours" (the layer each row really is; repeats), or "both"
// ("layer1.0.bn1 (= layer1.0.relu1)" where the two differ). Any other mode is an error.
std::vector<std::string> torch_cka_axis_labels(const std::vector<TorchCkaRow>& rows, const std::string& mode);

}  // namespace biascka
