#include "data/idx.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <system_error>
#include <utility>

#include "engine/checked_size.h"
#include "engine/error.h"

#ifdef BIASCKA_HAVE_ZLIB
#include <zlib.h>
#endif

namespace biascka::data {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Sequential reader over a plain or gzipped file. gzread reads uncompressed files as they are, so with
// zlib one path serves both.
class ByteReader {
 public:
  explicit ByteReader(const std::string& path) : path_(path) {
#ifdef BIASCKA_HAVE_ZLIB
    gz_ = gzopen(path.c_str(), "rb");
    BIASCKA_CHECK(gz_ != nullptr, path, ": cannot read (", std::strerror(errno), ")");
    // A large buffer for the real sets (tens of MB); no larger than the file for small ones.
    std::error_code ec;
    const uint64_t size = std::filesystem::file_size(path, ec);
    gzbuffer(gz_, static_cast<unsigned>(ec ? 1u << 20 : std::clamp<uint64_t>(size, 1u << 13, 1u << 20)));
#else
    BIASCKA_CHECK(!ends_with(path, ".gz"), path,
                  ": gzipped IDX file, but this build has no zlib (install zlib1g-dev "
                  "and rebuild, or gunzip the file)");
    in_.open(path, std::ios::binary);
    BIASCKA_CHECK(in_.good(), path, ": cannot read (", std::strerror(errno), ")");
#endif
  }
  ~ByteReader() {
#ifdef BIASCKA_HAVE_ZLIB
    if (gz_) gzclose(gz_);
#endif
  }
  ByteReader(const ByteReader&) = delete;
  ByteReader& operator=(const ByteReader&) = delete;

  // Reads up to n bytes; returns how many were read. Throws on a decompression error.
  size_t read(uint8_t* dst, size_t n) {
    size_t got = 0;
#ifdef BIASCKA_HAVE_ZLIB
    while (got < n) {
      const unsigned chunk = static_cast<unsigned>(std::min<size_t>(n - got, 1u << 30));
      const int r = gzread(gz_, dst + got, chunk);
      if (r < 0) {
        int code = 0;
        const char* msg = gzerror(gz_, &code);
        if (code == Z_BUF_ERROR) break;  // the gzip stream ends early: reported as a truncated body
        fail(path_, ": cannot decompress (", msg ? msg : "gzip error", ")");
      }
      if (r == 0) break;
      got += static_cast<size_t>(r);
    }
#else
    in_.read(reinterpret_cast<char*>(dst), static_cast<std::streamsize>(n));
    got = static_cast<size_t>(in_.gcount());
#endif
    return got;
  }

  // The bytes left in a plain (not gzipped) regular file; nullopt for a gzip stream, whose size is known
  // only once it is decompressed. Valid after the first read.
  std::optional<uint64_t> plain_bytes_left(uint64_t consumed) const {
#ifdef BIASCKA_HAVE_ZLIB
    if (!gzdirect(gz_)) return std::nullopt;
#endif
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path_, ec)) return std::nullopt;
    const uint64_t size = std::filesystem::file_size(path_, ec);
    if (ec || size < consumed) return std::nullopt;
    return size - consumed;
  }

 private:
  std::string path_;
#ifdef BIASCKA_HAVE_ZLIB
  gzFile gz_ = nullptr;
#else
  std::ifstream in_;
#endif
};

uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

// Up to `claimed` bytes of the body. A gzip stream's real length is unknown until it is decompressed, so the
// buffer grows with what actually arrives (64 KiB, then doubling): a header claiming gigabytes over a short
// stream costs 64 KiB, not the claim.
std::vector<uint8_t> read_body(ByteReader& in, uint64_t claimed, bool size_known) {
  constexpr uint64_t kChunk = uint64_t{1} << 16;
  std::vector<uint8_t> data;
  while (data.size() < claimed) {
    const size_t have = data.size();
    const size_t want = static_cast<size_t>(
        size_known ? claimed - have : std::min<uint64_t>(claimed - have, std::max<uint64_t>(kChunk, have)));
    data.resize(have + want);
    const size_t got = in.read(data.data() + have, want);
    data.resize(have + got);
    if (got < want) break;
  }
  return data;
}

// Bytes after the body (counted by reading on, without keeping them).
uint64_t count_rest(ByteReader& in) {
  uint8_t buf[1 << 14];
  uint64_t n = 0;
  for (size_t got; (got = in.read(buf, sizeof buf)) > 0;) n += got;
  return n;
}

// Larger claims are corrupt headers (MNIST-style sets are tens of megabytes).
constexpr uint64_t kMaxIdxBytes = uint64_t{1} << 36;

}  // namespace

IdxArray read_idx(const std::string& path, int expected_ndim) {
  ByteReader in(path);
  uint8_t magic[4];
  const size_t got = in.read(magic, 4);
  BIASCKA_CHECK(got == 4, path, ": truncated header (", got, " of 4 magic bytes)");
  char hex[16];
  std::snprintf(hex, sizeof hex, "0x%08X", be32(magic));
  BIASCKA_CHECK(magic[0] == 0 && magic[1] == 0 && magic[2] == 0x08 && magic[3] >= 1 && magic[3] <= 4, path,
                ": wrong magic number ", hex,
                " (expected an unsigned-byte IDX file: 0x00000801 labels or "
                "0x00000803 images)");
  const int ndim = magic[3];
  if (expected_ndim > 0)
    BIASCKA_CHECK(ndim == expected_ndim, path, ": wrong magic number ", hex, " (expected 0x0000080",
                  expected_ndim, ", an IDX file with ", expected_ndim, " dimensions)");
  IdxArray out;
  out.path = path;
  uint8_t dims[16];
  const size_t got_dims = in.read(dims, 4 * ndim);
  BIASCKA_CHECK(got_dims == 4u * ndim, path, ": truncated header (", got_dims, " of ", 4 * ndim,
                " dimension bytes)");
  for (int d = 0; d < ndim; ++d) out.dims.push_back(be32(dims + 4 * d));
  const uint64_t total = static_cast<uint64_t>(checked_numel(out.dims, path));
  BIASCKA_CHECK(total <= kMaxIdxBytes, path, ": implausible IDX dimensions (", total,
                " bytes of data, over the 64 GiB this reader accepts)");
  // A plain file's size is compared with the claim before anything is allocated.
  const std::optional<uint64_t> left = in.plain_bytes_left(4 + 4 * static_cast<uint64_t>(ndim));
  if (left)
    BIASCKA_CHECK(*left >= total, path, ": truncated body (header promises ", total, " bytes, found ", *left,
                  ")");
  out.data = read_body(in, total, left.has_value());
  BIASCKA_CHECK(out.data.size() == total, path, ": truncated body (header promises ", total, " bytes, found ",
                out.data.size(), ")");
  const uint64_t rest = left ? *left - total : count_rest(in);
  BIASCKA_CHECK(rest == 0, path, ": ", rest, " bytes after the ", total,
                " the header promises (not the file its header describes)");
  return out;
}

void write_idx(const std::string& path, const std::vector<int64_t>& dims, const std::vector<uint8_t>& data) {
  std::string bytes = {0, 0, 0x08, static_cast<char>(dims.size())};
  int64_t total = 1;
  for (int64_t d : dims) {
    total *= d;
    for (int s = 24; s >= 0; s -= 8) bytes += static_cast<char>((d >> s) & 0xFF);
  }
  BIASCKA_CHECK(total == static_cast<int64_t>(data.size()), path, ": write_idx got ", data.size(),
                " bytes for dimensions totalling ", total);
  bytes.append(reinterpret_cast<const char*>(data.data()), data.size());
  if (ends_with(path, ".gz")) {
#ifdef BIASCKA_HAVE_ZLIB
    gzFile gz = gzopen(path.c_str(), "wb");
    BIASCKA_CHECK(gz != nullptr, path, ": cannot write (", std::strerror(errno), ")");
    const int w = gzwrite(gz, bytes.data(), static_cast<unsigned>(bytes.size()));
    const int c = gzclose(gz);
    BIASCKA_CHECK(w == static_cast<int>(bytes.size()) && c == Z_OK, path, ": gzip write failed");
    return;
#else
    fail(path, ": cannot write gzipped IDX files (this build has no zlib)");
#endif
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  BIASCKA_CHECK(out.good(), path, ": cannot write (", std::strerror(errno), ")");
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  BIASCKA_CHECK(out.good(), path, ": write failed");
}

std::string find_idx_file(const std::string& dir, const std::string& prefix, const std::string& kind) {
  namespace fs = std::filesystem;
  BIASCKA_CHECK(fs::is_directory(dir), dir, ": IDX folder not found");
  // kind is "images-idx3" or "labels-idx1"; the dotted variant writes "images.idx3".
  std::string dotted = kind;
  dotted[dotted.find('-')] = '.';
  const std::vector<std::string> names = {prefix + "-" + kind + "-ubyte", prefix + "-" + dotted + "-ubyte"};
  std::string tried;
  for (const auto& name : names)
    for (const char* ext : {"", ".gz"}) {
      const fs::path p = fs::path(dir) / (name + ext);
      if (fs::is_regular_file(p)) return p.string();
      tried += (tried.empty() ? "" : ", ") + name + ext;
    }
  fail(dir, ": no ", prefix, " ", kind.substr(0, kind.find('-')), " file (looked for ", tried, ")");
}

IdxSet read_idx_set(const std::string& dir, bool train) {
  const std::string prefix = train ? "train" : "t10k";
  IdxSet s;
  s.images_path = find_idx_file(dir, prefix, "images-idx3");
  s.labels_path = find_idx_file(dir, prefix, "labels-idx1");
  IdxArray images = read_idx(s.images_path, 3);
  IdxArray labels = read_idx(s.labels_path, 1);
  BIASCKA_CHECK(images.dims[0] == labels.dims[0], s.labels_path, ": ", labels.dims[0], " labels for ",
                images.dims[0], " images in ", s.images_path);
  s.count = images.dims[0];
  s.rows = images.dims[1];
  s.cols = images.dims[2];
  BIASCKA_CHECK(s.rows > 0 && s.cols > 0, s.images_path, ": images of ", s.rows, "x", s.cols);
  s.images = std::move(images.data);
  s.labels = std::move(labels.data);
  return s;
}

}  // namespace biascka::data
