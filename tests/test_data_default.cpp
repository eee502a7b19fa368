// The built-in default dataset, built here from a tiny synthetic IDX folder instead of Fashion-MNIST.
#include <cstdlib>
#include <filesystem>
#include <string>

#include "data/default_dataset.h"
#include "data/disent.h"
#include "tests/test_data_fixtures.h"

namespace biascka {
namespace {
namespace fs = std::filesystem;
using test::expect_error;

TEST(DataDefault, BuildsOnceAndReturnsThePctFolder) {
  const std::string base = test::temp_dir("data_default");
  test::write_idx_set(base + "/idx", 240, 48, 10, 10, true);
  const std::string dir = data::ensure_default_dataset(5, base + "/cache", base + "/idx");
  EXPECT_EQ(fs::path(dir), fs::path(base) / "cache" / "fashion-cmnist" / "cmnist" / "5pct");
  EXPECT_EQ(data::train_split(dir).samples.size() + data::valid_split(dir).samples.size(), 240u);
  ASSERT_TRUE(data::test_split(dir).has_value());
  EXPECT_EQ(data::test_split(dir)->samples.size(), 48u);
  const auto stamp = fs::last_write_time(dir + "/generator.json");
  // Idempotent: a second call finds it (even with the source gone) and does not rebuild.
  fs::remove_all(base + "/idx");
  EXPECT_EQ(data::ensure_default_dataset(5, base + "/cache", base + "/idx"), dir);
  EXPECT_EQ(fs::last_write_time(dir + "/generator.json"), stamp);
  // Another pct needs the source again.
  expect_error([&] { data::ensure_default_dataset(1, base + "/cache", base + "/idx"); },
               {base + "/idx", "apt-get install dataset-fashion-mnist"});
}

TEST(DataDefault, CacheFolderFromTheEnvironment) {
  const char* old = std::getenv("BIASCKA_CACHE");
  const std::string saved = old ? old : "";
  setenv("BIASCKA_CACHE", "/some/cache", 1);
  EXPECT_EQ(data::default_cache_dir(), "/some/cache");
  unsetenv("BIASCKA_CACHE");
  setenv("XDG_CACHE_HOME", "/xdg", 1);
  EXPECT_EQ(data::default_cache_dir(), "/xdg/biascka");
  unsetenv("XDG_CACHE_HOME");
  EXPECT_NE(data::default_cache_dir().find(".cache/biascka"), std::string::npos);
  if (old) setenv("BIASCKA_CACHE", saved.c_str(), 1);
}

}  // namespace
}  // namespace biascka
