#pragma once
// How kernels/ reports an error without depending on engine/: a KernelError (a std::runtime_error) whose
// message names the kernel and the problem. The CUDA backend (engine/cuda/backend.cpp) rethrows it as the
// library's biascka::Error, so callers above engine/ see one exception type.
#include <sstream>
#include <stdexcept>
#include <string>

namespace biascka::kernels {

class KernelError : public std::runtime_error {
 public:
  explicit KernelError(const std::string& what) : std::runtime_error(what) {}
};

template <class... Args>
[[noreturn]] void kernel_fail(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  throw KernelError(os.str());
}

}  // namespace biascka::kernels

// BIASCKA_KERNEL_CHECK(cond, "message parts", ...): throws kernels::KernelError when cond is false.
#define BIASCKA_KERNEL_CHECK(cond, ...)                        \
  do {                                                         \
    if (!(cond)) ::biascka::kernels::kernel_fail(__VA_ARGS__); \
  } while (0)
