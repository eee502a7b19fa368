#include "engine/io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "engine/error.h"

namespace biascka {

void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& write) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  if (target.has_parent_path()) {
    std::error_code ec;
    fs::create_directories(target.parent_path(), ec);
    BIASCKA_CHECK(!ec, path, ": cannot create folder ", target.parent_path().string(), " (", ec.message(),
                  ")");
  }
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  try {
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      BIASCKA_CHECK(out.good(), path, ": cannot write (", std::strerror(errno), ")");
      write(out);
      out.flush();
      BIASCKA_CHECK(out.good(), path, ": write failed (", std::strerror(errno), ")");
    }
    // Make the bytes durable before the rename makes them visible.
    const int fd = ::open(tmp.c_str(), O_RDONLY);
    if (fd >= 0) {
      ::fsync(fd);
      ::close(fd);
    }
    BIASCKA_CHECK(std::rename(tmp.c_str(), path.c_str()) == 0, path, ": cannot rename into place (",
                  std::strerror(errno), ")");
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
}

void write_text_atomic(const std::string& path, const std::string& text) {
  write_file_atomic(path, [&](std::ostream& out) { out << text; });
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  BIASCKA_CHECK(in.good(), path, ": cannot read (", std::strerror(errno), ")");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace biascka
