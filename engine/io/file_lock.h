#pragma once
// An exclusive advisory lock on a file (flock), held for the object's lifetime and released by the kernel
// if the process dies: how processes that build or download into one shared folder (the default dataset's
// cache, a dataset download folder) wait for each other instead of writing the same files twice.
#include <string>

namespace biascka {

class FileLock {
 public:
  // Creates `path` if missing and blocks until the lock is ours. Throws naming the file.
  explicit FileLock(const std::string& path);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace biascka
