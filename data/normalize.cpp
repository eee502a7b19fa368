#include "data/normalize.h"

#include <filesystem>

#include "engine/error.h"

namespace biascka::data {

std::vector<std::string> normalization_names() { return {"cmnist", "cifar10c", "bffhq", "unit"}; }

Normalization normalization_preset(const std::string& name) {
  Normalization n;
  n.name = name;
  if (name == "cmnist" || name == "unit") return n;
  if (name == "cifar10c" || name == "bffhq") {
    const float mean[3] = {0.4914f, 0.4822f, 0.4465f}, std[3] = {0.2023f, 0.1994f, 0.2010f};
    for (int c = 0; c < 3; ++c) {
      n.mean[c] = mean[c];
      n.std[c] = std[c];
    }
    if (name == "bffhq") n.default_image_size = 224;
    return n;
  }
  fail("unknown normalisation '", name, "' (choose cmnist, cifar10c, bffhq or unit)");
}

Normalization normalization_for(const std::string& dir, const std::string& override_name) {
  if (!override_name.empty()) return normalization_preset(override_name);
  std::string found = "unit";
  for (const auto& part : std::filesystem::path(dir).lexically_normal())
    for (const char* name : {"cmnist", "cifar10c", "bffhq"})
      if (part == name) found = name;
  return normalization_preset(found);
}

}  // namespace biascka::data
