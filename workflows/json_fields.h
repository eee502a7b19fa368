#pragma once
// Typed fields of JSON that biascka reads back (settings.json, run_state in a checkpoint, metrics.jsonl):
// untrusted text, so a field must be there and hold its type within the C++ type's range before it is
// converted. nlohmann's own conversions would cast 1e300 to an int64 or a float (undefined behaviour), turn
// 1.5 epochs into 1, and throw its own exception type for a missing key. Failures throw biascka::Error
// "field 'epochs': expected an integer, got 1.5"; callers prefix the file.
#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>
#include <utility>

#include "engine/error.h"

namespace biascka::workflows {

// The value of j[key] as T: std::string, bool, an integer type or a floating type.
template <class T>
T json_field(const nlohmann::json& j, const char* key) {
  BIASCKA_CHECK(j.is_object(), "expected a JSON object with field '", key, "', got ", j.type_name());
  const auto it = j.find(key);
  BIASCKA_CHECK(it != j.end(), "field '", key, "' is missing");
  const nlohmann::json& v = *it;
  auto got = [&] {
    const std::string text = v.dump();
    return text.size() > 40 ? text.substr(0, 40) + "..." : text;
  };
  if constexpr (std::is_same_v<T, std::string>) {
    BIASCKA_CHECK(v.is_string(), "field '", key, "': expected a string, got ", got());
    return v.get<std::string>();
  } else if constexpr (std::is_same_v<T, bool>) {
    BIASCKA_CHECK(v.is_boolean(), "field '", key, "': expected true or false, got ", got());
    return v.get<bool>();
  } else if constexpr (std::is_integral_v<T>) {
    BIASCKA_CHECK(v.is_number_integer(), "field '", key, "': expected an integer, got ", got());
    if (v.is_number_unsigned()) {
      const uint64_t u = v.get<uint64_t>();
      BIASCKA_CHECK(u <= static_cast<uint64_t>(std::numeric_limits<T>::max()), "field '", key, "': ", u,
                    " is out of range");
      return static_cast<T>(u);
    }
    const int64_t s = v.get<int64_t>();
    BIASCKA_CHECK(std::in_range<T>(s), "field '", key, "': ", s, " is out of range");
    return static_cast<T>(s);
  } else {
    static_assert(std::is_floating_point_v<T>);
    BIASCKA_CHECK(v.is_number(), "field '", key, "': expected a number, got ", got());
    const double d = v.get<double>();
    BIASCKA_CHECK(std::isfinite(d) && std::fabs(d) <= std::numeric_limits<T>::max(), "field '", key, "': ", d,
                  " is out of range");
    return static_cast<T>(d);
  }
}

}  // namespace biascka::workflows
