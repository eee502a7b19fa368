#include "data/default_dataset.h"

#include <cstdlib>
#include <filesystem>
#include <system_error>

#include "data/cmnist.h"
#include "data/idx.h"
#include "engine/error.h"
#include "engine/io/file_lock.h"

namespace biascka::data {
namespace fs = std::filesystem;

std::string default_cache_dir() {
  if (const char* c = std::getenv("BIASCKA_CACHE"); c && *c) return c;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return (fs::path(x) / "biascka").string();
  const char* home = std::getenv("HOME");
  BIASCKA_CHECK(home && *home, "no cache folder: set BIASCKA_CACHE (neither XDG_CACHE_HOME nor HOME is set)");
  return (fs::path(home) / ".cache" / "biascka").string();
}

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
