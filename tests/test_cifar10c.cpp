// The Corrupted CIFAR-10 generator on a tiny synthetic CIFAR folder: split sizes, conflicting
// fractions, labels in the file names, determinism, and the all-or-nothing output folder.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "data/cifar10.h"
#include "data/cifar10c.h"
#include "engine/error.h"
#include "engine/io/atomic_file.h"
#include "tests/support/test_support.h"

namespace biascka::data {
namespace {

namespace fs = std::filesystem;
constexpr int64_t kImage = 32 * 32 * 3;

// 5 training batches of `per_batch` images and a test batch of `n_test`; labels cycle 0..9.
std::string make_cifar(const std::string& name, int per_batch, int n_test) {
  const std::string dir = test::temp_dir(name) + "/cifar-10-batches-bin";
  fs::create_directories(dir);
  uint32_t s = 12345;
  auto batch = [&](int n, int offset) {
    std::vector<uint8_t> px(n * kImage);
    for (int i = 0; i < n; ++i)
      for (int64_t p = 0; p < kImage; ++p) {
        s = s * 1664525u + 1013904223u;
        px[i * kImage + p] = static_cast<uint8_t>((p / 3 % 32) * 4 + (s >> 28) + (i + offset) * 5);
      }
    std::vector<int64_t> labels(n);
    for (int i = 0; i < n; ++i) labels[i] = (i + offset) % 10;
    return encode_cifar10_batch(px.data(), labels);
  };
  for (int b = 1; b <= 5; ++b)
    std::ofstream(dir + "/data_batch_" + std::to_string(b) + ".bin", std::ios::binary)
        << batch(per_batch, b * per_batch);
  std::ofstream(dir + "/test_batch.bin", std::ios::binary) << batch(n_test, 0);
  return fs::path(dir).parent_path().string();
}

struct Entry {
  int64_t id;
  int target, bias, folder_class;
  std::string path;
};

// Every PNG under `dir`, parsed from "{class}/{id}_{target}_{bias}.png".
std::vector<Entry> list(const fs::path& dir) {
  std::vector<Entry> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    EXPECT_EQ(e.path().extension(), ".png") << e.path();
    Entry x;
    char sep1, sep2;
    std::istringstream in(e.path().stem().string());
    in >> x.id >> sep1 >> x.target >> sep2 >> x.bias;
    EXPECT_TRUE(in && sep1 == '_' && sep2 == '_') << e.path();
    x.folder_class = std::stoi(e.path().parent_path().filename().string());
    x.path = e.path().string();
    out.push_back(x);
  }
  return out;
}

TEST(Cifar10c, PctFolderNames) {
  EXPECT_EQ(pct_folder(0.5), "0.5pct");
  EXPECT_EQ(pct_folder(1), "1pct");
  EXPECT_EQ(pct_folder(5), "5pct");
}

TEST(Cifar10c, WritesTheDisEntLayout) {
  const std::string cifar = make_cifar("cifar10c_src", 48, 40);  // 240 train images: 24 per class
  Cifar10cOptions o;
  o.cifar_dir = cifar;
  o.out_root = test::temp_dir("cifar10c_out");
  o.pcts = {10, 50};
  o.valid_fraction = 1.0 / 6;  // 4 of each class's 24
  o.seed = 3;
  make_cifar10c(o);
  const fs::path root = fs::path(o.out_root) / "cifar10c";
  ASSERT_TRUE(fs::is_directory(root));
  EXPECT_FALSE(fs::exists(fs::path(o.out_root) / "cifar10c.partial"));
  EXPECT_TRUE(fs::is_regular_file(root / "manifest.json"));

  std::set<int64_t> valid_ids;
  for (double pct : o.pcts) {
    const fs::path base = root / pct_folder(pct);
    const auto align = list(base / "align"), conflict = list(base / "conflict"), valid = list(base / "valid");
    EXPECT_EQ(align.size() + conflict.size(), 200u) << pct;
    EXPECT_EQ(valid.size(), 40u) << pct;
    std::map<int, int> per_class_conflict, per_class_total;
    std::set<int64_t> ids;
    for (const Entry& e : align) {
      EXPECT_EQ(e.target, e.folder_class);
      EXPECT_EQ(e.bias, e.target);
      ++per_class_total[e.target];
      EXPECT_TRUE(ids.insert(e.id).second) << "duplicate id " << e.id;
    }
    std::map<int, std::set<int>> conflict_biases;
    for (const Entry& e : conflict) {
      EXPECT_EQ(e.target, e.folder_class);
      EXPECT_NE(e.bias, e.target);
      EXPECT_TRUE(e.bias >= 0 && e.bias < 10);
      ++per_class_total[e.target];
      ++per_class_conflict[e.target];
      conflict_biases[e.target].insert(e.bias);
      EXPECT_TRUE(ids.insert(e.id).second) << "duplicate id " << e.id;
    }
    for (int k = 0; k < 10; ++k) {
      EXPECT_EQ(per_class_total[k], 20) << k;
      // round(20 * pct%) conflicting, each with a different one of the other 9 corruptions
      EXPECT_EQ(per_class_conflict[k], pct == 10 ? 2 : 10) << k;
      EXPECT_EQ(conflict_biases[k].size(), pct == 10 ? 2u : 9u) << k;
    }
    // valid: 4 per class, corruptions spread over all 10, no overlap with train, the same images every pct
    std::map<int, int> valid_bias;
    std::set<int64_t> these_valid;
    for (const Entry& e : valid) {
      EXPECT_EQ(e.target, e.folder_class);
      EXPECT_EQ(ids.count(e.id), 0u) << "valid image " << e.id << " is also in train";
      ++valid_bias[e.bias];
      these_valid.insert(e.id);
    }
    EXPECT_EQ(valid_bias.size(), 10u);
    for (auto [b, n] : valid_bias) EXPECT_EQ(n, 4) << b;
    if (valid_ids.empty()) valid_ids = these_valid;
    EXPECT_EQ(these_valid, valid_ids);
  }

  // An image aligned in both datasets is the same file.
  const auto a10 = list(root / "10pct" / "align");
  for (const Entry& e : a10) {
    const fs::path other = root / "50pct" / "align" / std::to_string(e.target) / fs::path(e.path).filename();
    if (fs::exists(other)) {
      EXPECT_EQ(read_file(e.path), read_file(other.string()));
      break;
    }
  }

  // test: every test image once, corruptions spread over all 10
  const auto test = list(root / "test");
  EXPECT_EQ(test.size(), 40u);
  std::map<int, int> test_bias;
  std::set<int64_t> test_ids;
  for (const Entry& e : test) {
    EXPECT_EQ(e.target, e.folder_class);
    EXPECT_EQ(e.target, e.id % 10);  // the synthetic labels cycle
    ++test_bias[e.bias];
    test_ids.insert(e.id);
  }
  EXPECT_EQ(test_ids.size(), 40u);
  for (auto [b, n] : test_bias) EXPECT_EQ(n, 4) << b;
  EXPECT_EQ(test_bias.size(), 10u);

  // refusing to overwrite a finished dataset
  EXPECT_THROW(make_cifar10c(o), Error);
}

std::map<std::string, std::string> snapshot(const fs::path& root) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file()) files[fs::relative(e.path(), root).string()] = read_file(e.path().string());
  return files;
}

TEST(Cifar10c, DeterministicFromTheSeedAndRespectsMaxTrain) {
  const std::string cifar = make_cifar("cifar10c_det_src", 20, 10);
  Cifar10cOptions o;
  o.cifar_dir = cifar;
  o.pcts = {5};
  o.max_train = 60;
  o.seed = 9;
  o.out_root = test::temp_dir("cifar10c_det_a");
  // a leftover of an interrupted run is replaced
  fs::create_directories(fs::path(o.out_root) / "cifar10c.partial");
  std::ofstream(fs::path(o.out_root) / "cifar10c.partial" / "junk.txt") << "old";
  make_cifar10c(o);
  const auto a = snapshot(fs::path(o.out_root) / "cifar10c");
  EXPECT_EQ(a.count("junk.txt"), 0u);
  EXPECT_EQ(a.count("manifest.json"), 1u);
  o.out_root = test::temp_dir("cifar10c_det_b");
  make_cifar10c(o);
  EXPECT_EQ(a, snapshot(fs::path(o.out_root) / "cifar10c"));

  size_t train_files = 0;
  for (const auto& [name, bytes] : a)
    train_files += name.rfind("5pct/a", 0) == 0 || name.rfind("5pct/c", 0) == 0;
  size_t valid_files = 0;
  for (const auto& [name, bytes] : a) valid_files += name.rfind("5pct/valid", 0) == 0;
  EXPECT_EQ(train_files + valid_files, 60u);

  o.seed = 10;
  o.out_root = test::temp_dir("cifar10c_det_c");
  make_cifar10c(o);
  EXPECT_NE(a, snapshot(fs::path(o.out_root) / "cifar10c"));
}

TEST(Cifar10c, BadOptionsAndMissingData) {
  Cifar10cOptions o;
  o.out_root = test::temp_dir("cifar10c_bad");
  o.cifar_dir = o.out_root + "/none";
  EXPECT_THROW(make_cifar10c(o), Error);  // no CIFAR batches
  o.cifar_dir = make_cifar("cifar10c_bad_src", 10, 10);
  o.severity = 6;
  EXPECT_THROW(make_cifar10c(o), Error);
  o.severity = 5;
  o.pcts = {100};
  EXPECT_THROW(make_cifar10c(o), Error);
  o.pcts = {1};
  o.valid_fraction = 1;
  EXPECT_THROW(make_cifar10c(o), Error);
  EXPECT_FALSE(fs::exists(fs::path(o.out_root) / "cifar10c"));
}

}  // namespace
}  // namespace biascka::data
