// The DisEnt layout: file-name labels, recursive scans, train/valid/test folders, normalisation presets.
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "data/disent.h"
#include "data/normalize.h"
#include "data/subset.h"
#include "tests/test_data_fixtures.h"

namespace biascka {
namespace {
namespace fs = std::filesystem;
using test::expect_error;

void touch_png(const std::string& path) {
  fs::create_directories(fs::path(path).parent_path());
  data::write_png(path, test::random_image(4, 4, std::hash<std::string>{}(path)));
}

TEST(DataDisent, ParsesNamesWithUnderscoresInTheId) {
  data::Sample s = data::parse_sample_name("/x/y/12_3_4.png");
  EXPECT_EQ(s.target, 3);
  EXPECT_EQ(s.bias, 4);
  EXPECT_FALSE(s.aligned());
  s = data::parse_sample_name("a/img_00_foo_7_7.jpg");
  EXPECT_EQ(s.target, 7);
  EXPECT_EQ(s.bias, 7);
  EXPECT_TRUE(s.aligned());
  EXPECT_EQ(s.path, "a/img_00_foo_7_7.jpg");
  s = data::parse_sample_name("0_1_0.JPEG");
  EXPECT_EQ(s.target, 1);
  EXPECT_EQ(s.bias, 0);
}

TEST(DataDisent, NamesWithoutLabelsFail) {
  for (const char* name : {"dir/foo.png", "dir/3_4.png", "dir/a_b_c.png", "dir/a_1_x.png", "dir/a_-1_2.png",
                           "dir/_1_2.png", "dir/a_1_.png"})
    expect_error([&] { data::parse_sample_name(name); }, {name, "file name without labels"});
}

// The number of classes is inferred from the labels and sizes the model's last layer: a file name cannot
// ask for a trillion classes (it used to: labels of up to 12 digits were accepted).
TEST(DataDisent, ImplausibleLabelsFail) {
  expect_error([&] { data::parse_sample_name("dir/1_999999999999_0.png"); },
               {"dir/1_999999999999_0.png", "label 999999999999 is implausible"});
  expect_error([&] { data::parse_sample_name("dir/1_0_100000.png"); }, {"dir/1_0_100000.png", "implausible"});
  EXPECT_EQ(data::parse_sample_name("dir/1_0_99999.png").bias, 99999);
}

TEST(DataDisent, ScansRecursivelySortedAndInfersClasses) {
  const std::string dir = test::temp_dir("data_disent_scan");
  touch_png(dir + "/2/10_2_2.png");
  touch_png(dir + "/0/5_0_3.png");
  touch_png(dir + "/0/1_0_0.PNG");
  touch_png(dir + "/flat_id_1_1.jpg");
  std::ofstream(dir + "/readme.txt") << "not an image";
  touch_png(dir + "/.tmp-x/99_9_9.png");  // hidden folders are skipped
  const data::Split s = data::scan_split(dir);
  ASSERT_EQ(s.samples.size(), 4u);
  EXPECT_EQ(s.num_classes, 4);  // max label 3 (a bias) + 1
  for (size_t i = 1; i < s.samples.size(); ++i) EXPECT_LT(s.samples[i - 1].path, s.samples[i].path);
  EXPECT_EQ(fs::path(s.samples[0].path).filename(), "1_0_0.PNG");
  EXPECT_EQ(s.count_aligned(), 3);
  EXPECT_EQ(s.count_conflicting(), 1);
  EXPECT_EQ(data::scan_split(dir, 10).num_classes, 10);
  expect_error([&] { data::scan_split(dir, 3); }, {"5_0_3.png", "label out of range", "3 classes"});
}

// --subset: exactly the files whose names say target == bias (aligned) or target != bias (conflicting),
// including an aligned-looking folder name that must not matter and ids that end in digits.
TEST(DataSubset, SelectsExactlyTheFilesByTheirLabels) {
  const std::string dir = test::temp_dir("data_subset");
  for (const char* f : {"align/3/7_3_3.png", "align/1/8_1_1.png", "conflict/3/9_3_5.png",
                        "align/0/12_0_4.png", "x_2_2_0.png", "conflict/4/4_4_4.png"})
    touch_png(dir + "/" + f);
  const data::Split all = data::scan_split(dir);
  auto names = [](const data::Split& s) {
    std::vector<std::string> out;
    for (const auto& x : s.samples) out.push_back(fs::path(x.path).filename().string());
    return out;
  };
  EXPECT_EQ(names(data::select_subset(all, data::Subset::Aligned)),
            (std::vector<std::string>{"8_1_1.png", "7_3_3.png", "4_4_4.png"}));
  const data::Split conflicting = data::select_subset(all, data::Subset::Conflicting);
  EXPECT_EQ(names(conflicting), (std::vector<std::string>{"12_0_4.png", "9_3_5.png", "x_2_2_0.png"}));
  EXPECT_EQ(conflicting.num_classes, all.num_classes);  // the model's classes do not shrink
  EXPECT_EQ(names(data::select_subset(all, data::Subset::All)), names(all));
  EXPECT_EQ(data::parse_subset("conflicting"), data::Subset::Conflicting);
  expect_error([] { data::parse_subset("biased"); }, {"--subset", "biased"});
  data::Split only_aligned = all;
  only_aligned.samples = data::select_subset(all, data::Subset::Aligned).samples;
  expect_error([&] { data::select_subset(only_aligned, data::Subset::Conflicting); }, {"no conflicting"});
}

TEST(DataDisent, EmptyAndMissingSplits) {
  const std::string dir = test::temp_dir("data_disent_empty");
  fs::create_directories(dir + "/sub");
  expect_error([&] { data::scan_split(dir); }, {dir, "empty split"});
  expect_error([&] { data::scan_split(dir + "/nope"); }, {dir + "/nope", "not found"});
  touch_png(dir + "/sub/nolabels.png");
  expect_error([&] { data::scan_split(dir); }, {"nolabels.png", "without labels"});
}

TEST(DataDisent, TrainValidTestFoldersOfCmnistLayout) {
  const std::string root = test::temp_dir("data_disent_layout") + "/cmnist";
  touch_png(root + "/5pct/align/0/1_0_0.png");
  touch_png(root + "/5pct/align/1/2_1_1.png");
  touch_png(root + "/5pct/conflict/1/3_1_0.png");
  touch_png(root + "/5pct/valid/4_1_0.png");
  touch_png(root + "/test/0/5_0_1.png");
  const data::Split train = data::train_split(root + "/5pct");
  EXPECT_EQ(train.samples.size(), 3u);
  EXPECT_EQ(train.count_conflicting(), 1);
  EXPECT_EQ(train.num_classes, 2);
  EXPECT_EQ(data::valid_split(root + "/5pct").samples.size(), 1u);
  EXPECT_EQ(data::valid_split(root + "/5pct/", 10).num_classes, 10);  // trailing slash
  const auto test = data::test_split(root + "/5pct");
  ASSERT_TRUE(test.has_value());
  EXPECT_EQ(test->samples.size(), 1u);
  EXPECT_EQ(test->samples[0].bias, 1);
}

TEST(DataDisent, BffhqKeepsValidBesideThePctFolder) {
  const std::string root = test::temp_dir("data_disent_bffhq") + "/bffhq";
  touch_png(root + "/0.5pct/align/0/1_0_0.png");
  touch_png(root + "/0.5pct/conflict/0/2_0_1.png");
  touch_png(root + "/valid/3_1_1.png");
  EXPECT_EQ(data::valid_split(root + "/0.5pct").samples.size(), 1u);
  EXPECT_FALSE(data::test_split(root + "/0.5pct").has_value());
}

TEST(DataDisent, MissingPiecesAreNamed) {
  const std::string root = test::temp_dir("data_disent_missing");
  touch_png(root + "/5pct/align/0/1_0_0.png");
  expect_error([&] { data::train_split(root + "/5pct"); }, {root + "/5pct", "missing conflict/"});
  expect_error([&] { data::valid_split(root + "/5pct"); }, {root + "/5pct", "missing valid split"});
  expect_error([&] { data::train_split(root + "/nope"); }, {root + "/nope", "not found"});
}

TEST(DataNormalize, PresetsFromThePath) {
  EXPECT_EQ(data::normalization_for("/d/cmnist/5pct").name, "cmnist");
  const data::Normalization c = data::normalization_for("/d/cifar10c/1pct/valid");
  EXPECT_EQ(c.name, "cifar10c");
  EXPECT_FLOAT_EQ(c.mean[1], 0.4822f);
  EXPECT_FLOAT_EQ(c.std[2], 0.2010f);
  EXPECT_EQ(c.default_image_size, 0);
  const data::Normalization b = data::normalization_for("/d/bffhq/0.5pct");
  EXPECT_EQ(b.default_image_size, 224);
  EXPECT_FLOAT_EQ(b.mean[0], 0.4914f);
  const data::Normalization u = data::normalization_for("/d/other/cmnist_like");
  EXPECT_EQ(u.name, "unit");
  EXPECT_FLOAT_EQ(u.mean[0], 0.f);
  EXPECT_FLOAT_EQ(u.std[0], 1.f);
  EXPECT_EQ(data::normalization_for("/d/cmnist/5pct", "bffhq").name, "bffhq");
  expect_error([] { data::normalization_for("/d", "imagenet"); }, {"imagenet", "unknown normalisation"});
}

}  // namespace
}  // namespace biascka
