// `data check` (data/check.h): a clean generated dataset passes; each planted fault is found and named;
// `reproduce` refuses a broken root with the report; the command's exit status follows.
#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "data/check.h"
#include "engine/io/atomic_file.h"
#include "tests/support/cli_run.h"
#include "tests/support/test_support.h"
#include "tests/support/tiny_dataset.h"
#include "workflows/reproduce.h"

namespace biascka {
namespace {

namespace fs = std::filesystem;

// A copy of the tiny Colored MNIST (ROOT/cmnist/{5pct,test}) to plant a fault in.
std::string fresh_root(const std::string& name) {
  static const std::string pristine = [] {
    const std::string root = test::temp_dir("check_pristine");
    test::tiny_cmnist(root);
    fs::remove_all(root + "/idx");
    return root;
  }();
  const std::string root = test::temp_dir(name);
  fs::copy(pristine, root, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  return root;
}

bool has_line(const std::vector<std::string>& lines, const std::string& part) {
  return std::any_of(lines.begin(), lines.end(),
                     [&](const std::string& l) { return l.find(part) != std::string::npos; });
}

std::string joined(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += l + "\n";
  return s;
}

// The first image file under dir.
fs::path first_image(const fs::path& dir) {
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".png") return e.path();
  return {};
}

TEST(DataCheck, AGeneratedDatasetPasses) {
  const std::string root = fresh_root("check_clean");
  const auto checks = data::check_data(root);
  ASSERT_EQ(checks.size(), 1u);
  const data::DatasetCheck& c = checks[0];
  EXPECT_TRUE(c.ok()) << joined(c.errors);
  EXPECT_EQ(c.name, "cmnist");
  EXPECT_EQ(c.num_classes, 10);
  ASSERT_EQ(c.splits.size(), 3u);  // 5pct train, 5pct valid, test
  EXPECT_EQ(c.splits[0].name, "5pct train");
  EXPECT_EQ(c.splits[0].total, 180);  // tiny_cmnist: 240 train images, a quarter held out as valid
  EXPECT_EQ(c.splits[0].conflicting(), 10);
  EXPECT_EQ(c.splits[1].total, 60);
  EXPECT_EQ(c.splits[2].total, 80);
  EXPECT_EQ(c.splits[2].width, 12);
  // Tiny is not DisEnt's release: warnings say so, they do not break it.
  EXPECT_TRUE(has_line(c.warnings, "DisEnt's release has 60,000")) << joined(c.warnings);
  EXPECT_TRUE(has_line(c.warnings, "1pct/: missing")) << joined(c.warnings);
  const std::string report = data::format_check(checks);
  EXPECT_NE(report.find("ok, with warnings"), std::string::npos) << report;
  EXPECT_NE(report.find("5pct train"), std::string::npos) << report;
  EXPECT_NE(report.find("with valid 60,000"), std::string::npos) << report;  // the release column
}

TEST(DataCheck, FindsAMissingSplit) {
  const std::string root = fresh_root("check_missing");
  fs::remove_all(root + "/cmnist/5pct/valid");
  fs::remove_all(root + "/cmnist/test");
  const auto c = data::check_dataset(root + "/cmnist");
  EXPECT_FALSE(c.ok());
  EXPECT_TRUE(has_line(c.errors, "5pct/valid/: missing")) << joined(c.errors);
  EXPECT_TRUE(has_line(c.errors, "test/: missing")) << joined(c.errors);
  fs::remove_all(root + "/cmnist/5pct/conflict");
  EXPECT_TRUE(has_line(data::check_dataset(root + "/cmnist").errors, "5pct/conflict/: missing"));
}

TEST(DataCheck, FindsAnUnparsableNameAndAFileThatIsNotAnImage) {
  const std::string root = fresh_root("check_names");
  const fs::path img = first_image(root + "/cmnist/5pct/align");
  fs::copy_file(img, img.parent_path() / "not_labelled.png");
  write_text_atomic((img.parent_path() / "9999_3_3.png").string(), "not a png");
  const auto c = data::check_dataset(root + "/cmnist");
  EXPECT_TRUE(has_line(c.errors, "file names without {id}_{target}_{bias} labels: 1 file (e.g. "))
      << joined(c.errors);
  EXPECT_TRUE(has_line(c.errors, "not_labelled.png")) << joined(c.errors);
  EXPECT_TRUE(has_line(c.errors, "not readable images: 1 file (e.g. 9999_3_3.png)")) << joined(c.errors);
}

TEST(DataCheck, FindsADuplicateIdAcrossSplits) {
  const std::string root = fresh_root("check_dup");
  const fs::path img = first_image(root + "/cmnist/5pct/align");  // e.g. align/0/17_0_0.png
  fs::copy_file(img, fs::path(root) / "cmnist/5pct/valid" / img.filename());
  const auto c = data::check_dataset(root + "/cmnist");
  EXPECT_TRUE(has_line(
      c.errors,
      "5pct/align and 5pct/valid: ids in both (the splits overlap): 1 file (e.g. " + img.filename().string()))
      << joined(c.errors);
  // Test images are numbered separately (the generators and DisEnt restart at 0): the same ids there are
  // fine.
  EXPECT_FALSE(has_line(c.errors, "test")) << joined(c.errors);
}

TEST(DataCheck, FindsAClassWithoutConflictingSamples) {
  const std::string root = fresh_root("check_noconflict");
  fs::remove_all(root + "/cmnist/5pct/conflict/3");
  const auto c = data::check_dataset(root + "/cmnist");
  EXPECT_TRUE(has_line(c.errors, "5pct train: no bias-conflicting images of class 3")) << joined(c.errors);
  EXPECT_EQ(c.errors.size(), 1u) << joined(c.errors);
}

TEST(DataCheck, FindsImagesInTheWrongFolder) {
  const std::string root = fresh_root("check_folders");
  const fs::path aligned = first_image(root + "/cmnist/5pct/align/2");
  fs::rename(aligned, fs::path(root) / "cmnist/5pct/conflict/2" / aligned.filename());
  const fs::path test_img = first_image(root + "/cmnist/test/4");
  fs::rename(test_img, fs::path(root) / "cmnist/test/5" / test_img.filename());
  const auto c = data::check_dataset(root + "/cmnist");
  EXPECT_TRUE(has_line(c.errors, "5pct conflict: bias-aligned images under conflict/")) << joined(c.errors);
  EXPECT_TRUE(has_line(c.errors, "test: images in the class folder of another target: 1 file (e.g. 5/"))
      << joined(c.errors);
}

TEST(DataCheck, RootsPctSelectionAndMissingPaths) {
  const std::string root = fresh_root("check_root");
  data::CheckOptions o;
  o.pcts = {"1pct"};
  EXPECT_TRUE(has_line(data::check_dataset(root + "/cmnist", o).errors, "1pct/: missing"));
  test::expect_error([&] { data::check_data(root + "/nothing"); }, {"nothing: folder not found"});
  fs::create_directories(root + "/empty");
  test::expect_error([&] { data::check_data(root + "/empty"); }, {"neither a dataset folder"});
}

TEST(DataCheck, TheCommandExitsOneOnABrokenRootAndZeroOnAGoodOne) {
  const std::string good = fresh_root("check_cli_good");
  const auto ok = test::run_biascka("data check " + good + " --pct 5");
  EXPECT_EQ(ok.code, 0) << ok.output;
  EXPECT_NE(ok.output.find("cmnist"), std::string::npos) << ok.output;
  const std::string bad = fresh_root("check_cli_bad");
  fs::remove_all(bad + "/cmnist/5pct/conflict/7");
  const auto broken = test::run_biascka("data check " + bad);
  EXPECT_EQ(broken.code, 1) << broken.output;
  EXPECT_NE(broken.output.find("no bias-conflicting images of class 7"), std::string::npos) << broken.output;
  EXPECT_NE(broken.output.find("biascka: error: "), std::string::npos) << broken.output;
}

TEST(DataCheck, ReproduceRefusesABrokenRoot) {
  const std::string root = fresh_root("check_reproduce");
  fs::remove_all(root + "/cmnist/5pct/conflict/1");
  workflows::ReproduceOptions o;
  o.data_root = root;
  o.out = test::temp_dir("check_reproduce_out");
  o.datasets = {"cmnist"};
  o.losses = "sce";
  o.seeds = 1;
  o.progress = workflows::ProgressMode::Quiet;
  test::expect_error([&] { workflows::reproduce(o); }, {"cmnist", "broken data"});
  EXPECT_FALSE(fs::exists(o.out + "/runs")) << "no training started";
}

}  // namespace
}  // namespace biascka
