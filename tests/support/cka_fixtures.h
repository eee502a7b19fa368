#pragma once
// Small pieces the CKA suites (CPU and GPU) share.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "data/image_io.h"
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
