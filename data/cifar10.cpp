#include "data/cifar10.h"

#include <cstring>
#include <filesystem>

#include "engine/error.h"
#include "engine/io/atomic_file.h"

namespace biascka::data {

namespace fs = std::filesystem;
constexpr int64_t kPlane = kCifarSide * kCifarSide;

std::string find_cifar10_dir(const std::string& dir) {
  for (const fs::path& p : {fs::path(dir), fs::path(dir) / "cifar-10-batches-bin"})
    if (fs::is_regular_file(p / "test_batch.bin")) return p.string();
  fail(dir, ": no CIFAR-10 binary batches here (expected test_batch.bin in it or in cifar-10-batches-bin/)");
}

CifarSet read_cifar10_batch(const std::string& path) {
  BIASCKA_CHECK(fs::is_regular_file(path), path, ": CIFAR-10 batch file not found");
  const std::string bytes = read_file(path);
  const int64_t total = static_cast<int64_t>(bytes.size());
  BIASCKA_CHECK(total > 0 && total % kCifarRecordBytes == 0, path, ": a CIFAR batch of the wrong size (",
                total, " bytes, not a multiple of ", kCifarRecordBytes, ")");
  const int64_t n = total / kCifarRecordBytes;
  CifarSet set;
  set.images = Tensor::empty({n, kCifarSide, kCifarSide, 3}, DType::U8);
  set.labels.resize(n);
  uint8_t* out = set.images.data<uint8_t>();
  const auto* in = reinterpret_cast<const uint8_t*>(bytes.data());
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* rec = in + i * kCifarRecordBytes;
    BIASCKA_CHECK(rec[0] < kCifarClasses, path, ": record ", i, " has label ", int(rec[0]),
                  " (CIFAR-10 labels are 0..9)");
    set.labels[i] = rec[0];
    // planar RGB -> interleaved HWC
    uint8_t* img = out + i * 3 * kPlane;
    for (int64_t p = 0; p < kPlane; ++p)
      for (int c = 0; c < 3; ++c) img[p * 3 + c] = rec[1 + c * kPlane + p];
  }
  return set;
}

CifarSet read_cifar10(const std::string& dir, bool train) {
  const fs::path root = find_cifar10_dir(dir);
  if (!train) return read_cifar10_batch((root / "test_batch.bin").string());
  std::vector<CifarSet> parts;
  int64_t n = 0;
  for (int b = 1; b <= 5; ++b) {
    parts.push_back(read_cifar10_batch((root / ("data_batch_" + std::to_string(b) + ".bin")).string()));
    n += parts.back().size();
  }
  CifarSet all;
  all.images = Tensor::empty({n, kCifarSide, kCifarSide, 3}, DType::U8);
  uint8_t* dst = all.images.data<uint8_t>();
  for (const CifarSet& p : parts) {
    std::memcpy(dst, p.images.data<uint8_t>(), p.images.nbytes());
    dst += p.images.nbytes();
    all.labels.insert(all.labels.end(), p.labels.begin(), p.labels.end());
  }
  return all;
}

std::string encode_cifar10_batch(const uint8_t* hwc_images, const std::vector<int64_t>& labels) {
  std::string bytes(labels.size() * kCifarRecordBytes, '\0');
  for (size_t i = 0; i < labels.size(); ++i) {
    BIASCKA_CHECK(labels[i] >= 0 && labels[i] < kCifarClasses, "encode_cifar10_batch: label ", labels[i],
                  " is not 0..9");
    auto* rec = reinterpret_cast<uint8_t*>(bytes.data()) + i * kCifarRecordBytes;
    rec[0] = static_cast<uint8_t>(labels[i]);
    const uint8_t* img = hwc_images + i * 3 * kPlane;
    for (int64_t p = 0; p < kPlane; ++p)
      for (int c = 0; c < 3; ++c) rec[1 + c * kPlane + p] = img[p * 3 + c];
  }
  return bytes;
}

}  // namespace biascka::data
