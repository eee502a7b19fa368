#include "cka/output_format.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <utility>

namespace biascka::cka {

nlohmann::json json_number(double v) { return std::isnan(v) ? nlohmann::json(nullptr) : nlohmann::json(v); }

nlohmann::json json_matrix(const Tensor& m) {
  const Tensor f = m.to_dtype(DType::F64);
  const int64_t rows = f.size(0), cols = f.size(1);
  nlohmann::json out = nlohmann::json::array();
  for (int64_t i = 0; i < rows; ++i) {
    nlohmann::json row = nlohmann::json::array();
    for (int64_t k = 0; k < cols; ++k) row.push_back(json_number(f.data<double>()[i * cols + k]));
    out.push_back(std::move(row));
  }
  return out;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

std::string format_number(double v) {
  if (std::isnan(v)) return "nan";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

}  // namespace biascka::cka
