// IDX reading: plain and gzipped round trips, MNIST file names, and the errors naming the file.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "data/idx.h"
#include "tests/support/address_space_limit.h"
#include "tests/test_data_fixtures.h"

#ifdef BIASCKA_HAVE_ZLIB
#include <zlib.h>
#endif

namespace biascka {
namespace {
namespace fs = std::filesystem;
using test::expect_error;

std::vector<uint8_t> ramp(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i * 7 + 3);
  return v;
}

TEST(DataIdx, PlainRoundTrip) {
  const std::string dir = test::temp_dir("data_idx_plain");
  const auto data = ramp(5 * 4 * 3);
  data::write_idx(dir + "/a-idx3-ubyte", {5, 4, 3}, data);
  EXPECT_EQ(fs::file_size(dir + "/a-idx3-ubyte"), 4u + 12u + data.size());
  const data::IdxArray a = data::read_idx(dir + "/a-idx3-ubyte", 3);
  EXPECT_EQ(a.dims, (std::vector<int64_t>{5, 4, 3}));
  EXPECT_EQ(a.data, data);
}

TEST(DataIdx, GzipRoundTrip) {
  const std::string dir = test::temp_dir("data_idx_gz");
  const auto data = ramp(1000);
  data::write_idx(dir + "/l-idx1-ubyte.gz", {1000}, data);
  std::ifstream in(dir + "/l-idx1-ubyte.gz", std::ios::binary);
  unsigned char magic[2] = {0, 0};
  in.read(reinterpret_cast<char*>(magic), 2);
  EXPECT_EQ(magic[0], 0x1f);  // really gzipped
  EXPECT_EQ(magic[1], 0x8b);
  const data::IdxArray a = data::read_idx(dir + "/l-idx1-ubyte.gz", 1);
  EXPECT_EQ(a.dims, (std::vector<int64_t>{1000}));
  EXPECT_EQ(a.data, data);
}

TEST(DataIdx, FindsMnistNamesPlainGzAndDotted) {
  for (bool gz : {false, true}) {
    const std::string dir = test::temp_dir(gz ? "data_idx_set_gz" : "data_idx_set");
    test::write_idx_set(dir, 30, 10, 6, 5, gz);
    const data::IdxSet train = data::read_idx_set(dir, true), test = data::read_idx_set(dir, false);
    EXPECT_EQ(train.count, 30);
    EXPECT_EQ(test.count, 10);
    EXPECT_EQ(train.rows, 6);
    EXPECT_EQ(train.cols, 5);
    EXPECT_EQ(train.labels[13], 3);
    EXPECT_EQ(train.images.size(), 30u * 6 * 5);
  }
  const std::string dir = test::temp_dir("data_idx_dotted");
  test::write_idx_set(dir, 20, 10, 4, 4);
  fs::rename(dir + "/train-images-idx3-ubyte", dir + "/train-images.idx3-ubyte");
  fs::rename(dir + "/train-labels-idx1-ubyte", dir + "/train-labels.idx1-ubyte");
  EXPECT_EQ(data::read_idx_set(dir, true).count, 20);
}

TEST(DataIdx, WrongMagicNamesTheFile) {
  const std::string dir = test::temp_dir("data_idx_magic");
  const std::string path = dir + "/bad-idx3-ubyte";
  std::ofstream(path, std::ios::binary) << std::string("\x00\x00\x09\x03", 4) << std::string(12, '\0');
  expect_error([&] { data::read_idx(path); }, {path, "wrong magic number 0x00000903"});
  // A label file where images are expected.
  data::write_idx(dir + "/labels", {4}, ramp(4));
  expect_error([&] { data::read_idx(dir + "/labels", 3); }, {dir + "/labels", "wrong magic", "0x00000801"});
  std::ofstream(dir + "/text", std::ios::binary) << "hello world";
  expect_error([&] { data::read_idx(dir + "/text"); }, {dir + "/text", "wrong magic"});
}

TEST(DataIdx, TruncatedBodyPlainAndGz) {
  const std::string dir = test::temp_dir("data_idx_trunc");
  data::write_idx(dir + "/t-idx3-ubyte", {10, 8, 8}, ramp(640));
  fs::resize_file(dir + "/t-idx3-ubyte", 4 + 12 + 100);
  expect_error([&] { data::read_idx(dir + "/t-idx3-ubyte"); },
               {dir + "/t-idx3-ubyte", "truncated body", "640 bytes", "found 100"});

  std::vector<uint8_t> noisy(200000);
  data::Rng rng(7);
  for (auto& b : noisy)
    b = static_cast<uint8_t>(rng.below(256));  // incompressible, so cutting the file cuts data
  data::write_idx(dir + "/t.gz", {200000}, noisy);
  fs::resize_file(dir + "/t.gz", fs::file_size(dir + "/t.gz") / 2);
  expect_error([&] { data::read_idx(dir + "/t.gz"); }, {dir + "/t.gz", "truncated body"});
  expect_error([&] { data::read_idx(dir + "/missing-idx1-ubyte"); },
               {dir + "/missing-idx1-ubyte", "cannot read"});
}

TEST(DataIdx, CountMismatchAndMissingFiles) {
  const std::string dir = test::temp_dir("data_idx_mismatch");
  test::write_idx_set(dir, 20, 10, 4, 4);
  data::write_idx(dir + "/train-labels-idx1-ubyte", {19}, ramp(19));
  expect_error([&] { data::read_idx_set(dir, true); },
               {dir + "/train-labels-idx1-ubyte", "19 labels for 20 images"});
  fs::remove(dir + "/t10k-images-idx3-ubyte");
  expect_error([&] { data::read_idx_set(dir, false); },
               {dir, "t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte.gz"});
  expect_error([&] { data::read_idx_set(dir + "/nope", true); }, {dir + "/nope", "not found"});
}

// The bytes of an IDX file whose header claims `dims` (whatever the body holds).
std::string idx_bytes(const std::vector<uint32_t>& dims, const std::string& body) {
  std::string bytes = {0, 0, 0x08, static_cast<char>(dims.size())};
  for (uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8) bytes += static_cast<char>((d >> s) & 0xFF);
  return bytes + body;
}

void write_plain_and_gz(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
#ifdef BIASCKA_HAVE_ZLIB
  gzFile gz = gzopen((path + ".gz").c_str(), "wb");
  ASSERT_NE(gz, nullptr);
  ASSERT_EQ(gzwrite(gz, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  ASSERT_EQ(gzclose(gz), Z_OK);
#endif
}

std::vector<std::string> plain_and_gz(const std::string& path) {
#ifdef BIASCKA_HAVE_ZLIB
  return {path, path + ".gz"};
#else
  return {path};
#endif
}

// Issue 11 reproducers: a header claiming 2^31 entries over a 100-byte body made the reader allocate and
// zero 2 GiB before it reported the truncated body, and larger claims (~2^35) ended in a bare
// std::bad_alloc. The claim is now compared with the file size (plain) or the body is read incrementally
// (gzip) before anything of the claimed size is allocated: under a 512 MiB address-space cap both give the
// truncation error naming the file.
TEST(DataIdx, HugeClaimsAreCheckedBeforeAllocating) {
  const std::string dir = test::temp_dir("data_idx_huge");
  const std::string body(100, '\x07');
  write_plain_and_gz(dir + "/claims-2e31-idx1-ubyte", idx_bytes({0x80000000u}, body));
  write_plain_and_gz(dir + "/claims-2e35-idx2-ubyte", idx_bytes({8, 0xFFFFFFFFu}, body));
  const test::AddressSpaceLimit cap(uint64_t{512} << 20);
  for (const std::string& path : plain_and_gz(dir + "/claims-2e31-idx1-ubyte"))
    expect_error([&] { data::read_idx(path); }, {path, "truncated body", "2147483648 bytes", "found 100"});
  for (const std::string& path : plain_and_gz(dir + "/claims-2e35-idx2-ubyte"))
    expect_error([&] { data::read_idx(path); }, {path, "truncated body", "34359738360 bytes", "found 100"});
}

// Four dimensions of 2^32 - 1 overflow 64 bits: an error naming the file, whatever the body.
TEST(DataIdx, DimensionsWhoseProductOverflowsAreAnError) {
  const std::string dir = test::temp_dir("data_idx_overflow");
  write_plain_and_gz(dir + "/overflow-idx4-ubyte",
                     idx_bytes({0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu}, "x"));
  for (const std::string& path : plain_and_gz(dir + "/overflow-idx4-ubyte"))
    expect_error([&] { data::read_idx(path); }, {path, "too large"});
}

// Bytes after the body the header promises: not the file the header describes.
TEST(DataIdx, TrailingBytesAreAnError) {
  const std::string dir = test::temp_dir("data_idx_trailing");
  write_plain_and_gz(dir + "/long-idx1-ubyte", idx_bytes({10}, std::string(15, '\x01')));
  for (const std::string& path : plain_and_gz(dir + "/long-idx1-ubyte"))
    expect_error([&] { data::read_idx(path); }, {path, "5 bytes after the 10 the header promises"});
}

}  // namespace
}  // namespace biascka
