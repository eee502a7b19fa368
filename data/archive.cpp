#include "data/archive.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <system_error>
#include <utility>
#include <vector>

#include "engine/error.h"
#include "engine/printable.h"

#if BIASCKA_HAVE_LIBARCHIVE
#include <archive.h>
#include <archive_entry.h>
#endif

namespace biascka::data {

namespace fs = std::filesystem;

std::string safe_entry_path(const std::string& entry_path) {
  if (entry_path.empty() || entry_path.front() == '/') return "";
  std::string out;
  size_t start = 0;
  while (start <= entry_path.size()) {
    size_t end = entry_path.find('/', start);
    if (end == std::string::npos) end = entry_path.size();
    const std::string part = entry_path.substr(start, end - start);
    start = end + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") return "";
    out += (out.empty() ? "" : "/") + part;
  }
  return out;
}

namespace {

// An entry path fit for a one-line message: control bytes escaped (engine/printable.h), long names cut.
std::string printable_entry(const std::string& s) {
  return s.size() > 200 ? printable(s.substr(0, 200)) + "..." : printable(s);
}

// What a walk over the entries does with them: `file` receives a file's bytes through `chunk` calls.
struct EntrySink {
  virtual ~EntrySink() = default;
  virtual void directory(const std::string& path) = 0;
  virtual void begin_file(const std::string& path, int64_t size) = 0;
  virtual void chunk(const char* data, size_t size) = 0;
  virtual void end_file() = 0;
};

#if BIASCKA_HAVE_LIBARCHIVE

using Reader = std::unique_ptr<archive, int (*)(archive*)>;

Reader new_reader() {
  Reader a(archive_read_new(), &archive_read_free);
  BIASCKA_CHECK(a, "libarchive: out of memory");
  archive_read_support_filter_gzip(a.get());
  archive_read_support_format_tar(a.get());
  return a;
}

const char* type_name(int type) {
  switch (type) {
    case AE_IFLNK:
      return "a symbolic link";
    case AE_IFCHR:
    case AE_IFBLK:
      return "a device";
    case AE_IFIFO:
      return "a fifo";
    case AE_IFSOCK:
      return "a socket";
    default:
      return "not a regular file or folder";
  }
}

void walk(archive* a, const std::string& name, const ArchiveLimits& limits, EntrySink& sink) {
  int64_t entries = 0, total = 0;
  std::vector<char> buf(1 << 16);
  archive_entry* e = nullptr;
  for (;;) {
    const int r = archive_read_next_header(a, &e);
    if (r == ARCHIVE_EOF) break;
    BIASCKA_CHECK(r >= ARCHIVE_WARN, name, ": corrupt archive (", archive_error_string(a), ")");
    const char* raw_c = archive_entry_pathname(e);
    const std::string raw = raw_c ? raw_c : "";
    const std::string what = name + ": entry '" + printable_entry(raw) + "'";
    BIASCKA_CHECK(++entries <= limits.max_entries, name, ": more than ", limits.max_entries, " entries");
    const int type = static_cast<int>(archive_entry_filetype(e));
    const std::string path = safe_entry_path(raw);
    if (path.empty()) {
      // "./" (the archive's own top folder) is harmless; anything else leaves the output folder.
      BIASCKA_CHECK(
          type == AE_IFDIR && !raw.empty() && raw.front() != '/' && raw.find("..") == std::string::npos, what,
          ": path is absolute, has a '..' component or names the output folder itself");
      continue;
    }
    if (type == AE_IFDIR) {
      sink.directory(path);
      continue;
    }
    BIASCKA_CHECK(archive_entry_hardlink(e) == nullptr, what,
                  ": a hard link (only files and folders are extracted)");
    BIASCKA_CHECK(type == AE_IFREG, what, ": ", type_name(type), " (only files and folders are extracted)");
    BIASCKA_CHECK(archive_entry_size_is_set(e), what, ": no size");
    const int64_t declared = archive_entry_size(e);
    BIASCKA_CHECK(declared >= 0 && declared <= limits.max_total_bytes - total, what, ": ", declared,
                  " bytes would take the archive over its limit of ", limits.max_total_bytes, " bytes");
    total += declared;
    sink.begin_file(path, declared);
    int64_t got = 0;
    for (;;) {
      const la_ssize_t n = archive_read_data(a, buf.data(), buf.size());
      BIASCKA_CHECK(n >= 0, what, ": corrupt data (", archive_error_string(a), ")");
      if (n == 0) break;
      got += n;
      BIASCKA_CHECK(got <= declared, what, ": more data than the ", declared, " bytes declared");
      sink.chunk(buf.data(), static_cast<size_t>(n));
    }
    BIASCKA_CHECK(got == declared, what, ": truncated (", got, " of ", declared, " bytes)");
    sink.end_file();
  }
}

struct Discard : EntrySink {
  std::vector<ArchiveEntry> entries;
  void directory(const std::string& p) override { entries.push_back({p, true, 0}); }
  void begin_file(const std::string& p, int64_t size) override { entries.push_back({p, false, size}); }
  void chunk(const char*, size_t) override {}
  void end_file() override {}
};

// Writes entries under `root`, a fresh folder: it holds only what this sink created and links are never
// created, so no path can lead outside it (O_NOFOLLOW besides).
struct Writer : EntrySink {
  explicit Writer(fs::path root) : root_(std::move(root)) {}
  ~Writer() override {
    if (fd_ >= 0) ::close(fd_);
  }
  void directory(const std::string& p) override {
    std::error_code ec;
    fs::create_directories(root_ / p, ec);
    BIASCKA_CHECK(!ec, (root_ / p).string(), ": cannot create folder (", ec.message(), ")");
  }
  void begin_file(const std::string& p, int64_t) override {
    if (fs::path(p).has_parent_path()) directory(fs::path(p).parent_path().string());
    path_ = (root_ / p).string();
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    BIASCKA_CHECK(fd_ >= 0, path_, ": cannot write (", std::strerror(errno), ")");
  }
  void chunk(const char* data, size_t size) override {
    while (size > 0) {
      const ssize_t n = ::write(fd_, data, size);
      if (n < 0 && errno == EINTR) continue;
      BIASCKA_CHECK(n > 0, path_, ": cannot write (", std::strerror(errno), ")");
      data += n;
      size -= static_cast<size_t>(n);
    }
  }
  void end_file() override {
    const int rc = ::close(fd_);
    fd_ = -1;
    BIASCKA_CHECK(rc == 0, path_, ": cannot write (", std::strerror(errno), ")");
  }

 private:
  fs::path root_;
  std::string path_;
  int fd_ = -1;
};

#endif  // BIASCKA_HAVE_LIBARCHIVE

}  // namespace

#if BIASCKA_HAVE_LIBARCHIVE

bool archive_supported() { return true; }

std::vector<ArchiveEntry> list_archive_bytes(const std::string& bytes, const std::string& name,
                                             const ArchiveLimits& limits) {
  Reader a = new_reader();
  BIASCKA_CHECK(archive_read_open_memory(a.get(), bytes.data(), bytes.size()) == ARCHIVE_OK, name,
                ": not a tar archive (", archive_error_string(a.get()), ")");
  Discard sink;
  walk(a.get(), name, limits, sink);
  return sink.entries;
}

std::vector<std::string> extract_archive(const std::string& path, const std::string& out_dir,
                                         const ArchiveLimits& limits) {
  Reader a = new_reader();
  BIASCKA_CHECK(archive_read_open_filename(a.get(), path.c_str(), 1 << 16) == ARCHIVE_OK, path,
                ": cannot open as a tar archive (", archive_error_string(a.get()), ")");
  // Callers serialise extractions into one folder (the fetcher holds its lock), so a fixed temporary
  // name is safe, and a leftover from an interrupted run is simply replaced.
  const fs::path tmp = fs::path(out_dir) / (".unpack-" + fs::path(path).filename().string());
  std::error_code ec;
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  BIASCKA_CHECK(!ec, tmp.string(), ": cannot create folder (", ec.message(), ")");
  try {
    Writer sink(tmp);
    walk(a.get(), path, limits, sink);
    std::vector<std::string> top;
    for (const auto& entry : fs::directory_iterator(tmp)) top.push_back(entry.path().filename().string());
    BIASCKA_CHECK(!top.empty(), path, ": the archive holds no files");
    for (const auto& name : top) {
      const fs::path dest = fs::path(out_dir) / name;
      fs::remove_all(dest, ec);
      fs::rename(tmp / name, dest, ec);
      BIASCKA_CHECK(!ec, dest.string(), ": cannot move into place (", ec.message(), ")");
    }
    fs::remove_all(tmp, ec);
    return top;
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
}

#else

bool archive_supported() { return false; }

std::vector<ArchiveEntry> list_archive_bytes(const std::string&, const std::string& name,
                                             const ArchiveLimits&) {
  fail(name,
       ": this build cannot read tar archives (libarchive was not found when it was compiled: "
       "apt-get install libarchive-dev and rebuild)");
}

std::vector<std::string> extract_archive(const std::string& path, const std::string&, const ArchiveLimits&) {
  fail(path,
       ": this build cannot unpack tar archives (libarchive was not found when it was compiled: "
       "apt-get install libarchive-dev and rebuild, or unpack it with tar -xzf)");
}

#endif

}  // namespace biascka::data
