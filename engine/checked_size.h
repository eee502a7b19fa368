#pragma once
// Sizes computed from untrusted headers (a file's shape, dimensions, image width and height). Every product
// and sum is checked for overflow before it is used, so a header cannot make a size wrap around to a small
// number that then passes the readers' comparison with the file's real size. Failures throw biascka::Error,
// one line that starts with `what` (the file, or the file and the tensor):
//   "<what>: negative dimension -3 in shape [2, -3]"
//   "<what>: shape [4611686018427387904, 4] is too large (its size overflows 64 bits)"
// Readers compare the result with the bytes the file actually holds before allocating anything.
#include <cstdint>
#include <span>
#include <string_view>

namespace biascka {

uint64_t checked_mul(uint64_t a, uint64_t b, std::string_view what);
uint64_t checked_add(uint64_t a, uint64_t b, std::string_view what);

// The element count of a shape read from a file: every dimension >= 0, the product fits int64.
int64_t checked_numel(std::span<const int64_t> shape, std::string_view what);
// Its size in bytes: checked_numel(shape) * element_size, which must fit int64 too.
int64_t checked_nbytes(std::span<const int64_t> shape, uint64_t element_size, std::string_view what);

}  // namespace biascka
