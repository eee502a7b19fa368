#include "engine/io/safetensors.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <exception>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <system_error>

#include "engine/checked_size.h"
#include "engine/error.h"
#include "engine/io/atomic_file.h"

namespace biascka {

namespace {

constexpr uint64_t kMaxHeader = uint64_t{100} << 20;  // the format's own limit (100 MB)

bool parse_dtype(const std::string& s, DType* t) {
  static const std::map<std::string, DType> m = {
      {"F32", DType::F32}, {"F64", DType::F64}, {"I64", DType::I64}, {"I32", DType::I32},
      {"U8", DType::U8},   {"F16", DType::F32}, {"BF16", DType::F32}};
  auto it = m.find(s);
  if (it == m.end()) return false;
  *t = it->second;
  return true;
}

size_t stored_size(const std::string& s) {
  if (s == "F16" || s == "BF16") return 2;
  DType t;
  parse_dtype(s, &t);
  return dtype_size(t);
}

float half_to_float(uint16_t h) {
  const uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      int e = -1;
      uint32_t m = mant;
      do {
        ++e;
        m <<= 1;
      } while (!(m & 0x400));
      bits = sign | ((127 - 15 - e) << 23) | ((m & 0x3ff) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

}  // namespace

SafetensorsReader::SafetensorsReader(const std::string& path) : path_(path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  BIASCKA_CHECK(fs::is_regular_file(path, ec), path, ": no such file");
  const uint64_t file_size = fs::file_size(path, ec);
  BIASCKA_CHECK(!ec, path, ": cannot read (", ec.message(), ")");
  file_.open(path, std::ios::binary);
  BIASCKA_CHECK(file_.good(), path, ": cannot open");
  BIASCKA_CHECK(file_size >= 8, path, ": not a safetensors file (", file_size,
                " bytes, shorter than its header)");
  unsigned char lenb[8];
  file_.read(reinterpret_cast<char*>(lenb), 8);
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | lenb[i];
  BIASCKA_CHECK(header_len <= kMaxHeader, path, ": safetensors header of ", header_len,
                " bytes is larger than the 100 MB the format allows (corrupt or not a safetensors file)");
  BIASCKA_CHECK(header_len <= file_size - 8, path, ": truncated (header says ", header_len,
                " bytes, file has ", file_size - 8, " after the length)");
  std::string header(header_len, '\0');
  file_.read(header.data(), static_cast<std::streamsize>(header_len));
  BIASCKA_CHECK(file_.good(), path, ": cannot read the header");
  data_start_ = 8 + header_len;
  const uint64_t data_size = file_size - data_start_;

  nlohmann::json j;
  try {
    j = nlohmann::json::parse(header);
  } catch (const std::exception& e) {
    fail(path, ": safetensors header is not valid JSON (", e.what(), ")");
  }
  BIASCKA_CHECK(j.is_object(), path, ": safetensors header is not a JSON object");
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& name = it.key();
    const auto& v = it.value();
    if (name == "__metadata__") {
      BIASCKA_CHECK(v.is_object(), path, ": __metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        BIASCKA_CHECK(m.value().is_string(), path, ": metadata '", m.key(), "' is not a string");
        metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string where = path + ": tensor '" + name + "'";
    BIASCKA_CHECK(v.is_object() && v.contains("dtype") && v.contains("shape") && v.contains("data_offsets"),
                  where, ": entry needs dtype, shape and data_offsets");
    TensorInfo info;
    info.name = name;
    BIASCKA_CHECK(v["dtype"].is_string(), where, ": dtype is not a string");
    info.stored_dtype = v["dtype"].get<std::string>();
    BIASCKA_CHECK(parse_dtype(info.stored_dtype, &info.dtype), where, ": unsupported dtype ",
                  info.stored_dtype, " (F32, F64, I64, I32, U8, F16, BF16 are read)");
    BIASCKA_CHECK(v["shape"].is_array(), where, ": shape is not a list");
    for (const auto& d : v["shape"]) {
      BIASCKA_CHECK(d.is_number_integer() && (d.is_number_unsigned() || d.get<int64_t>() >= 0), where,
                    ": shape has a non-integer or negative entry");
      BIASCKA_CHECK(d.get<uint64_t>() <= uint64_t{INT64_MAX}, where, ": shape entry ", d.get<uint64_t>(),
                    " is beyond int64");
      info.shape.push_back(d.get<int64_t>());
    }
    const uint64_t nbytes =
        static_cast<uint64_t>(checked_nbytes(info.shape, stored_size(info.stored_dtype), where));
    const auto& off = v["data_offsets"];
    BIASCKA_CHECK(
        off.is_array() && off.size() == 2 && off[0].is_number_unsigned() && off[1].is_number_unsigned(),
        where, ": data_offsets must be two non-negative integers");
    info.begin = off[0].get<uint64_t>();
    info.end = off[1].get<uint64_t>();
    BIASCKA_CHECK(info.begin <= info.end && info.end <= data_size, where, ": data_offsets [", info.begin,
                  ", ", info.end, "] out of range (the data section has ", data_size,
                  " bytes; truncated file?)");
    BIASCKA_CHECK(info.end - info.begin == nbytes, where, ": ", info.end - info.begin, " bytes for shape ",
                  shape_str(info.shape), " of ", info.stored_dtype, " (", nbytes, " expected)");
    infos_.push_back(std::move(info));
  }
  std::sort(infos_.begin(), infos_.end(),
            [](const TensorInfo& a, const TensorInfo& b) { return a.begin < b.begin; });
  for (size_t i = 1; i < infos_.size(); ++i) {
    BIASCKA_CHECK(infos_[i].begin >= infos_[i - 1].end || infos_[i].begin == infos_[i].end, path,
                  ": tensors '", infos_[i - 1].name, "' and '", infos_[i].name, "' overlap");
  }
}

bool SafetensorsReader::contains(const std::string& name) const {
  return std::any_of(infos_.begin(), infos_.end(), [&](const TensorInfo& t) { return t.name == name; });
}

const TensorInfo& SafetensorsReader::info(const std::string& name) const {
  for (const auto& t : infos_)
    if (t.name == name) return t;
  fail(path_, ": no tensor '", name, "'");
}

Tensor SafetensorsReader::load(const std::string& name) const {
  const TensorInfo& t = info(name);
  return load_rows(name, 0, t.shape.empty() ? 1 : t.shape[0]);
}

Tensor SafetensorsReader::load_rows(const std::string& name, int64_t row0, int64_t row1) const {
  const TensorInfo& t = info(name);
  const int64_t rows = t.shape.empty() ? 1 : t.shape[0];
  BIASCKA_CHECK(row0 >= 0 && row0 <= row1 && row1 <= rows, path_, ": tensor '", name, "': rows [", row0, ", ",
                row1, ") out of range (", rows, " rows)");
  Shape shape = t.shape;
  if (!shape.empty()) shape[0] = row1 - row0;
  const uint64_t row_elems = rows ? shape_numel(t.shape) / rows : 0;
  const size_t es = stored_size(t.stored_dtype);
  const uint64_t nbytes = (row1 - row0) * row_elems * es;
  std::vector<char> raw(nbytes);
  file_.clear();
  file_.seekg(static_cast<std::streamoff>(data_start_ + t.begin + row0 * row_elems * es));
  file_.read(raw.data(), static_cast<std::streamsize>(nbytes));
  BIASCKA_CHECK(file_.good() || nbytes == 0, path_, ": tensor '", name,
                "': cannot read its bytes (truncated file?)");
  Tensor out = Tensor::empty(shape, t.dtype);
  if (t.stored_dtype == "F16" || t.stored_dtype == "BF16") {
    float* o = out.data<float>();
    for (uint64_t i = 0; i < nbytes / 2; ++i) {
      uint16_t h;
      std::memcpy(&h, raw.data() + 2 * i, 2);
      if (t.stored_dtype == "F16") {
        o[i] = half_to_float(h);
      } else {
        const uint32_t bits = uint32_t{h} << 16;
        std::memcpy(&o[i], &bits, 4);
      }
    }
  } else {
    if (nbytes) std::memcpy(out.raw_data(), raw.data(), nbytes);  // an empty tensor has no buffers
  }
  return out;
}

const Tensor& TensorFile::at(const std::string& name) const {
  for (const auto& [n, t] : tensors)
    if (n == name) return t;
  fail(path, ": no tensor '", name, "'");
}

bool TensorFile::contains(const std::string& name) const {
  return std::any_of(tensors.begin(), tensors.end(), [&](const auto& p) { return p.first == name; });
}

TensorFile read_safetensors(const std::string& path) {
  SafetensorsReader r(path);
  TensorFile f;
  f.path = path;
  f.metadata = r.metadata();
  for (const auto& info : r.tensors()) f.tensors.emplace_back(info.name, r.load(info.name));
  return f;
}

void write_safetensors(const std::string& path, const NamedTensors& tensors, const Metadata& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    nlohmann::ordered_json m = nlohmann::ordered_json::object();
    for (const auto& [k, v] : metadata) m[k] = v;
    header["__metadata__"] = m;
  }
  std::set<std::string> names;
  uint64_t offset = 0;
  std::vector<Tensor> host;
  for (const auto& [name, t] : tensors) {
    BIASCKA_CHECK(names.insert(name).second, path, ": tensor name '", name, "' given twice");
    BIASCKA_CHECK(t.defined(), path, ": tensor '", name, "' is undefined");
    host.push_back(t.to(Device::cpu()));
    const uint64_t n = host.back().nbytes();
    header[name] = {
        {"dtype", dtype_name(t.dtype())}, {"shape", t.shape()}, {"data_offsets", {offset, offset + n}}};
    offset += n;
  }
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');  // align the data section to 8 bytes, as the reference writer does
  write_file_atomic(path, [&](std::ostream& out) {
    const uint64_t len = h.size();
    unsigned char lenb[8];
    for (int i = 0; i < 8; ++i) lenb[i] = static_cast<unsigned char>(len >> (8 * i));
    out.write(reinterpret_cast<const char*>(lenb), 8);
    out.write(h.data(), static_cast<std::streamsize>(h.size()));
    for (const Tensor& t : host)
      out.write(static_cast<const char*>(t.raw_data()), static_cast<std::streamsize>(t.nbytes()));
  });
}

}  // namespace biascka
