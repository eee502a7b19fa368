#include "workflows/run_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "engine/error.h"

namespace biascka::workflows {

namespace fs = std::filesystem;

namespace {

// What the holder wrote into the lock file ("PID PURPOSE"), or a placeholder while it has not yet.
std::string holder_of(int fd) {
  char buf[256];
  const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return "PID unknown";
  std::string s(buf, static_cast<size_t>(n));
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  const size_t space = s.find(' ');
  return space == std::string::npos ? "PID " + s : "PID " + s.substr(0, space) + ", " + s.substr(space + 1);
}

// The PID in a write_file_atomic temporary's name (`NAME.tmp-PID`), or 0.
pid_t temporary_pid(const std::string& name) {
  const size_t at = name.rfind(".tmp-");
  if (at == std::string::npos || at == 0) return 0;
  const std::string digits = name.substr(at + 5);
  if (digits.empty() || digits.size() > 9) return 0;
  pid_t pid = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return 0;
    pid = pid * 10 + (c - '0');
  }
  return pid;
}

bool process_alive(pid_t pid) { return ::kill(pid, 0) == 0 || errno == EPERM; }

}  // namespace

RunLock::RunLock(const std::string& folder, const std::string& purpose, Wait wait, const std::string& name)
    : folder_(folder) {
  std::error_code ec;
  fs::create_directories(folder, ec);
  BIASCKA_CHECK(!ec, folder, ": cannot create the folder (", ec.message(), ")");
  const std::string path = (fs::path(folder) / name).string();
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  BIASCKA_CHECK(fd_ >= 0, path, ": cannot open the lock file (", std::strerror(errno), ")");
  int rc;
  do {
    rc = ::flock(fd_, LOCK_EX | (wait == Wait::No ? LOCK_NB : 0));
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    const int err = errno;
    const std::string holder = err == EWOULDBLOCK ? holder_of(fd_) : "";
    ::close(fd_);
    fd_ = -1;
    if (err == EWOULDBLOCK)
      fail(folder, ": in use by another biascka process (", holder,
           "); wait for it to finish or stop it, or choose another folder");
    fail(path, ": cannot lock (", std::strerror(err), ")");
  }
  const std::string text = std::to_string(::getpid()) + " " + purpose + "\n";
  const bool written = ::ftruncate(fd_, 0) == 0 && ::pwrite(fd_, text.data(), text.size(), 0) > 0;
  (void)written;  // best effort: the PID only makes a second writer's message more useful
}

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the only descriptor releases the lock
}

int64_t remove_stale_temporaries(const std::string& folder, bool recursive) {
  int64_t removed = 0;
  std::error_code ec;
  auto visit = [&](const fs::directory_entry& e) {
    if (!e.is_regular_file(ec)) return;
    const pid_t pid = temporary_pid(e.path().filename().string());
    if (pid <= 0 || pid == ::getpid() || process_alive(pid)) return;
    if (fs::remove(e.path(), ec)) ++removed;
  };
  if (!fs::is_directory(folder, ec)) return 0;
  if (recursive) {
    for (auto it = fs::recursive_directory_iterator(folder, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
      visit(*it);
  } else {
    for (auto it = fs::directory_iterator(folder, ec); !ec && it != fs::directory_iterator();
         it.increment(ec))
      visit(*it);
  }
  return removed;
}

}  // namespace biascka::workflows
