#pragma once
// CIFAR-10 binary batches (https://www.cs.toronto.edu/~kriz/cifar.html, "binary version"): each record is
// one label byte followed by 3072 bytes, the R, G and B planes of a 32x32 image. Images come back
// channels-last (HWC) like every other decoded image in the project.
#include <cstdint>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace biascka::data {

constexpr int kCifarSide = 32;
constexpr int kCifarClasses = 10;
constexpr int64_t kCifarRecordBytes = 1 + 3 * kCifarSide * kCifarSide;  // 3073

struct CifarSet {
  Tensor images;                // U8 [N, 32, 32, 3]
  std::vector<int64_t> labels;  // N values in [0, 9]
  int64_t size() const { return static_cast<int64_t>(labels.size()); }
  const uint8_t* image(int64_t i) const { return images.data<uint8_t>() + i * 3 * kCifarSide * kCifarSide; }
};

// The folder holding the batch files: `dir` itself, or its `cifar-10-batches-bin/` subfolder (the
// archive's layout). Throws naming `dir` when neither holds `test_batch.bin`.
std::string find_cifar10_dir(const std::string& dir);

// One batch file. Throws naming the file when it is missing, not a whole number of records, or a label
// is above 9.
CifarSet read_cifar10_batch(const std::string& path);

// The 50000 training images (data_batch_1..5, in that order) or the 10000 test images (test_batch).
CifarSet read_cifar10(const std::string& dir, bool train);

// Bytes of a batch file for the given HWC images and labels (the inverse of read_cifar10_batch); tests
// and tools use it to make synthetic CIFAR folders.
std::string encode_cifar10_batch(const uint8_t* hwc_images, const std::vector<int64_t>& labels);

}  // namespace biascka::data
