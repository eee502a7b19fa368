// Tar extraction (data/archive.h): files and folders land where they should, and hostile archives (paths
// leaving the folder, links, devices, lying sizes, truncation, garbage) are refused with the entry named,
// writing nothing outside the output folder and nothing partial under a final name.
#include <algorithm>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "data/archive.h"
#include "engine/io/atomic_file.h"
#include "tests/support/tar_writer.h"
#include "tests/test_data_fixtures.h"

namespace biascka {
namespace {

namespace fs = std::filesystem;
using test::TarMember;

#define REQUIRE_LIBARCHIVE() \
  if (!data::archive_supported()) GTEST_SKIP() << "this build has no libarchive (libarchive-dev)"

std::vector<std::string> listing(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    out.push_back(fs::relative(e.path(), dir).string());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(Archive, SafeEntryPaths) {
  EXPECT_EQ(data::safe_entry_path("a/b.bin"), "a/b.bin");
  EXPECT_EQ(data::safe_entry_path("./a//b/"), "a/b");
  EXPECT_EQ(data::safe_entry_path("a/./b"), "a/b");
  EXPECT_EQ(data::safe_entry_path("..x/y"), "..x/y");  // a name that starts with dots is not '..'
  for (const char* bad : {"", ".", "./", "/etc/passwd", "../x", "a/../../x", "a/..", "//x"})
    EXPECT_EQ(data::safe_entry_path(bad), "") << bad;
}

TEST(Archive, ExtractsFilesAndFoldersOfAGzippedTar) {
  REQUIRE_LIBARCHIVE();
  const std::string dir = test::temp_dir("archive_ok");
  const std::string big(70000, 'x');  // spans several stored deflate blocks and tar blocks
  write_text_atomic(dir + "/a.tar.gz", test::gzip_stored(test::tar_bytes({{"./top/", "", '5'},
                                                                          {"top/one.bin", "first"},
                                                                          {"top/sub/two.bin", big},
                                                                          {"other.txt", "hello"}})));
  fs::create_directories(dir + "/out/top");
  write_text_atomic(dir + "/out/top/stale.bin", "an older copy is replaced whole");
  const auto top = data::extract_archive(dir + "/a.tar.gz", dir + "/out");
  EXPECT_EQ(std::set<std::string>(top.begin(), top.end()), (std::set<std::string>{"top", "other.txt"}));
  EXPECT_EQ(listing(dir + "/out"),
            (std::vector<std::string>{"other.txt", "top", "top/one.bin", "top/sub", "top/sub/two.bin"}));
  EXPECT_EQ(read_file(dir + "/out/top/sub/two.bin"), big);
  EXPECT_EQ(read_file(dir + "/out/other.txt"), "hello");
  const auto entries = data::list_archive_bytes(read_file(dir + "/a.tar.gz"), "a.tar.gz");
  ASSERT_EQ(entries.size(), 4u);
  EXPECT_EQ(entries[0].path, "top");  // "./top/" normalised
  EXPECT_TRUE(entries[0].directory);
  EXPECT_EQ(entries[2].path, "top/sub/two.bin");
  EXPECT_EQ(entries[2].size, 70000);
}

TEST(Archive, RefusesHostileEntriesAndWritesNothing) {
  REQUIRE_LIBARCHIVE();
  const std::string dir = test::temp_dir("archive_hostile");
  struct Case {
    TarMember member;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{"../escape.txt", "x"}, "'..' component"},       {{"a/../../escape.txt", "x"}, "'..' component"},
      {{"/tmp/biascka-absolute.txt", "x"}, "absolute"}, {{"link", "", '2', "/etc/passwd"}, "a symbolic link"},
      {{"hard", "", '1', "other.txt"}, "a hard link"},  {{"dev", "", '3'}, "a device"},
  };
  for (const auto& c : cases) {
    const std::string archive = dir + "/hostile.tar.gz", out = dir + "/out";
    fs::remove_all(out);
    fs::create_directories(out);
    write_text_atomic(archive, test::gzip_stored(test::tar_bytes({{"good.txt", "fine"}, c.member})));
    test::expect_error([&] { data::extract_archive(archive, out); }, {"hostile.tar.gz: entry '", c.says});
    EXPECT_TRUE(fs::is_empty(out)) << c.says << ": " << listing(out).size() << " entries left";
    EXPECT_FALSE(fs::exists(dir + "/escape.txt"));
    EXPECT_FALSE(fs::exists("/tmp/biascka-absolute.txt"));
  }
}

TEST(Archive, RefusesTruncationGarbageAndArchivesOverTheLimits) {
  REQUIRE_LIBARCHIVE();
  const std::string dir = test::temp_dir("archive_bad");
  const std::string tar = test::tar_bytes({{"d/one.bin", std::string(5000, 'a')}, {"d/two.bin", "b"}});
  write_text_atomic(dir + "/cut.tar.gz", test::gzip_stored(tar).substr(0, 3000));
  test::expect_error([&] { data::extract_archive(dir + "/cut.tar.gz", dir + "/out"); }, {"cut.tar.gz"});
  EXPECT_FALSE(fs::exists(dir + "/out/d"));
  test::expect_error([] { data::list_archive_bytes(std::string(4096, '\x07'), "junk.tar"); }, {"junk.tar"});
  data::ArchiveLimits small;
  small.max_total_bytes = 4000;
  test::expect_error([&] { data::list_archive_bytes(tar, "big.tar", small); }, {"d/one.bin", "limit"});
  data::ArchiveLimits few;
  few.max_entries = 1;
  test::expect_error([&] { data::list_archive_bytes(tar, "many.tar", few); }, {"more than 1 entries"});
  // A header that declares fewer bytes than the member's data: what follows is read as garbage headers.
  TarMember liar{"d/liar.bin", std::string(2000, 'z')};
  liar.size = 10;
  test::expect_error([&] { data::list_archive_bytes(test::tar_bytes({liar}), "liar.tar"); }, {"liar.tar"});
}

}  // namespace
}  // namespace biascka
