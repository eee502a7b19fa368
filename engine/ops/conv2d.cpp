#include "engine/ops/conv2d.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <vector>

#include "engine/autograd.h"
#include "engine/gemm.h"
#include "engine/ops/conv2d_impl.h"
#include "engine/ops/dispatch.h"
#include "engine/parallel.h"

namespace biascka {

namespace {
std::atomic<CpuConvPath> g_path{CpuConvPath::Auto};
std::atomic<bool> g_tf32{true};

bool use_onednn() {
  const CpuConvPath p = g_path.load();
  if (p == CpuConvPath::OneDnn) {
    BIASCKA_CHECK(onednn_available(),
                  "the oneDNN convolution path was asked for, but this build has no oneDNN");
    return true;
  }
  return p == CpuConvPath::Auto && onednn_available();
}
}  // namespace

void set_cpu_conv_path(CpuConvPath p) { g_path = p; }
CpuConvPath cpu_conv_path() { return g_path; }
void set_allow_tf32(bool allow) { g_tf32 = allow; }
bool allow_tf32() { return g_tf32; }

namespace conv {
namespace {

// im2col leaves at most this many floats in its buffer; larger batches go through in chunks of samples.
constexpr int64_t kColBudget = int64_t{16} << 20;

int64_t chunk_samples(const Geometry& g) {
  const int64_t per_sample = g.oh * g.ow * g.kh * g.kw * g.c;
  return std::clamp<int64_t>(kColBudget / std::max<int64_t>(per_sample, 1), 1, g.n);
}

// Weights [O, C, kH, kW] <-> [O, kH, kW, C]: the K order that makes each im2col run a contiguous copy.
void permute_weights(const Geometry& g, const float* w, float* wp, bool to_hwc) {
  const int64_t khw = g.kh * g.kw;
  for (int64_t o = 0; o < g.o; ++o)
    for (int64_t c = 0; c < g.c; ++c)
      for (int64_t k = 0; k < khw; ++k) {
        const int64_t oihw = (o * g.c + c) * khw + k, ohwi = (o * khw + k) * g.c + c;
        if (to_hwc)
          wp[ohwi] = w[oihw];
        else
          wp[oihw] = w[ohwi];
      }
}

// col[p, (kh, kw, c)] for the samples [n0, n1): rows are output pixels, zero where the tap is padding.
void im2col(const Geometry& g, const float* x, int64_t n0, int64_t n1, float* col) {
  const int64_t K = g.kh * g.kw * g.c, rows = (n1 - n0) * g.oh * g.ow;
  parallel_for(rows, 64, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t ow = r % g.ow, oh = (r / g.ow) % g.oh, n = n0 + r / (g.ow * g.oh);
      float* dst = col + r * K;
      for (int64_t kh = 0; kh < g.kh; ++kh) {
        const int64_t ih = oh * g.stride - g.pad + kh;
        for (int64_t kw = 0; kw < g.kw; ++kw, dst += g.c) {
          const int64_t iw = ow * g.stride - g.pad + kw;
          if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w)
            std::memset(dst, 0, g.c * sizeof(float));
          else
            std::memcpy(dst, x + ((n * g.h + ih) * g.w + iw) * g.c, g.c * sizeof(float));
        }
      }
    }
  });
}

// dx += col2im(dcol) for the samples [n0, n1). Parallel over samples: no two threads touch one image.
void col2im(const Geometry& g, const float* dcol, int64_t n0, int64_t n1, float* dx) {
  const int64_t K = g.kh * g.kw * g.c;
  parallel_for(n1 - n0, 1, [&](int64_t a, int64_t b) {
    for (int64_t n = n0 + a; n < n0 + b; ++n) {
      for (int64_t oh = 0; oh < g.oh; ++oh)
        for (int64_t ow = 0; ow < g.ow; ++ow) {
          const float* src = dcol + (((n - n0) * g.oh + oh) * g.ow + ow) * K;
          for (int64_t kh = 0; kh < g.kh; ++kh) {
            const int64_t ih = oh * g.stride - g.pad + kh;
            for (int64_t kw = 0; kw < g.kw; ++kw, src += g.c) {
              const int64_t iw = ow * g.stride - g.pad + kw;
              if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) continue;
              float* d = dx + ((n * g.h + ih) * g.w + iw) * g.c;
#pragma omp simd
              for (int64_t c = 0; c < g.c; ++c) d[c] += src[c];
            }
          }
        }
    }
  });
}

}  // namespace

void reference_forward(const Geometry& g, const float* x, const float* w, float* y) {
  const int64_t K = g.kh * g.kw * g.c, chunk = chunk_samples(g), pix = g.oh * g.ow;
  std::vector<float> wp(g.o * K), col(chunk * pix * K);
  permute_weights(g, w, wp.data(), true);
  for (int64_t n0 = 0; n0 < g.n; n0 += chunk) {
    const int64_t n1 = std::min(g.n, n0 + chunk), P = (n1 - n0) * pix;
    im2col(g, x, n0, n1, col.data());
    gemm<float>(false, true, P, g.o, K, 1.f, col.data(), K, wp.data(), K, 0.f, y + n0 * pix * g.o, g.o);
  }
}

void reference_backward_data(const Geometry& g, const float* dy, const float* w, float* dx) {
  const int64_t K = g.kh * g.kw * g.c, chunk = chunk_samples(g), pix = g.oh * g.ow;
  std::vector<float> wp(g.o * K), dcol(chunk * pix * K);
  permute_weights(g, w, wp.data(), true);
  std::memset(dx, 0, sizeof(float) * g.n * g.h * g.w * g.c);
  for (int64_t n0 = 0; n0 < g.n; n0 += chunk) {
    const int64_t n1 = std::min(g.n, n0 + chunk), P = (n1 - n0) * pix;
    gemm<float>(false, false, P, K, g.o, 1.f, dy + n0 * pix * g.o, g.o, wp.data(), K, 0.f, dcol.data(), K);
    col2im(g, dcol.data(), n0, n1, dx);
  }
}

void reference_backward_weights(const Geometry& g, const float* x, const float* dy, float* dw) {
  const int64_t K = g.kh * g.kw * g.c, chunk = chunk_samples(g), pix = g.oh * g.ow;
  std::vector<float> dwp(g.o * K, 0.f), col(chunk * pix * K);
  for (int64_t n0 = 0; n0 < g.n; n0 += chunk) {
    const int64_t n1 = std::min(g.n, n0 + chunk), P = (n1 - n0) * pix;
    im2col(g, x, n0, n1, col.data());
    gemm<float>(true, false, g.o, K, P, 1.f, dy + n0 * pix * g.o, g.o, col.data(), K, 1.f, dwp.data(), K);
  }
  permute_weights(g, dwp.data(), dw, false);
}

}  // namespace conv

namespace {

conv::Geometry geometry(const Tensor& x, const Tensor& w, Conv2dOptions opt) {
  check_f32(x, "conv2d", "input");
  check_f32(w, "conv2d", "weight");
  check_same_device(x, w, "conv2d");
  BIASCKA_CHECK(x.dim() == 4, "conv2d: input must be [N, H, W, C], got ", shape_str(x.shape()));
  BIASCKA_CHECK(w.dim() == 4, "conv2d: weight must be [O, C, kH, kW], got ", shape_str(w.shape()));
  BIASCKA_CHECK(x.size(3) == w.size(1), "conv2d: input has ", x.size(3), " channels, weight ",
                shape_str(w.shape()), " expects ", w.size(1));
  BIASCKA_CHECK(opt.stride >= 1 && opt.padding >= 0, "conv2d: stride ", opt.stride, ", padding ",
                opt.padding);
  conv::Geometry g{x.size(0), x.size(1),  x.size(2),   x.size(3), w.size(0), w.size(2),
                   w.size(3), opt.stride, opt.padding, 0,         0};
  g.oh = (g.h + 2 * g.pad - g.kh) / g.stride + 1;
  g.ow = (g.w + 2 * g.pad - g.kw) / g.stride + 1;
  BIASCKA_CHECK(g.oh > 0 && g.ow > 0, "conv2d: a ", g.kh, "x", g.kw, " kernel does not fit a ", g.h, "x", g.w,
                " input with padding ", g.pad);
  return g;
}

Tensor conv_backward_data(const conv::Geometry& g, const Tensor& gy, const Tensor& w) {
  Tensor dx = Tensor::empty({g.n, g.h, g.w, g.c}, DType::F32, gy.device());
  if (gy.device().is_cuda()) {
    BIASCKA_CUDA_ONLY(
        conv::cudnn_backward_data(gy.device().index, g, gy.data<float>(), w.data<float>(), dx.data<float>()));
  } else if (use_onednn()) {
    conv::onednn_backward_data(g, gy.data<float>(), w.data<float>(), dx.data<float>());
  } else {
    conv::reference_backward_data(g, gy.data<float>(), w.data<float>(), dx.data<float>());
  }
  return dx;
}

Tensor conv_backward_weights(const conv::Geometry& g, const Tensor& x, const Tensor& gy) {
  Tensor dw = Tensor::empty({g.o, g.c, g.kh, g.kw}, DType::F32, gy.device());
  if (gy.device().is_cuda()) {
    BIASCKA_CUDA_ONLY(conv::cudnn_backward_weights(gy.device().index, g, x.data<float>(), gy.data<float>(),
                                                   dw.data<float>()));
  } else if (use_onednn()) {
    conv::onednn_backward_weights(g, x.data<float>(), gy.data<float>(), dw.data<float>());
  } else {
    conv::reference_backward_weights(g, x.data<float>(), gy.data<float>(), dw.data<float>());
  }
  return dw;
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& w, Conv2dOptions opt) {
  const conv::Geometry g = geometry(x, w, opt);
  Tensor y = Tensor::empty({g.n, g.oh, g.ow, g.o}, DType::F32, x.device());
  if (x.device().is_cuda()) {
    BIASCKA_CUDA_ONLY(
        conv::cudnn_forward(x.device().index, g, x.data<float>(), w.data<float>(), y.data<float>()));
  } else if (use_onednn()) {
    conv::onednn_forward(g, x.data<float>(), w.data<float>(), y.data<float>());
  } else {
    conv::reference_forward(g, x.data<float>(), w.data<float>(), y.data<float>());
  }
  Tensor xs = x.detach(), ws = w.detach();
  return record("conv2d", y, {x, w}, [g, xs, ws](const Tensor& gy, const Node& node) {
    std::vector<Tensor> out(2);
    if (node.needs(0)) out[0] = conv_backward_data(g, gy, ws);  // the stem's input needs none
    if (node.needs(1)) out[1] = conv_backward_weights(g, xs, gy);
    return out;
  });
}

}  // namespace biascka
