#include "engine/parse.h"

#include <charconv>
#include <cstddef>
#include <limits>
#include <string>
#include <system_error>

#include "engine/error.h"

namespace biascka {
namespace {

// The text as it goes into a message: at most 40 characters of it (a hostile header can be megabytes).
std::string quoted(std::string_view text) {
  constexpr size_t kShown = 40;
  return "'" + std::string(text.substr(0, kShown)) + (text.size() > kShown ? "...'" : "'");
}

template <class T>
T parse_integer(std::string_view text, std::string_view what) {
  T value{};
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec == std::errc::result_out_of_range)
    fail(what, ": ", quoted(text), " is out of range (", std::numeric_limits<T>::min(), " to ",
         std::numeric_limits<T>::max(), ")");
  if (ec != std::errc() || ptr != end || text.empty()) fail(what, ": ", quoted(text), " is not an integer");
  return value;
}

}  // namespace

int64_t parse_int64(std::string_view text, std::string_view what) {
  return parse_integer<int64_t>(text, what);
}

uint64_t parse_uint64(std::string_view text, std::string_view what) {
  // from_chars reads "-1" as an error for unsigned types: say so plainly.
  if (!text.empty() && text[0] == '-' && text.size() > 1 && text[1] >= '0' && text[1] <= '9')
    fail(what, ": ", quoted(text), " is negative (expected an integer of 0 or more)");
  return parse_integer<uint64_t>(text, what);
}

int parse_int(std::string_view text, std::string_view what) { return parse_integer<int>(text, what); }

std::optional<int64_t> try_parse_int64(std::string_view text) {
  int64_t value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || text.empty()) return std::nullopt;
  return value;
}

}  // namespace biascka
