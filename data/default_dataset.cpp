#include "data/default_dataset.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "data/cmnist.h"
#include "data/idx.h"
#include "engine/error.h"

namespace biascka::data {
namespace fs = std::filesystem;

std::string default_cache_dir() {
  if (const char* c = std::getenv("BIASCKA_CACHE"); c && *c) return c;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return (fs::path(x) / "biascka").string();
  const char* home = std::getenv("HOME");
  BIASCKA_CHECK(home && *home, "no cache folder: set BIASCKA_CACHE (neither XDG_CACHE_HOME nor HOME is set)");
  return (fs::path(home) / ".cache" / "biascka").string();
}

namespace {

// An exclusive advisory lock held for the object's lifetime (released by the kernel if the process dies).
class FileLock {
 public:
  explicit FileLock(const std::string& path) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    BIASCKA_CHECK(fd_ >= 0, path, ": cannot open lock file (", std::strerror(errno), ")");
    while (::flock(fd_, LOCK_EX) != 0)
      BIASCKA_CHECK(errno == EINTR, path, ": cannot lock (", std::strerror(errno), ")");
  }
  ~FileLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace

std::string ensure_default_dataset(double pct, const std::string& cache_dir, const std::string& idx_dir,
                                   bool verbose) {
  const fs::path base = fs::path(cache_dir.empty() ? default_cache_dir() : cache_dir) / "fashion-cmnist";
  const fs::path pct_dir = base / "cmnist" / pct_folder_name(pct);
  const fs::path test_dir = base / "cmnist" / "test";
  if (fs::is_directory(pct_dir) && fs::is_directory(test_dir)) return pct_dir.string();

  const std::string source = idx_dir.empty() ? kFashionMnistDir : idx_dir;
  if (!fs::is_directory(source))
    fail(source,
         ": Fashion-MNIST not found; the built-in default dataset is made from Debian's "
         "dataset-fashion-mnist package: sudo apt-get install dataset-fashion-mnist (or pass --data DIR)");
  std::error_code ec;
  fs::create_directories(base, ec);
  BIASCKA_CHECK(!ec, base.string(), ": cannot create cache folder (", ec.message(), "); set BIASCKA_CACHE");
  FileLock lock((base / ".lock").string());
  // Another process may have finished it while we waited for the lock; make_cmnist skips what exists.
  CmnistOptions o;
  o.idx_dir = source;
  o.out_root = base.string();
  o.pcts = {pct};
  o.verbose = verbose;
  make_cmnist(o);
  return pct_dir.string();
}

}  // namespace biascka::data
