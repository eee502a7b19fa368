#pragma once
// How CKA numbers are written in our JSON and CSV files, for every writer of them (cka.json, compare.json):
// NaN (undefined) is JSON null and CSV "nan"; CSV numbers carry 17 significant digits (float64 round-trips).
#include <nlohmann/json.hpp>
#include <string>

#include "engine/tensor.h"

namespace biascka::cka {

nlohmann::json json_number(double v);
// A [rows, cols] matrix (any float dtype) as rows of numbers, NaN as null.
nlohmann::json json_matrix(const Tensor& m);
// A CSV field, quoted when it holds a comma, a quote or a newline.
std::string csv_field(const std::string& s);
std::string format_number(double v);

}  // namespace biascka::cka
