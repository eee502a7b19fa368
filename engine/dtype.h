#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace biascka {

// Element types the engine stores. Compute is float32; labels are int64; float64 appears in I/O and in
// the CKA accumulators; uint8 holds decoded images.
enum class DType : uint8_t { F32, F64, I64, I32, U8 };

constexpr size_t dtype_size(DType t) {
  switch (t) {
    case DType::F32:
      return 4;
    case DType::F64:
      return 8;
    case DType::I64:
      return 8;
    case DType::I32:
      return 4;
    case DType::U8:
      return 1;
  }
  return 0;
}

const char* dtype_name(DType t);  // "F32", ... as safetensors spells them

template <class T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() {
  return DType::F32;
}
template <>
constexpr DType dtype_of<double>() {
  return DType::F64;
}
template <>
constexpr DType dtype_of<int64_t>() {
  return DType::I64;
}
template <>
constexpr DType dtype_of<int32_t>() {
  return DType::I32;
}
template <>
constexpr DType dtype_of<uint8_t>() {
  return DType::U8;
}

}  // namespace biascka
