#pragma once
// One exception type for the whole library. The message carries the context a user needs to act:
// the file, tensor or layer name, and what was expected. `main` prints it as `biascka: error: <msg>`.
#include <sstream>
#include <stdexcept>
#include <string>

namespace biascka {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

namespace detail {
template <class... Args>
std::string concat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
}  // namespace detail

template <class... Args>
[[noreturn]] void fail(const Args&... args) {
  throw Error(detail::concat(args...));
}

}  // namespace biascka

// BIASCKA_CHECK(cond, "message parts", ...): throws biascka::Error when cond is false.
#define BIASCKA_CHECK(cond, ...)               \
  do {                                         \
    if (!(cond)) ::biascka::fail(__VA_ARGS__); \
  } while (0)
