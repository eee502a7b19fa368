#pragma once
// The ten image corruptions of Corrupted CIFAR-10 (LfF's "Type0" set, from Hendrycks & Dietterich's
// CIFAR-10-C), each at severity 1..5 with the published parameters of make_cifar_c.py, implemented
// natively. Deviations from the Python original: ImageMagick's motion blur, OpenCV and scipy filters and
// PIL's resize are re-implemented here (same definitions, not bit-identical); JPEG is encoded by
// stb_image_write instead of libjpeg (and decoded by libjpeg, as PIL does); Frost uses a procedural ice texture because the six frost
// photographs Hendrycks crops from are not available (see corruption_frost.cpp).
#include <cstdint>
#include <string>
#include <vector>

namespace biascka::data {

// In LfF's order: class k of Corrupted CIFAR-10 gets corruption k.
enum class Corruption { Snow, Frost, Fog, Brightness, Contrast, Spatter, Elastic, Jpeg, Pixelate, Saturate };
constexpr int kNumCorruptions = 10;

const char* corruption_name(Corruption c);             // "snow", "frost", ..., "jpeg", ...
Corruption parse_corruption(const std::string& name);  // case-insensitive; throws listing the names
Corruption corruption_from_index(int k);               // throws unless 0 <= k < 10

// Corrupts an RGB8 image (w x h x 3, row-major HWC) at severity 1..5. Randomness (snow flakes, fog,
// frost crop, spatter, elastic field) comes only from `seed`, so equal arguments give equal bytes.
std::vector<uint8_t> corrupt(const uint8_t* rgb, int w, int h, Corruption c, int severity, uint64_t seed);

}  // namespace biascka::data
