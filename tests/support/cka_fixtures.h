#pragma once
// Small pieces the CKA suites (CPU and GPU) share.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "cka/accumulator.h"
#include "cka/options.h"
#include "data/image_io.h"
#include "engine/device.h"
#include "engine/random.h"
#include "engine/tensor.h"
#include "tests/support/test_support.h"

namespace biascka::test {

// A random orthogonal d x d matrix, row-major (Gram-Schmidt on the columns of a seeded Gaussian matrix).
inline std::vector<double> random_orthogonal(int64_t d, uint64_t stream) {
  const std::vector<float> g = rand_normal({d, d}, 0.f, 1.f, 1234, stream).to_vector();
  std::vector<double> q(g.begin(), g.end());
  for (int64_t j = 0; j < d; ++j) {
    for (int64_t k = 0; k < j; ++k) {
      double dot = 0;
      for (int64_t i = 0; i < d; ++i) dot += q[i * d + j] * q[i * d + k];
      for (int64_t i = 0; i < d; ++i) q[i * d + j] -= dot * q[i * d + k];
    }
    double norm = 0;
    for (int64_t i = 0; i < d; ++i) norm += q[i * d + j] * q[i * d + j];
    for (int64_t i = 0; i < d; ++i) q[i * d + j] /= std::sqrt(norm);
  }
  return q;
}

// x [n, d] times a [d, e] (row-major, double), computed in double and stored as F32.
inline Tensor matmul(const Tensor& x, const std::vector<double>& a, int64_t e) {
  const int64_t n = x.size(0), d = x.size(1);
  Tensor y = Tensor::empty({n, e});
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < e; ++j) {
      double s = 0;
      for (int64_t k = 0; k < d; ++k) s += double(x.data<float>()[i * d + k]) * a[k * e + j];
      y.data<float>()[i * e + j] = static_cast<float>(s);
    }
  return y;
}

// x times a scalar (a copy).
inline Tensor scaled(const Tensor& x, float s) {
  Tensor y = x.clone();
  for (int64_t i = 0; i < y.numel(); ++i) y.data<float>()[i] *= s;
  return y;
}

// Element (i, j) of a 2-D F64 matrix on the CPU.
inline double at(const Tensor& m, int64_t i, int64_t j) { return m.data<double>()[i * m.size(1) + j]; }

// Standard normal samples (plus `mean`) of shape s, stream `stream` of the CKA suites' seed.
inline Tensor gaussian(const Shape& s, uint64_t stream, float mean = 0.f) {
  return rand_normal(s, mean, 1.f, 4321, stream);
}

// Rows [r0, r1) of a tensor [n, ...], as a CPU tensor.
inline Tensor rows(const Tensor& x, int64_t r0, int64_t r1) {
  const Tensor h = x.to(Device::cpu());
  Shape s = h.shape();
  const int64_t per = h.numel() / s[0];
  s[0] = r1 - r0;
  std::vector<float> v(h.data<float>() + r0 * per, h.data<float>() + r1 * per);
  return Tensor::from_vector(v, s);
}

// max |a - b| over F64 tensors of the same shape, NaN positions required to agree.
inline ::testing::AssertionResult matrices_near(const Tensor& got, const Tensor& want, double tol) {
  if (got.shape() != want.shape())
    return ::testing::AssertionFailure() << shape_str(got.shape()) << " vs " << shape_str(want.shape());
  double worst = 0;
  int64_t at_i = 0;
  for (int64_t i = 0; i < got.numel(); ++i) {
    const double a = got.data<double>()[i], b = want.data<double>()[i];
    if (std::isnan(a) != std::isnan(b))
      return ::testing::AssertionFailure()
             << "NaN at flat index " << i << " in one matrix only: " << a << " vs " << b;
    if (std::isnan(a)) continue;
    if (std::fabs(a - b) > worst) worst = std::fabs(a - b), at_i = i;
  }
  if (worst <= tol) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "max |diff| " << worst << " > " << tol << " at flat index " << at_i << ": "
         << got.data<double>()[at_i] << " vs " << want.data<double>()[at_i];
}

// Minibatch CKA of `layers` (CPU tensors [n, ...]) in batches of `batch` rows moved to the options' device;
// `layers_b`: across two models.
inline cka::CkaMatrix minibatch(const std::vector<Tensor>& layers, int64_t batch, const cka::CkaOptions& o,
                                const std::vector<Tensor>* layers_b = nullptr) {
  std::vector<std::string> na, nb;
  for (size_t i = 0; i < layers.size(); ++i) na.push_back("a" + std::to_string(i));
  if (layers_b)
    for (size_t i = 0; i < layers_b->size(); ++i) nb.push_back("b" + std::to_string(i));
  cka::MinibatchCka acc(na, nb, o);
  if (o.kernel.kind == cka::Kernel::Linear) {
    EXPECT_EQ(acc.device(), o.device);
  }
  const int64_t n = layers[0].size(0);
  for (int64_t r0 = 0; r0 < n; r0 += batch) {
    const int64_t r1 = std::min(n, r0 + batch);
    std::vector<Tensor> a, b;
    for (const Tensor& t : layers) a.push_back(rows(t, r0, r1).to(o.device));
    if (layers_b)
      for (const Tensor& t : *layers_b) b.push_back(rows(t, r0, r1).to(o.device));
    acc.add_batch(a, layers_b ? &b : nullptr);
  }
  return acc.result();
}

// Layers with structure: related, rotated, scaled, mixed, rectified, rectified with a large common offset, a
// feature map with d % 4 != 0, a single feature.
inline std::vector<Tensor> structured_layers(int64_t n) {
  const int64_t d = 24;
  const Tensor x = gaussian({n, d}, 1);
  std::vector<double> generic(static_cast<size_t>(d * d));
  const std::vector<float> g = gaussian({d, d}, 3).to_vector();
  for (int64_t i = 0; i < d * d; ++i) generic[i] = g[i] + (i % (d + 1) == 0 ? 2.0 : 0.0);  // invertible
  Tensor relu = x.clone();
  for (int64_t i = 0; i < relu.numel(); ++i) relu.data<float>()[i] = std::max(0.f, relu.data<float>()[i]);
  Tensor relu_offset = matmul(x, generic, d);
  for (int64_t i = 0; i < relu_offset.numel(); ++i)
    relu_offset.data<float>()[i] = std::max(0.f, relu_offset.data<float>()[i]) + 40.f;
  Tensor map = gaussian({n, 3, 5, 7}, 5, 2.f);  // d = 105
  for (int64_t i = 0; i < n; ++i) map.data<float>()[i * 105] += x.data<float>()[i * d];
  return {x,
          matmul(x, random_orthogonal(d, 2), d),
          scaled(x, 3.7f),
          matmul(x, generic, d),
          relu,
          relu_offset,
          map,
          gaussian({n, 1}, 6)};
}

// 20 coloured 16x16 images (small: the forward passes dominate this test's time) named
// {id}_{target}_{bias}.png.
inline std::string cka_image_split(const std::string& name) {
  const std::string dir = temp_dir(name);
  for (int i = 0; i < 20; ++i) {
    data::Image img;
    img.width = img.height = 16;
    img.pixels.resize(16 * 16 * 3);
    for (size_t p = 0; p < img.pixels.size(); ++p)
      img.pixels[p] = static_cast<uint8_t>((p * 37 + i * 101 + (p / 48) * i * 13) % 251);
    data::write_png(dir + "/" + std::to_string(i) + "_" + std::to_string(i % 10) + "_" +
                        std::to_string(i * 3 % 10) + ".png",
                    img);
  }
  return dir;
}

}  // namespace biascka::test
