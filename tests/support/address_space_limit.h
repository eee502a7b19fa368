#pragma once
// Caps the test process's address space for one scope (setrlimit RLIMIT_AS: the current size plus
// `headroom`), so a reader that allocates what a hostile header claims fails with std::bad_alloc at once
// instead of touching gigabytes of a shared machine. Tests of "checked before allocating" run under it.
#include <sys/resource.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>

namespace biascka::test {

class AddressSpaceLimit {
 public:
  explicit AddressSpaceLimit(uint64_t headroom) {
    getrlimit(RLIMIT_AS, &saved_);
    uint64_t pages = 0;
    std::ifstream("/proc/self/statm") >> pages;  // first field: the virtual size in pages
    rlimit capped = saved_;
    capped.rlim_cur = pages * static_cast<uint64_t>(sysconf(_SC_PAGESIZE)) + headroom;
    if (saved_.rlim_max != RLIM_INFINITY && capped.rlim_cur > saved_.rlim_max)
      capped.rlim_cur = saved_.rlim_max;
    setrlimit(RLIMIT_AS, &capped);
  }
  ~AddressSpaceLimit() { setrlimit(RLIMIT_AS, &saved_); }
  AddressSpaceLimit(const AddressSpaceLimit&) = delete;
  AddressSpaceLimit& operator=(const AddressSpaceLimit&) = delete;

 private:
  rlimit saved_{};
};

}  // namespace biascka::test
