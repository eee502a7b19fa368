// The CPU's convolution entries: oneDNN (engine/ops/conv2d_onednn.cpp) when built with it and not switched
// off (set_cpu_conv_path), else the reference im2col + GEMM below. Twins of cuDNN
// (engine/ops/conv2d_cudnn.cpp).
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "engine/error.h"
#include "engine/gemm.h"
#include "engine/ops/conv2d.h"
#include "engine/ops/conv2d_impl.h"
#include "engine/ops/cpu/cpu_backend.h"
#include "engine/parallel.h"

namespace biascka {

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
bool use_onednn() {
  const CpuConvPath p = cpu_conv_path();
  if (p == CpuConvPath::OneDnn) {
    BIASCKA_CHECK(onednn_available(),
                  "the oneDNN convolution path was asked for, but this build has no oneDNN");
    return true;
  }
  return p == CpuConvPath::Auto && onednn_available();
}
}  // namespace

void CpuBackend::conv2d_forward(const conv::Geometry& g, const float* x, const float* w, float* y) const {
  if (use_onednn())
    conv::onednn_forward(g, x, w, y);
  else
    conv::reference_forward(g, x, w, y);
}

void CpuBackend::conv2d_backward_data(const conv::Geometry& g, const float* dy, const float* w,
                                      float* dx) const {
  if (use_onednn())
    conv::onednn_backward_data(g, dy, w, dx);
  else
    conv::reference_backward_data(g, dy, w, dx);
}

void CpuBackend::conv2d_backward_weights(const conv::Geometry& g, const float* x, const float* dy,
                                         float* dw) const {
  if (use_onednn())
    conv::onednn_backward_weights(g, x, dy, dw);
  else
    conv::reference_backward_weights(g, x, dy, dw);
}

}  // namespace biascka
