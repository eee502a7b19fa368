#include "engine/ops/elementwise.h"

#include <cstdint>
#include <cstring>
#include <vector>

#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/ops/checks.h"

namespace biascka {

namespace {
Tensor relu_backward(const Tensor& gy, const Tensor& y) {
  Tensor gx = Tensor::empty(gy.shape(), DType::F32, gy.device());
  backend(gy.device()).relu_backward(gx.data<float>(), gy.data<float>(), y.data<float>(), gy.numel());
  return gx;
}
}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  check_f32(a, "add", "a");
  check_f32(b, "add", "b");
  check_same_device(a, b, "add");
  BIASCKA_CHECK(a.shape() == b.shape(), "add: shapes ", shape_str(a.shape()), " and ", shape_str(b.shape()));
  Tensor out = Tensor::empty(a.shape(), DType::F32, a.device());
  backend(a.device()).add(out.data<float>(), a.data<float>(), b.data<float>(), a.numel());
  return record("add", out, {a, b}, [](const Tensor& g, const Node&) { return std::vector<Tensor>{g, g}; });
}

Tensor relu(const Tensor& x) {
  check_f32(x, "relu", "x");
  Tensor y = Tensor::empty(x.shape(), DType::F32, x.device());
  backend(x.device()).relu_forward(y.data<float>(), x.data<float>(), x.numel());
  Tensor saved = y.detach();
  return record("relu", y, {x}, [saved](const Tensor& g, const Node&) {
    return std::vector<Tensor>{relu_backward(g, saved)};
  });
}

Tensor scale(const Tensor& x, float alpha) {
  check_f32(x, "scale", "x");
  Tensor out = Tensor::empty(x.shape(), DType::F32, x.device());
  backend(x.device()).scale(out.data<float>(), x.data<float>(), x.numel(), alpha);
  return record("scale", out, {x},
                [alpha](const Tensor& g, const Node&) { return std::vector<Tensor>{scale(g, alpha)}; });
}

void add_(Tensor& y, const Tensor& x, float alpha) {
  check_f32(y, "add_", "y");
  check_f32(x, "add_", "x");
  check_same_device(x, y, "add_");
  BIASCKA_CHECK(x.numel() == y.numel(), "add_: ", shape_str(x.shape()), " into ", shape_str(y.shape()));
  backend(y.device()).axpy(y.data<float>(), x.data<float>(), y.numel(), alpha);
}

void increment_(Tensor& counter, int64_t by) {
  BIASCKA_CHECK(counter.dtype() == DType::I64 && counter.numel() == 1,
                "increment_: the counter must be one I64");
  backend(counter.device()).increment_i64(counter.data<int64_t>(), by);
}

void fill_(Tensor& t, double value) {
  const int64_t n = t.numel();
  uint64_t bits = 0;
  switch (t.dtype()) {
    case DType::F32: {
      float v = static_cast<float>(value);
      std::memcpy(&bits, &v, 4);
      break;
    }
    case DType::F64: {
      std::memcpy(&bits, &value, 8);
      break;
    }
    case DType::I64: {
      int64_t v = static_cast<int64_t>(value);
      std::memcpy(&bits, &v, 8);
      break;
    }
    case DType::I32: {
      int32_t v = static_cast<int32_t>(value);
      std::memcpy(&bits, &v, 4);
      break;
    }
    case DType::U8: {
      bits = static_cast<uint8_t>(value);
      break;
    }
  }
  backend(t.device()).fill(t.raw_data(), n, static_cast<int>(dtype_size(t.dtype())), bits);
}

}  // namespace biascka
