#include "engine/checked_size.h"

#include <cstddef>
#include <limits>
#include <sstream>
#include <string>

#include "engine/error.h"

namespace biascka {
namespace {

constexpr uint64_t kInt64Max = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());

std::string shape_text(std::span<const int64_t> shape) {
  std::ostringstream os;
  os << '[';
  for (size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  os << ']';
  return os.str();
}

}  // namespace

uint64_t checked_mul(uint64_t a, uint64_t b, std::string_view what) {
  uint64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r)) fail(what, ": size ", a, " x ", b, " overflows 64 bits");
  return r;
}

uint64_t checked_add(uint64_t a, uint64_t b, std::string_view what) {
  uint64_t r = 0;
  if (__builtin_add_overflow(a, b, &r)) fail(what, ": size ", a, " + ", b, " overflows 64 bits");
  return r;
}

int64_t checked_nbytes(std::span<const int64_t> shape, uint64_t element_size, std::string_view what) {
  uint64_t n = element_size;
  for (const int64_t d : shape) {
    if (d < 0) fail(what, ": negative dimension ", d, " in shape ", shape_text(shape));
    if (__builtin_mul_overflow(n, static_cast<uint64_t>(d), &n) || n > kInt64Max)
      fail(what, ": shape ", shape_text(shape), " is too large (its size overflows 64 bits)");
  }
  // Every partial product is checked, so [2^62, 4, 0] is rejected though it holds no element: its strides
  // would overflow all the same.
  return static_cast<int64_t>(n);
}

int64_t checked_numel(std::span<const int64_t> shape, std::string_view what) {
  return checked_nbytes(shape, 1, what);
}

}  // namespace biascka
