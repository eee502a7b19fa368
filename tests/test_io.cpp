// safetensors and .npy: round trips of every dtype with metadata, and hostile files (truncated, oversized
// header, offsets out of range, overlapping, wrong dtype, bad JSON, bad magic) giving one-line errors that
// name the file and the tensor, never a crash.
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/io/npy.h"
#include "engine/io/safetensors.h"
#include "engine/random.h"
#include "tests/support/test_support.h"

namespace biascka {
namespace {

std::string raw_safetensors(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  const uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(n >> (8 * i));
  return out + header + data;
}

// A version 1.0 .npy file with this header dict, padded as numpy pads it, and these data bytes.
std::string npy_bytes(const std::string& dict, const std::string& data) {
  std::string h = dict;
  while ((10 + h.size() + 1) % 64) h += ' ';
  h += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(h.size() & 0xff);
  out += static_cast<char>(h.size() >> 8);
  return out + h + data;
}

void write_raw(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

// EXPECT that f throws biascka::Error whose one-line message contains every fragment.
template <class F>
void expect_error(F&& f, std::vector<std::string> fragments) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one mentioning " << fragments.front();
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    for (const auto& f : fragments)
      EXPECT_NE(msg.find(f), std::string::npos) << "'" << f << "' not in: " << msg;
  }
}

TEST(Safetensors, RoundTripEveryDtypeAndMetadata) {
  const std::string dir = test::temp_dir("io_roundtrip");
  const std::string path = dir + "/t.safetensors";
  NamedTensors in = {{"w", rand_normal({3, 4}, 0, 1, 1)},
                     {"d", Tensor::from_vector(std::vector<double>{1.5, -2.25}, {2})},
                     {"i", Tensor::from_vector(std::vector<int64_t>{7, -8, 9}, {3})},
                     {"scalar", Tensor::full({}, 42.0, DType::I64)},
                     {"empty", Tensor::zeros({0, 5})}};
  write_safetensors(path, in, {{"layers", "[\"a\",\"b\"]"}, {"note", "x"}});
  const TensorFile f = read_safetensors(path);
  EXPECT_EQ(f.metadata.at("layers"), "[\"a\",\"b\"]");
  EXPECT_EQ(f.metadata.at("note"), "x");
  for (const auto& [name, t] : in) {
    const Tensor& got = f.at(name);
    EXPECT_EQ(got.shape(), t.shape()) << name;
    EXPECT_EQ(got.dtype(), t.dtype()) << name;
    EXPECT_EQ(std::memcmp(got.raw_data(), t.raw_data(), t.nbytes()), 0) << name;
  }
  SafetensorsReader r(path);
  EXPECT_TRUE(test::all_close(
      r.load_rows("w", 1, 3),
      Tensor::from_vector(std::vector<float>(in[0].second.data<float>() + 4, in[0].second.data<float>() + 12),
                          {2, 4}),
      0, 0));
  expect_error([&] { f.at("missing"); }, {path, "missing"});
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp-" + std::to_string(::getpid())));
}

TEST(Safetensors, ReadsF16AndBf16AsF32) {
  const std::string path = test::temp_dir("io_half") + "/h.safetensors";
  // 1.0 in f16 = 0x3C00, -2.0 = 0xC000; 1.0 in bf16 = 0x3F80, 0.5 = 0x3F00
  const std::string data("\x00\x3C\x00\xC0\x80\x3F\x00\x3F", 8);
  write_raw(path, raw_safetensors(R"({"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},)"
                                  R"("b":{"dtype":"BF16","shape":[2],"data_offsets":[4,8]}})",
                                  data));
  const TensorFile f = read_safetensors(path);
  EXPECT_EQ(f.at("h").to_vector(), (std::vector<float>{1.f, -2.f}));
  EXPECT_EQ(f.at("b").to_vector(), (std::vector<float>{1.f, 0.5f}));
}

TEST(Safetensors, HostileFilesGiveOneLineErrors) {
  const std::string dir = test::temp_dir("io_hostile");
  const std::string ok_header = R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}})";
  const std::string data(16, '\0');
  struct Case {
    const char* name;
    std::string bytes;
    std::vector<std::string> fragments;
  };
  std::string huge(8, '\0');
  huge[7] = 0x7f;  // header length ~2^62
  const std::vector<Case> cases = {
      {"short", std::string("\x01\x02", 2), {"not a safetensors file"}},
      {"huge_header", huge + "{}", {"larger than"}},
      {"truncated_header", raw_safetensors(ok_header, data).substr(0, 20), {"truncated"}},
      {"truncated_data",
       raw_safetensors(ok_header, data).substr(0, 8 + ok_header.size() + 10),
       {"'w'", "out of range"}},
      {"bad_json", raw_safetensors("{not json", ""), {"not valid JSON"}},
      {"wrong_dtype",
       raw_safetensors(R"({"w":{"dtype":"C64","shape":[2],"data_offsets":[0,16]}})", data),
       {"'w'", "unsupported dtype C64"}},
      {"size_mismatch",
       raw_safetensors(R"({"w":{"dtype":"F32","shape":[3,2],"data_offsets":[0,16]}})", data),
       {"'w'", "16 bytes for shape [3, 2]"}},
      {"offset_order",
       raw_safetensors(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}})", data),
       {"'w'", "out of range"}},
      {"negative_dim",
       raw_safetensors(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", data),
       {"'w'", "negative"}},
      {"overlap",
       raw_safetensors(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},)"
                       R"("b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
                       data),
       {"overlap"}},
      {"missing_field",
       raw_safetensors(R"({"w":{"dtype":"F32","shape":[4]}})", data),
       {"'w'", "data_offsets"}},
  };
  for (const auto& c : cases) {
    const std::string path = dir + "/" + c.name + ".safetensors";
    write_raw(path, c.bytes);
    auto fragments = c.fragments;
    fragments.push_back(path);
    expect_error([&] { read_safetensors(path); }, fragments);
  }
  expect_error([&] { read_safetensors(dir + "/absent.safetensors"); },
               {"absent.safetensors", "no such file"});
}

TEST(Npy, RoundTripAndHostileFiles) {
  const std::string dir = test::temp_dir("io_npy");
  const Tensor f = rand_normal({2, 3, 4}, 0, 1, 3);
  write_npy(dir + "/f.npy", f);
  EXPECT_TRUE(test::all_close(read_npy(dir + "/f.npy"), f, 0, 0));
  const Tensor i = Tensor::from_vector(std::vector<int64_t>{1, 2, 3}, {3});
  write_npy(dir + "/i.npy", i);
  EXPECT_EQ(read_npy(dir + "/i.npy").to_vector(), i.to_vector());
  const Tensor s = Tensor::full({}, 2.5, DType::F64);
  write_npy(dir + "/s.npy", s);
  EXPECT_EQ(read_npy(dir + "/s.npy").item(), 2.5);

  const auto npy = npy_bytes;
  const std::string four_floats(16, '\0');
  struct Case {
    const char* name;
    std::string bytes;
    const char* fragment;
  };
  for (const Case& c : {
           Case{"magic", "PK\x03\x04 not numpy", "bad magic"},
           Case{"truncated", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), }", four_floats),
                "truncated"},
           Case{"fortran", npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", four_floats),
                "Fortran"},
           Case{"bigendian", npy("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 2), }", four_floats),
                "unsupported dtype"},
           Case{"complex", npy("{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", four_floats),
                "unsupported dtype"},
       }) {
    const std::string path = dir + "/" + c.name + ".npy";
    write_raw(path, c.bytes);
    expect_error([&] { read_npy(path); }, {path, c.fragment});
  }
}

// Issue 11 reproducers and their class: sizes from the header are checked before they are trusted. A tiny
// file whose shape product overflows int64 (2^62 * 4 float32s wrap to 0 bytes) used to pass the size check
// and crash later in a convolution; negative dimensions were read as their absolute value; a dimension
// beyond int64 ended in a bare std::stoll message naming nothing.
TEST(Npy, HeaderSizesAreCheckedBeforeTheyAreTrusted) {
  const std::string dir = test::temp_dir("io_npy_sizes");
  auto npy = [](const std::string& shape, const std::string& data, const std::string& descr = "<f4") {
    return npy_bytes("{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }", data);
  };
  struct Case {
    const char* name;
    std::string bytes;
    std::vector<std::string> fragments;
  };
  for (const Case& c : {
           Case{"wraps_to_zero", npy("(4611686018427387904, 4)", ""), {"too large"}},
           Case{"wraps_to_16", npy("(4611686018427387905, 4)", std::string(16, '\0')), {"too large"}},
           Case{"product_wraps", npy("(4294967296, 4294967296, 2)", "", "|u1"), {"too large"}},
           Case{"negative", npy("(-2, 2)", std::string(16, '\0')), {"negative dimension -2"}},
           Case{"beyond_int64", npy("(99999999999999999999,)", ""), {"shape", "out of range"}},
           Case{"not_a_number", npy("(2, x)", std::string(8, '\0')), {"shape", "'x' is not an integer"}},
           Case{"no_parentheses", npy("2", std::string(8, '\0')), {"malformed shape"}},
           Case{"version2_header_beyond_file",
                std::string("\x93NUMPY\x02\x00\xff\xff\xff\x7f{}", 14),
                {"truncated .npy header"}},
       }) {
    const std::string path = dir + "/" + c.name + ".npy";
    write_raw(path, c.bytes);
    auto fragments = c.fragments;
    fragments.push_back(path);
    expect_error([&] { read_npy(path); }, fragments);
  }
  // Still read: an empty array, a one-element tuple with its trailing comma, numpy-on-Python-2's 3L.
  write_raw(dir + "/empty.npy", npy("(0, 5)", ""));
  EXPECT_EQ(read_npy(dir + "/empty.npy").shape(), (Shape{0, 5}));
  write_raw(dir + "/long.npy", npy("(3L, 1L)", std::string(12, '\0')));
  EXPECT_EQ(read_npy(dir + "/long.npy").shape(), (Shape{3, 1}));
}

}  // namespace
}  // namespace biascka
