#include "engine/ops/linear.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "engine/autograd.h"
#include "engine/gemm.h"
#include "engine/ops/dispatch.h"
#include "engine/ops/linear_impl.h"
#include "engine/parallel.h"

namespace biascka {

namespace {

// Row-major C[m,n] = op(A) op(B) (+ C when accumulate) on either device.
void matmul(const Tensor& like, bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* a,
            int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc, bool accumulate) {
  if (like.device().is_cuda()) {
    BIASCKA_CUDA_ONLY(cublas_gemm(like.device().index, ta, tb, m, n, k, a, lda, b, ldb, c, ldc, accumulate));
  } else {
    gemm<float>(ta, tb, m, n, k, 1.f, a, lda, b, ldb, accumulate ? 1.f : 0.f, c, ldc);
  }
}

}  // namespace

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  check_f32(x, "linear", "input");
  check_f32(weight, "linear", "weight");
  check_same_device(x, weight, "linear");
  BIASCKA_CHECK(x.dim() == 2 && weight.dim() == 2 && x.size(1) == weight.size(1), "linear: input ",
                shape_str(x.shape()), " does not fit weight ", shape_str(weight.shape()));
  const int64_t n = x.size(0), in = x.size(1), out = weight.size(0);
  const bool has_bias = bias.defined();
  if (has_bias) {
    check_same_device(x, bias, "linear");
    BIASCKA_CHECK(bias.numel() == out, "linear: bias ", shape_str(bias.shape()), " for ", out, " outputs");
  }
  const Device dev = x.device();
  Tensor y = Tensor::empty({n, out}, DType::F32, dev);
  float* yp = y.data<float>();
  if (has_bias) {  // y = broadcast(b), then y += x W^T
    if (dev.is_cuda()) {
      BIASCKA_CUDA_ONLY(kernels::broadcast_rows(yp, bias.data<float>(), n, out, BIASCKA_STREAM(x)));
    } else {
      const float* b = bias.data<float>();
      parallel_for(n, 64, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r)
          for (int64_t j = 0; j < out; ++j) yp[r * out + j] = b[j];
      });
    }
  }
  matmul(x, false, true, n, out, in, x.data<float>(), in, weight.data<float>(), in, yp, out, has_bias);
  Tensor xs = x.detach(), ws = weight.detach();
  std::vector<Tensor> inputs{x, weight};
  if (has_bias) inputs.push_back(bias);
  return record("linear", y, inputs, [=](const Tensor& gy, const Node& node) {
    std::vector<Tensor> g(has_bias ? 3 : 2);
    const float* dy = gy.data<float>();
    if (node.needs(0)) {  // dx = dy W
      g[0] = Tensor::empty({n, in}, DType::F32, dev);
      matmul(gy, false, false, n, in, out, dy, out, ws.data<float>(), in, g[0].data<float>(), in, false);
    }
    if (node.needs(1)) {  // dW = dy^T x
      g[1] = Tensor::empty({out, in}, DType::F32, dev);
      matmul(gy, true, false, out, in, n, dy, out, xs.data<float>(), in, g[1].data<float>(), in, false);
    }
    if (has_bias && node.needs(2)) {  // db = column sums of dy
      g[2] = Tensor::empty({out}, DType::F32, dev);
      float* db = g[2].data<float>();
      if (dev.is_cuda()) {
        BIASCKA_CUDA_ONLY(kernels::column_sums(db, dy, n, out, BIASCKA_STREAM(gy)));
      } else {
        for (int64_t j = 0; j < out; ++j) db[j] = 0.f;
        for (int64_t r = 0; r < n; ++r)
          for (int64_t j = 0; j < out; ++j) db[j] += dy[r * out + j];
      }
    }
    return g;
  });
}

Tensor flatten(const Tensor& x) {
  BIASCKA_CHECK(x.dim() >= 1, "flatten of a scalar");
  return x.reshape({x.size(0), x.numel() / std::max<int64_t>(x.size(0), 1)});
}

}  // namespace biascka
