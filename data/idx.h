#pragma once
// IDX files (the MNIST / Fashion-MNIST format): a big-endian header (two zero bytes, a type byte, the
// number of dimensions, then one uint32 per dimension) and the raw array. Only unsigned-byte arrays
// (type 0x08) are read: images (magic 0x00000803) and labels (0x00000801). Plain or gzipped.
#include <cstdint>
#include <string>
#include <vector>

namespace biascka::data {

struct IdxArray {
  std::string path;
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;
};

// Reads a uint8 IDX file with `expected_ndim` dimensions (0 = any). Throws naming the file on a wrong
// magic number, a truncated body, a gzip error or an unreadable file.
IdxArray read_idx(const std::string& path, int expected_ndim = 0);
// Writes one (gzipped when the name ends in .gz); used to make small test sets.
void write_idx(const std::string& path, const std::vector<int64_t>& dims, const std::vector<uint8_t>& data);

// One half of a digit-style dataset: images [count, rows, cols] and their labels.
struct IdxSet {
  int64_t count = 0, rows = 0, cols = 0;
  std::vector<uint8_t> images;  // count * rows * cols
  std::vector<uint8_t> labels;  // count
  std::string images_path, labels_path;
};

// Finds `{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]` (or the dotted `train-images.idx3-ubyte`
// variant) in dir; throws listing the names it looked for.
std::string find_idx_file(const std::string& dir, const std::string& prefix, const std::string& kind);
// Reads the train (`train = true`) or test (t10k) images and labels of the folder and checks that the
// counts agree.
IdxSet read_idx_set(const std::string& dir, bool train);

}  // namespace biascka::data
