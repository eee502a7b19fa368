// The Colored MNIST generator on a small synthetic IDX set: split sizes, the conflicting fraction and its
// even spread, colours, determinism, and the temporary-folder protocol.
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>

#include "data/cmnist.h"
#include "data/disent.h"
#include "engine/io/atomic_file.h"
#include "tests/test_data_fixtures.h"

namespace biascka {
namespace {
namespace fs = std::filesystem;
using test::expect_error;

constexpr int kTrain = 600, kTest = 120;

// One generated dataset shared by the tests of this file (generated once: each test only reads it).
const std::string& dataset() {
  static const std::string root = [] {
    const std::string base = test::temp_dir("data_cmnist");
    test::write_idx_set(base + "/idx", kTrain, kTest, 12, 12, true);
    data::CmnistOptions o;
    o.idx_dir = base + "/idx";
    o.out_root = base + "/out";
    o.pcts = {5, 20};
    o.seed = 3;
    data::make_cmnist(o);
    return base + "/out/cmnist";
  }();
  return root;
}

// The colour of the brightest (gray 255) stroke pixels of an image.
std::array<int, 3> stroke_colour(const data::Image& img) {
  int best = -1;
  std::array<int, 3> col{};
  for (int i = 0; i < img.width * img.height; ++i) {
    const uint8_t* p = &img.pixels[i * 3];
    if (p[0] + p[1] + p[2] > best) {
      best = p[0] + p[1] + p[2];
      col = {p[0], p[1], p[2]};
    }
  }
  return col;
}

TEST(DataCmnist, SpreadBiasLabels) {
  const auto v = data::spread_bias_labels(100, 3, 0.82);
  ASSERT_EQ(v.size(), 100u);
  std::map<int64_t, int> count;
  for (int64_t b : v) count[b]++;
  EXPECT_EQ(count[3], 82);
  for (int c = 0; c < 10; ++c)
    if (c != 3) {
      EXPECT_EQ(count[c], 2) << c;
    }
  const auto u = data::spread_bias_labels(12, 0, 0.1);  // valid/test: uniform over the 10
  std::map<int64_t, int> cu;
  for (int64_t b : u) cu[b]++;
  EXPECT_EQ(cu.size(), 10u);
  for (const auto& [c, n] : cu) EXPECT_LE(n, 2);
}

TEST(DataCmnist, SplitSizesAndConflictingFractionPerClass) {
  const std::string root = dataset();
  const int64_t n_valid = std::llround(kTrain / 12.0);
  for (double pct : {5.0, 20.0}) {
    const std::string pdir = root + "/" + data::pct_folder_name(pct);
    const data::Split train = data::train_split(pdir), valid = data::valid_split(pdir);
    EXPECT_EQ(static_cast<int64_t>(train.samples.size()), kTrain - n_valid);
    EXPECT_EQ(static_cast<int64_t>(valid.samples.size()), n_valid);
    std::map<int64_t, int64_t> per_class, conflicting;
    std::map<int64_t, std::set<int64_t>> colours;
    for (const auto& s : train.samples) {
      per_class[s.target]++;
      if (!s.aligned()) {
        conflicting[s.target]++;
        colours[s.target].insert(s.bias);
        EXPECT_NE(s.path.find("/conflict/" + std::to_string(s.target) + "/"), std::string::npos) << s.path;
      } else {
        EXPECT_NE(s.path.find("/align/" + std::to_string(s.target) + "/"), std::string::npos) << s.path;
      }
    }
    ASSERT_EQ(per_class.size(), 10u);
    for (const auto& [c, n] : per_class) {
      EXPECT_EQ(conflicting[c], n - std::llround(n * (1 - pct / 100))) << "class " << c << " pct " << pct;
      if (conflicting[c] >= 9) {
        EXPECT_EQ(colours[c].size(), 9u);  // spread over all 9 other colours
      }
    }
    // Train and valid are disjoint (ids are IDX indices).
    auto id_of = [](const data::Sample& s) {
      const std::string stem = fs::path(s.path).stem().string();
      return stem.substr(0, stem.find('_'));
    };
    std::set<std::string> ids;
    for (const auto& s : train.samples) ids.insert(id_of(s));
    for (const auto& s : valid.samples) EXPECT_EQ(ids.count(id_of(s)), 0u) << s.path;
    EXPECT_TRUE(fs::exists(pdir + "/generator.json"));
  }
  const data::Split test = data::scan_split(root + "/test");
  EXPECT_EQ(test.samples.size(), static_cast<size_t>(kTest));
  std::map<int64_t, int64_t> test_colours;
  for (const auto& s : test.samples) test_colours[s.bias]++;
  EXPECT_EQ(test_colours.size(), 10u);
  for (const auto& [c, n] : test_colours) EXPECT_EQ(n, kTest / 10) << c;  // uniform over the 10 colours
  for (const auto& e : fs::directory_iterator(root))
    EXPECT_NE(e.path().filename().string()[0], '.') << e.path();
}

TEST(DataCmnist, ImagesCarryTheirBiasColour) {
  const data::Palette pal = data::cmnist_palette("disent");
  const data::Split s = data::train_split(dataset() + "/20pct");
  int checked_conflicting = 0;
  for (size_t i = 0; i < s.samples.size(); i += 3) {
    const auto& smp = s.samples[i];
    const data::Image img = data::decode_image(smp.path);
    ASSERT_EQ(img.width, 12);
    const auto col = stroke_colour(img);
    for (int c = 0; c < 3; ++c)
      EXPECT_NEAR(col[c], pal[smp.bias][c], 6) << smp.path;  // noise std 0.005 * 255
    checked_conflicting += !smp.aligned();
    // The background stays black.
    EXPECT_EQ(img.pixels[0] + img.pixels[1] + img.pixels[2], 0) << smp.path;
  }
  EXPECT_GT(checked_conflicting, 0);
}

TEST(DataCmnist, DeterministicFromTheSeed) {
  const std::string base = test::temp_dir("data_cmnist_seed");
  test::write_idx_set(base + "/idx", 200, 40);
  auto run = [&](const std::string& out, uint64_t seed) {
    data::CmnistOptions o;
    o.idx_dir = base + "/idx";
    o.out_root = base + "/" + out;
    o.pcts = {10};
    o.seed = seed;
    data::make_cmnist(o);
    std::map<std::string, std::string> files;
    for (const auto& e : fs::recursive_directory_iterator(o.out_root))
      if (e.is_regular_file() && e.path().extension() == ".png")
        files[fs::relative(e.path(), o.out_root).string()] = read_file(e.path().string());
    return files;
  };
  const auto a = run("a", 5), b = run("b", 5), c = run("c", 6);
  EXPECT_EQ(a.size(), 240u);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(DataCmnist, KeepsExistingFoldersAndHonoursLimits) {
  const std::string base = test::temp_dir("data_cmnist_keep");
  test::write_idx_set(base + "/idx", 300, 60);
  data::CmnistOptions o;
  o.idx_dir = base + "/idx";
  o.out_root = base + "/out";
  o.pcts = {5};
  o.max_train = 120;
  // Leftovers of an interrupted run (a dead process id) are cleaned up and never look like a dataset.
  fs::create_directories(base + "/out/cmnist/.tmp-5pct-999999999/align/0");
  data::make_cmnist(o);
  EXPECT_FALSE(fs::exists(base + "/out/cmnist/.tmp-5pct-999999999"));
  const std::string pdir = base + "/out/cmnist/5pct";
  EXPECT_EQ(data::train_split(pdir).samples.size() + data::valid_split(pdir).samples.size(), 120u);
  EXPECT_EQ(data::scan_split(base + "/out/cmnist/test").samples.size(), 20u);  // max_train / 6
  const auto stamp = fs::last_write_time(pdir + "/generator.json");
  o.max_train = 0;
  data::make_cmnist(o);  // exists: kept
  EXPECT_EQ(fs::last_write_time(pdir + "/generator.json"), stamp);
  o.overwrite = true;
  data::make_cmnist(o);
  EXPECT_EQ(data::train_split(pdir).samples.size() + data::valid_split(pdir).samples.size(), 300u);
}

TEST(DataCmnist, PalettesAndBadOptions) {
  EXPECT_EQ(data::cmnist_palette("disent")[1], (std::array<uint8_t, 3>{255, 128, 0}));
  expect_error([] { data::cmnist_palette("lff"); }, {"colors.th", "--palette"});
  expect_error([] { data::cmnist_palette("rainbow"); }, {"unknown palette 'rainbow'"});
  const std::string dir = test::temp_dir("data_cmnist_palette");
  {
    std::ofstream f(dir + "/p.txt");
    f << "# ten colours\n";
    for (int i = 0; i < 10; ++i) f << i * 20 << " 0 " << 255 - i * 20 << "\n";
  }
  EXPECT_EQ(data::cmnist_palette(dir + "/p.txt")[3], (std::array<uint8_t, 3>{60, 0, 195}));
  data::CmnistOptions o;
  o.idx_dir = dir;
  o.out_root = dir;
  o.pcts = {100};
  expect_error([&] { data::make_cmnist(o); }, {"--pct 100"});
  o.pcts = {5};
  expect_error([&] { data::make_cmnist(o); }, {dir, "train"});  // no IDX files there
  EXPECT_EQ(data::pct_folder_name(0.5), "0.5pct");
  EXPECT_EQ(data::pct_folder_name(2), "2pct");
}

}  // namespace
}  // namespace biascka
