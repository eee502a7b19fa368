#include "engine/ops/elementwise.h"

#include <cstdint>
#include <cstring>
#include <vector>

#include "engine/autograd.h"
#include "engine/ops/dispatch.h"
#include "engine/parallel.h"

namespace biascka {

namespace {
constexpr int64_t kGrain = 1 << 15;

// out[i] = f(a[i], b[i]) on the CPU, in parallel (b may be null: f then sees a[i] twice; out may be a,
// same index only). Plain pointer arguments and a value functor let the loop vectorise; an element-index
// lambda over captured references did not (relu's backward ran at half the memory bandwidth).
template <class F>
void cpu_map(float* out, const float* a, const float* b, int64_t n, F f) {
  const float* bb = b ? b : a;
  parallel_for(n, kGrain, [=](int64_t lo, int64_t hi) {
#pragma omp simd
    for (int64_t i = lo; i < hi; ++i) out[i] = f(a[i], bb[i]);
  });
}

Tensor relu_backward(const Tensor& gy, const Tensor& y) {
  Tensor gx = Tensor::empty(gy.shape(), DType::F32, gy.device());
  const int64_t n = gy.numel();
  float* o = gx.data<float>();
  const float* g = gy.data<float>();
  const float* yy = y.data<float>();
  if (gy.device().is_cuda()) {
    BIASCKA_CUDA_ONLY(kernels::relu_backward(o, g, yy, n, BIASCKA_STREAM(gy)));
  } else {
    cpu_map(o, g, yy, n, [](float gv, float yv) { return yv > 0.f ? gv : 0.f; });
  }
  return gx;
}
}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  check_f32(a, "add", "a");
  check_f32(b, "add", "b");
  check_same_device(a, b, "add");
  BIASCKA_CHECK(a.shape() == b.shape(), "add: shapes ", shape_str(a.shape()), " and ", shape_str(b.shape()));
  Tensor out = Tensor::empty(a.shape(), DType::F32, a.device());
  const int64_t n = a.numel();
  float* o = out.data<float>();
  const float* x = a.data<float>();
  const float* y = b.data<float>();
  if (a.device().is_cuda()) {
    BIASCKA_CUDA_ONLY(kernels::add(o, x, y, n, BIASCKA_STREAM(a)));
  } else {
    cpu_map(o, x, y, n, [](float u, float v) { return u + v; });
  }
  return record("add", out, {a, b}, [](const Tensor& g, const Node&) { return std::vector<Tensor>{g, g}; });
}

Tensor relu(const Tensor& x) {
  check_f32(x, "relu", "x");
  Tensor y = Tensor::empty(x.shape(), DType::F32, x.device());
  const int64_t n = x.numel();
  float* o = y.data<float>();
  const float* in = x.data<float>();
  if (x.device().is_cuda()) {
    BIASCKA_CUDA_ONLY(kernels::relu_forward(o, in, n, BIASCKA_STREAM(x)));
  } else {
    cpu_map(o, in, nullptr, n, [](float u, float) { return u > 0.f ? u : 0.f; });
  }
  Tensor saved = y.detach();
  return record("relu", y, {x}, [saved](const Tensor& g, const Node&) {
    return std::vector<Tensor>{relu_backward(g, saved)};
  });
}

Tensor scale(const Tensor& x, float alpha) {
  check_f32(x, "scale", "x");
  Tensor out = Tensor::empty(x.shape(), DType::F32, x.device());
  const int64_t n = x.numel();
  float* o = out.data<float>();
  const float* in = x.data<float>();
  if (x.device().is_cuda()) {
    BIASCKA_CUDA_ONLY(kernels::scale(o, in, n, alpha, BIASCKA_STREAM(x)));
  } else {
    cpu_map(o, in, nullptr, n, [alpha](float u, float) { return alpha * u; });
  }
  return record("scale", out, {x},
                [alpha](const Tensor& g, const Node&) { return std::vector<Tensor>{scale(g, alpha)}; });
}

void add_(Tensor& y, const Tensor& x, float alpha) {
  check_f32(y, "add_", "y");
  check_f32(x, "add_", "x");
  check_same_device(x, y, "add_");
  BIASCKA_CHECK(x.numel() == y.numel(), "add_: ", shape_str(x.shape()), " into ", shape_str(y.shape()));
  const int64_t n = y.numel();
  float* o = y.data<float>();
  const float* in = x.data<float>();
  if (y.device().is_cuda()) {
    BIASCKA_CUDA_ONLY(kernels::axpy(o, in, n, alpha, BIASCKA_STREAM(y)));
  } else {
    cpu_map(o, o, in, n, [alpha](float u, float v) { return u + alpha * v; });
  }
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
  const int es = static_cast<int>(dtype_size(t.dtype()));
  if (t.device().is_cuda()) {
    BIASCKA_CUDA_ONLY(kernels::fill(t.raw_data(), n, es, bits, BIASCKA_STREAM(t)));
    return;
  }
  char* p = static_cast<char*>(t.raw_data());
  if (bits == 0) {
    std::memset(p, 0, static_cast<size_t>(n) * es);
    return;
  }
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) std::memcpy(p + i * es, &bits, es);
  });
}

}  // namespace biascka
