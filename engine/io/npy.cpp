#include "engine/io/npy.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <sstream>

#include "engine/checked_size.h"
#include "engine/error.h"
#include "engine/io/atomic_file.h"
#include "engine/parse.h"

namespace biascka {

namespace {

// The value of 'key' in the header dict, as written (up to the next top-level comma or brace).
std::string dict_value(const std::string& header, const std::string& key, const std::string& path) {
  const std::string k = "'" + key + "'";
  const size_t at = header.find(k);
  BIASCKA_CHECK(at != std::string::npos, path, ": .npy header has no '", key, "'");
  size_t p = header.find(':', at + k.size());
  BIASCKA_CHECK(p != std::string::npos, path, ": malformed .npy header");
  ++p;
  while (p < header.size() && header[p] == ' ') ++p;
  int depth = 0;
  size_t q = p;
  for (; q < header.size(); ++q) {
    const char c = header[q];
    if (c == '(' || c == '[')
      ++depth;
    else if (c == ')' || c == ']')
      --depth;
    else if ((c == ',' || c == '}') && depth == 0)
      break;
  }
  while (q > p && header[q - 1] == ' ') --q;
  return header.substr(p, q - p);
}

// The shape tuple as numpy writes it: "()", "(3,)", "(2, 3, 4)" (Python 2's numpy wrote "3L"). Every entry
// must be a whole decimal integer; negative ones are rejected by checked_numel, not read as their absolute
// value.
Shape parse_shape(const std::string& text, const std::string& path) {
  BIASCKA_CHECK(text.size() >= 2 && text.front() == '(' && text.back() == ')', path, ": malformed shape ",
                text.substr(0, 40), " (expected a tuple such as (2, 3))");
  Shape shape;
  const std::string inner = text.substr(1, text.size() - 2);
  size_t start = 0;
  while (start <= inner.size()) {
    const size_t comma = std::min(inner.find(',', start), inner.size());
    std::string item = inner.substr(start, comma - start);
    item.erase(0, item.find_first_not_of(' '));
    item.erase(item.find_last_not_of(' ') + 1);
    if (!item.empty() && item.back() == 'L') item.pop_back();
    const bool last = comma == inner.size();
    // "(3,)" and "()" end in an empty item; an empty item anywhere else is malformed.
    if (!(item.empty() && last && (!shape.empty() || inner.find_first_not_of(' ') == std::string::npos)))
      shape.push_back(parse_int64(item, path + ": shape"));
    start = comma + 1;
  }
  return shape;
}

}  // namespace

Tensor read_npy(const std::string& path) { return parse_npy(read_file(path), path); }

Tensor parse_npy(const std::string& bytes, const std::string& path) {
  BIASCKA_CHECK(bytes.size() >= 10 && std::memcmp(bytes.data(), "\x93NUMPY", 6) == 0, path,
                ": not a .npy file (bad magic)");
  const int major = static_cast<unsigned char>(bytes[6]);
  BIASCKA_CHECK(major >= 1 && major <= 3, path, ": unsupported .npy version ", major);
  size_t header_len = 0, header_start = 0;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
    header_start = 10;
  } else {
    BIASCKA_CHECK(bytes.size() >= 12, path, ": truncated .npy header");
    for (int i = 3; i >= 0; --i) header_len = (header_len << 8) | static_cast<unsigned char>(bytes[8 + i]);
    header_start = 12;
  }
  BIASCKA_CHECK(header_start + header_len <= bytes.size(), path, ": truncated .npy header");
  const std::string header = bytes.substr(header_start, header_len);
  std::string descr = dict_value(header, "descr", path);
  const std::string fortran = dict_value(header, "fortran_order", path);
  const std::string shape_s = dict_value(header, "shape", path);
  BIASCKA_CHECK(fortran != "True", path,
                ": Fortran-order arrays are not supported (save with np.ascontiguousarray)");
  BIASCKA_CHECK(fortran == "False", path, ": malformed .npy header (fortran_order is not True or False)");
  descr.erase(
      std::remove_if(descr.begin(), descr.end(), [](char c) { return c == '\'' || c == '"' || c == ' '; }),
      descr.end());
  DType dt;
  size_t es;
  bool half = false;
  if (descr == "<f4")
    dt = DType::F32, es = 4;
  else if (descr == "<f8")
    dt = DType::F64, es = 8;
  else if (descr == "<i8")
    dt = DType::I64, es = 8;
  else if (descr == "<i4")
    dt = DType::I32, es = 4;
  else if (descr == "|u1" || descr == "<u1")
    dt = DType::U8, es = 1;
  else if (descr == "<f2")
    dt = DType::F32, es = 2, half = true;
  else
    fail(path, ": unsupported dtype '", descr, "' (little-endian f4, f8, i8, i4, u1, f2 are read)");
  const Shape shape = parse_shape(shape_s, path);
  const size_t data = header_start + header_len;
  const uint64_t n = static_cast<uint64_t>(checked_numel(shape, path));
  const uint64_t expected = static_cast<uint64_t>(checked_nbytes(shape, es, path));
  BIASCKA_CHECK(bytes.size() - data == expected, path, ": ", bytes.size() - data, " data bytes for shape ",
                shape_str(shape), " of ", descr, " (", expected, " expected; truncated?)");
  Tensor t = Tensor::empty(shape, dt);
  if (half) {
    // Rare on input; convert through float with the bit layout of IEEE half.
    float* o = t.data<float>();
    for (uint64_t i = 0; i < n; ++i) {
      uint16_t h;
      std::memcpy(&h, bytes.data() + data + 2 * i, 2);
      const uint32_t sign = (h & 0x8000u) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff;
      float v = e == 0    ? std::ldexp(static_cast<float>(m), -24)
                : e == 31 ? (m ? NAN : INFINITY)
                          : std::ldexp(static_cast<float>(m | 0x400), int(e) - 25);
      o[i] = sign ? -v : v;
    }
  } else {
    if (n) std::memcpy(t.raw_data(), bytes.data() + data, n * es);  // an empty tensor has no buffer
  }
  return t;
}

void write_npy(const std::string& path, const Tensor& t) {
  const char* descr = nullptr;
  switch (t.dtype()) {
    case DType::F32:
      descr = "<f4";
      break;
    case DType::F64:
      descr = "<f8";
      break;
    case DType::I64:
      descr = "<i8";
      break;
    case DType::I32:
      descr = "<i4";
      break;
    case DType::U8:
      descr = "|u1";
      break;
  }
  std::ostringstream h;
  h << "{'descr': '" << descr << "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < t.shape().size(); ++i)
    h << t.shape()[i] << (t.shape().size() == 1 ? "," : i + 1 < t.shape().size() ? ", " : "");
  h << "), }";
  std::string header = h.str();
  const size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  const Tensor host = t.to(Device::cpu());
  write_file_atomic(path, [&](std::ostream& out) {
    out.write("\x93NUMPY\x01\x00", 8);
    const uint16_t len = static_cast<uint16_t>(header.size());
    const char lb[2] = {static_cast<char>(len & 0xff), static_cast<char>(len >> 8)};
    out.write(lb, 2);
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    out.write(static_cast<const char*>(host.raw_data()), static_cast<std::streamsize>(host.nbytes()));
  });
}

}  // namespace biascka
