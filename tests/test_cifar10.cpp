// CIFAR-10 binary batch reader on synthetic batch files.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "data/cifar10.h"
#include "engine/error.h"
#include "tests/support/test_support.h"

namespace biascka::data {
namespace {

constexpr int64_t kImage = 32 * 32 * 3;

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

// n images whose pixels encode (image, position, channel) so any plane/order mix-up shows.
std::vector<uint8_t> pattern(int n) {
  std::vector<uint8_t> v(n * kImage);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<uint8_t>((i * 7 + i / kImage * 13) % 251);
  return v;
}

TEST(Cifar10, BatchRoundTripAndLayout) {
  const std::string dir = test::temp_dir("cifar10_roundtrip");
  const auto images = pattern(3);
  const std::vector<int64_t> labels = {0, 9, 4};
  const std::string bytes = encode_cifar10_batch(images.data(), labels);
  ASSERT_EQ(bytes.size(), 3u * kCifarRecordBytes);
  // record 1: label byte, then the red plane: pixel (0,0) red = HWC element 0 of image 1
  EXPECT_EQ(uint8_t(bytes[kCifarRecordBytes]), 9);
  EXPECT_EQ(uint8_t(bytes[kCifarRecordBytes + 1]), images[kImage + 0]);
  EXPECT_EQ(uint8_t(bytes[kCifarRecordBytes + 1 + 1024]), images[kImage + 1]);  // green plane starts at 1024
  EXPECT_EQ(uint8_t(bytes[kCifarRecordBytes + 1 + 1]), images[kImage + 3]);     // red of pixel (0,1)
  write_bytes(dir + "/test_batch.bin", bytes);

  const CifarSet set = read_cifar10_batch(dir + "/test_batch.bin");
  ASSERT_EQ(set.size(), 3);
  EXPECT_EQ(set.images.shape(), (Shape{3, 32, 32, 3}));
  EXPECT_EQ(set.images.dtype(), DType::U8);
  EXPECT_EQ(set.labels, labels);
  EXPECT_TRUE(std::equal(images.begin(), images.end(), set.images.data<uint8_t>()));
  EXPECT_EQ(set.image(2)[5], images[2 * kImage + 5]);
}

TEST(Cifar10, ReadsTrainAndTestFromFolderOrArchiveSubfolder) {
  const std::string root = test::temp_dir("cifar10_folder");
  const std::string dir = root + "/cifar-10-batches-bin";
  std::filesystem::create_directories(dir);
  const auto images = pattern(10);
  for (int b = 1; b <= 5; ++b) {
    // batch b holds images 2(b-1), 2(b-1)+1 with labels b-1, b
    const std::vector<int64_t> labels = {b - 1, b};
    write_bytes(dir + "/data_batch_" + std::to_string(b) + ".bin",
                encode_cifar10_batch(images.data() + 2 * (b - 1) * kImage, labels));
  }
  write_bytes(dir + "/test_batch.bin", encode_cifar10_batch(images.data(), {7}));

  EXPECT_EQ(find_cifar10_dir(root), dir);
  EXPECT_EQ(find_cifar10_dir(dir), dir);
  const CifarSet train = read_cifar10(root, true);
  ASSERT_EQ(train.size(), 10);
  EXPECT_EQ(train.labels, (std::vector<int64_t>{0, 1, 1, 2, 2, 3, 3, 4, 4, 5}));
  EXPECT_TRUE(std::equal(images.begin(), images.end(), train.images.data<uint8_t>()));
  const CifarSet test = read_cifar10(root, false);
  ASSERT_EQ(test.size(), 1);
  EXPECT_EQ(test.labels[0], 7);
}

using test::error_of;

TEST(Cifar10, ErrorsNameTheFile) {
  const std::string dir = test::temp_dir("cifar10_errors");
  const auto images = pattern(2);
  std::string bytes = encode_cifar10_batch(images.data(), {1, 2});

  write_bytes(dir + "/short.bin", bytes.substr(0, bytes.size() - 1));
  std::string msg = error_of([&] { read_cifar10_batch(dir + "/short.bin"); });
  EXPECT_NE(msg.find("short.bin"), std::string::npos) << msg;
  EXPECT_NE(msg.find("a CIFAR batch of the wrong size"), std::string::npos) << msg;

  bytes[kCifarRecordBytes] = 10;  // second record's label
  write_bytes(dir + "/label.bin", bytes);
  msg = error_of([&] { read_cifar10_batch(dir + "/label.bin"); });
  EXPECT_NE(msg.find("label.bin"), std::string::npos) << msg;
  EXPECT_NE(msg.find("label 10"), std::string::npos) << msg;

  msg = error_of([&] { read_cifar10_batch(dir + "/missing.bin"); });
  EXPECT_NE(msg.find("missing.bin"), std::string::npos) << msg;

  // a folder with test_batch.bin but no training batches
  write_bytes(dir + "/test_batch.bin", encode_cifar10_batch(images.data(), {1, 2}));
  msg = error_of([&] { read_cifar10(dir, true); });
  EXPECT_NE(msg.find("data_batch_1.bin"), std::string::npos) << msg;

  msg = error_of([&] { find_cifar10_dir(dir + "/nowhere"); });
  EXPECT_NE(msg.find("nowhere"), std::string::npos) << msg;
  EXPECT_THROW(encode_cifar10_batch(images.data(), {3, 11}), Error);
}

}  // namespace
}  // namespace biascka::data
