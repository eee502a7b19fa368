#pragma once
// safetensors (https://github.com/huggingface/safetensors): 8-byte little-endian header length, a JSON
// header {name: {dtype, shape, data_offsets}, "__metadata__": {string: string}}, then the raw bytes.
// Read: F32, F64, I64, I32, U8, and F16/BF16 (converted to F32). Every inconsistency (truncation, oversized
// header, offsets out of range or overlapping, unknown dtype, size not matching the shape) is an error
// naming the file and the tensor.
#include <cstdint>
#include <fstream>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/tensor.h"

namespace biascka {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;
using Metadata = std::map<std::string, std::string>;

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;  // as stored (F16/BF16 are loaded as F32)
  std::string stored_dtype;  // the file's spelling
  Shape shape;
  uint64_t begin = 0, end = 0;  // byte offsets in the data section
};

// Indexes a file once and loads tensors, or row ranges of them, on demand (activation files can be large).
class SafetensorsReader {
 public:
  explicit SafetensorsReader(const std::string& path);
  const std::string& path() const { return path_; }
  const std::vector<TensorInfo>& tensors() const { return infos_; }  // in file order (by offset)
  const Metadata& metadata() const { return metadata_; }
  bool contains(const std::string& name) const;
  const TensorInfo& info(const std::string& name) const;  // throws naming the file and tensor
  Tensor load(const std::string& name) const;             // on the CPU
  // Rows [row0, row1) of the first axis.
  Tensor load_rows(const std::string& name, int64_t row0, int64_t row1) const;

 private:
  std::string path_;
  std::vector<TensorInfo> infos_;
  Metadata metadata_;
  uint64_t data_start_ = 0;
  mutable std::ifstream file_;
};

// All tensors of a file, in file order, and its metadata.
struct TensorFile {
  std::string path;
  NamedTensors tensors;
  Metadata metadata;
  const Tensor& at(const std::string& name) const;  // throws "PATH: no tensor 'name'"
  bool contains(const std::string& name) const;
};
TensorFile read_safetensors(const std::string& path);

// Writes atomically (temporary name, then rename). Tensors on any device; names must be unique.
void write_safetensors(const std::string& path, const NamedTensors& tensors, const Metadata& metadata = {});

}  // namespace biascka
