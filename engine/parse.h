#pragma once
// Checked parsing of integers from untrusted text: header fields, file names, options, JSON strings. The
// whole text must be the number (decimal digits, a leading '-' for signed types; no spaces, no '+', nothing
// after it) and it must fit the type. Anything else throws biascka::Error, one line naming the source:
//   "<what>: 'abc' is not an integer"
//   "<what>: '99999999999999999999' is out of range (-9223372036854775808 to 9223372036854775807)"
// `what` says where the text came from: a file and its field ("x.npy: shape"), or an option ("--gpus").
#include <cstdint>
#include <optional>
#include <string_view>

namespace biascka {

int64_t parse_int64(std::string_view text, std::string_view what);
uint64_t parse_uint64(std::string_view text, std::string_view what);
int parse_int(std::string_view text, std::string_view what);

// The value, or nullopt when the text is not an int64 (for callers to whom a non-number is no error).
std::optional<int64_t> try_parse_int64(std::string_view text);

}  // namespace biascka
