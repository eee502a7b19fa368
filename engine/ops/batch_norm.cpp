#include "engine/ops/batch_norm.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "engine/autograd.h"
#include "engine/ops/dispatch.h"
#include "engine/parallel.h"

namespace biascka {

namespace cpu {
namespace {

// Per-channel sums over the rows of x [m, c] (and of a second array when given), in double, each thread
// summing its own block of rows and the blocks combined in order, so results do not depend on timing.
template <class RowFn>
void channel_sums(int64_t m, int64_t c, int nacc, RowFn&& row, std::vector<double>& out) {
  const int64_t grain = std::max<int64_t>(1, 4096 / std::max<int64_t>(c, 1));
  std::vector<std::vector<double>> part(chunk_count(m, grain), std::vector<double>(nacc * c, 0.0));
  parallel_chunks(m, grain, [&](int t, int64_t b, int64_t e) { row(b, e, part[t].data()); });
  out.assign(nacc * c, 0.0);
  for (auto& p : part)
    for (int64_t i = 0; i < nacc * c; ++i) out[i] += p[i];
}

}  // namespace

// The CPU twin of kernels::batch_norm_forward_train / _eval. mean/invstd receive what backward needs.
void batch_norm_forward(const float* x, const float* gamma, const float* beta, float* y, float* mean,
                        float* invstd, float* running_mean, float* running_var, int64_t m, int64_t c,
                        bool training, float momentum, float eps) {
  if (training) {
    std::vector<double> s;
    channel_sums(
        m, c, 2,
        [&](int64_t b, int64_t e, double* acc) {
          double* s1 = acc;
          double* s2 = acc + c;
          for (int64_t r = b; r < e; ++r) {
            const float* xr = x + r * c;
#pragma omp simd
            for (int64_t j = 0; j < c; ++j) {
              s1[j] += xr[j];
              s2[j] += double(xr[j]) * xr[j];
            }
          }
        },
        s);
    for (int64_t j = 0; j < c; ++j) {
      const double mu = s[j] / m;
      const double var = std::max(0.0, s[c + j] / m - mu * mu);
      mean[j] = static_cast<float>(mu);
      invstd[j] = static_cast<float>(1.0 / std::sqrt(var + eps));
      const double unbiased = m > 1 ? var * m / (m - 1) : var;
      running_mean[j] = static_cast<float>((1.0 - momentum) * running_mean[j] + momentum * mu);
      running_var[j] = static_cast<float>((1.0 - momentum) * running_var[j] + momentum * unbiased);
    }
  } else {
    for (int64_t j = 0; j < c; ++j) {
      mean[j] = running_mean[j];
      invstd[j] = static_cast<float>(1.0 / std::sqrt(double(running_var[j]) + eps));
    }
  }
  std::vector<float> scale(c), shift(c);
  for (int64_t j = 0; j < c; ++j) {
    scale[j] = gamma[j] * invstd[j];
    shift[j] = beta[j] - mean[j] * scale[j];
  }
  parallel_for(m, std::max<int64_t>(1, 8192 / c), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float* xr = x + r * c;
      float* yr = y + r * c;
#pragma omp simd
      for (int64_t j = 0; j < c; ++j) yr[j] = xr[j] * scale[j] + shift[j];
    }
  });
}

// The CPU twin of kernels::batch_norm_backward.
void batch_norm_backward(const float* dy, const float* x, const float* gamma, const float* mean,
                         const float* invstd, float* dx, float* dgamma, float* dbeta, int64_t m, int64_t c,
                         bool training) {
  std::vector<double> s;  // [sum dy, sum dy * xhat]
  channel_sums(
      m, c, 2,
      [&](int64_t b, int64_t e, double* acc) {
        double* sdy = acc;
        double* sdx = acc + c;
        for (int64_t r = b; r < e; ++r) {
          const float* g = dy + r * c;
          const float* xr = x + r * c;
#pragma omp simd
          for (int64_t j = 0; j < c; ++j) {
            sdy[j] += g[j];
            sdx[j] += double(g[j]) * ((xr[j] - mean[j]) * invstd[j]);
          }
        }
      },
      s);
  std::vector<float> k1(c), k2(c), k3(c);  // dx = k1 * dy - k2 * xhat - k3
  for (int64_t j = 0; j < c; ++j) {
    if (dgamma) dgamma[j] = static_cast<float>(s[c + j]);
    if (dbeta) dbeta[j] = static_cast<float>(s[j]);
    const float gi = gamma[j] * invstd[j];
    k1[j] = gi;
    k2[j] = training ? static_cast<float>(gi * s[c + j] / m) : 0.f;
    k3[j] = training ? static_cast<float>(gi * s[j] / m) : 0.f;
  }
  if (!dx) return;
  parallel_for(m, std::max<int64_t>(1, 8192 / c), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float* g = dy + r * c;
      const float* xr = x + r * c;
      float* o = dx + r * c;
#pragma omp simd
      for (int64_t j = 0; j < c; ++j) o[j] = k1[j] * g[j] - k2[j] * ((xr[j] - mean[j]) * invstd[j]) - k3[j];
    }
  });
}

}  // namespace cpu

Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& running_mean,
                  Tensor& running_var, BatchNormOptions opt) {
  check_f32(x, "batch_norm", "input");
  BIASCKA_CHECK(x.dim() >= 2, "batch_norm: input ", shape_str(x.shape()), " needs a channel dimension");
  const int64_t c = x.size(-1), m = x.numel() / c;
  for (const Tensor* t : {&weight, &bias, static_cast<const Tensor*>(&running_mean),
                          static_cast<const Tensor*>(&running_var)}) {
    check_f32(*t, "batch_norm", "parameter");
    check_same_device(x, *t, "batch_norm");
    BIASCKA_CHECK(t->numel() == c, "batch_norm: input has ", c, " channels, a parameter has ", t->numel());
  }
  BIASCKA_CHECK(!opt.training || m > 1, "batch_norm: training needs more than one value per channel, input ",
                shape_str(x.shape()));
  const Device dev = x.device();
  Tensor y = Tensor::empty(x.shape(), DType::F32, dev);
  Tensor mean = Tensor::empty({c}, DType::F32, dev), invstd = Tensor::empty({c}, DType::F32, dev);
  if (dev.is_cuda()) {
    BIASCKA_CUDA_ONLY(kernels::batch_norm_forward(x.data<float>(), weight.data<float>(), bias.data<float>(),
                                                  y.data<float>(), mean.data<float>(), invstd.data<float>(),
                                                  running_mean.data<float>(), running_var.data<float>(), m, c,
                                                  opt.training, opt.momentum, opt.eps, BIASCKA_STREAM(x)));
  } else {
    cpu::batch_norm_forward(x.data<float>(), weight.data<float>(), bias.data<float>(), y.data<float>(),
                            mean.data<float>(), invstd.data<float>(), running_mean.data<float>(),
                            running_var.data<float>(), m, c, opt.training, opt.momentum, opt.eps);
  }
  Tensor xs = x.detach(), ws = weight.detach();
  const bool training = opt.training;
  return record("batch_norm", y, {x, weight, bias}, [=](const Tensor& gy, const Node& node) {
    std::vector<Tensor> g(3);
    if (node.needs(0)) g[0] = Tensor::empty(xs.shape(), DType::F32, dev);
    if (node.needs(1)) g[1] = Tensor::empty({c}, DType::F32, dev);
    if (node.needs(2)) g[2] = Tensor::empty({c}, DType::F32, dev);
    auto ptr = [](const Tensor& t) { return t.defined() ? t.data<float>() : nullptr; };
    if (dev.is_cuda()) {
      BIASCKA_CUDA_ONLY(kernels::batch_norm_backward(
          gy.data<float>(), xs.data<float>(), ws.data<float>(), mean.data<float>(), invstd.data<float>(),
          ptr(g[0]), ptr(g[1]), ptr(g[2]), m, c, training, BIASCKA_STREAM(gy)));
    } else {
      cpu::batch_norm_backward(gy.data<float>(), xs.data<float>(), ws.data<float>(), mean.data<float>(),
                               invstd.data<float>(), ptr(g[0]), ptr(g[1]), ptr(g[2]), m, c, training);
    }
    return g;
  });
}

}  // namespace biascka
