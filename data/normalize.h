#pragma once
// Per-dataset input normalisation (DESIGN.md, Data): cmnist pixels in [0, 1]; cifar10c and bffhq
// ToTensor then the CIFAR-10 mean/std; bffhq resized to 224x224.
#include <string>
#include <vector>

namespace biascka::data {

struct Normalization {
  std::string name;
  float mean[3] = {0, 0, 0};
  float std[3] = {1, 1, 1};
  int default_image_size = 0;  // 0: native size
};

Normalization normalization_preset(
    const std::string& name);  // cmnist | cifar10c | bffhq | unit; throws otherwise
std::vector<std::string> normalization_names();
// The preset named by the last path component of dir that is a preset name (cmnist, cifar10c, bffhq), or
// `override_name` when given; unknown folders get "unit" ([0, 1], like cmnist).
Normalization normalization_for(const std::string& dir, const std::string& override_name = "");

}  // namespace biascka::data
