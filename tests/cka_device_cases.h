#pragma once
// The CKA cases every backend must pass, parameterised by device: test_cka.cpp instantiates them on the CPU,
// test_cka_cuda.cpp on the GPU with exact FP32 and with TF32 Grams (skipped without a GPU; run under the CUDA
// emulation). Exact self-similarity and symmetry, invariance to orthogonal maps and isotropic scaling (and
// not to a generic invertible map), the cross-model matrix against the joint one, layer groups under a small
// memory budget, zero-variance layers, short batches and errors that leave the sums unchanged; the batches
// kept for the bootstrap and its intervals, a one-hot label (probe) layer; the numpy reference file; Gram
// rows kept past a batch and each layer's CKA with itself at another time (row_cka).
//
// Tolerances (CkaDevice), on CKA values. The CPU multiplies the same float64 rows in every grouping: the
// cross-model block equals the joint matrix's to 1e-12 and layer groups the single group's to 1e-13 (BLAS
// blocking), a pair equals itself among other layers exactly. On the GPU, FP32 Grams differ from the CPU's
// float32 Grams by summation order only (~1e-7), hence 1e-6 against the CPU and between product shapes
// (another summation order, and cuBLAS may pick a kernel without tensor cores for some shapes); TF32 operands
// carry 2^-11 relative rounding, which averages out over the Gram entries: simulated, ~3e-5 on CKA at batches
// of 32, ~6e-6 at 128 (falling as 1/n), within 1e-4, but at batches of 20 samples of 4 to 16 features it
// averages out little (~1e-4, simulated): 5e-4 there. Invariances hold up to the rounding of the mapped
// features and of the Grams: 1e-6 on the CPU, 1e-5 with FP32 Grams, 1e-3 with TF32. A pair's Grams do not
// depend on the other layers of the batch, so on the GPU only its products' shape changes: 1e-7.
// Against the numpy reference (float64 throughout), float32 Grams of per-batch-centred features with float64
// centring and sums: 1e-5 absolute on the CPU and with FP32 Grams, 1e-4 with TF32 (as against the CPU).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "cka/accumulator.h"
#include "cka/bootstrap.h"
#include "cka/full.h"
#include "cka/options.h"
#include "cka/output.h"
#include "cka/probes.h"
#include "engine/device.h"
#include "engine/error.h"
#include "engine/io/safetensors.h"
#include "engine/random.h"
#include "engine/tensor.h"
#include "tests/support/cka_fixtures.h"
#include "tests/support/test_support.h"

namespace biascka::test {

struct CkaDevice {
  std::string name;
  Device device;
  bool tf32 = false;
  std::vector<cka::Kernel> kernels;  // what this device computes (the GPU: linear; RBF runs on the CPU)
  double invariance;  // an orthogonal map or isotropic scaling of a layer against the layer itself: 1
  double joint;       // a cross-model block against the same block of the joint matrix
  double groups;      // layer groups under a small budget against all layers in one group
  double shape;       // a pair's value among other layers against the same pair alone
  double cpu;         // against the CPU backend, batches of 32 and more
  double cpu_small;   // against the CPU backend, batches of 20 samples of 4 to 16 features
  double reference;   // against ../shared/reference/cka_case.safetensors (numpy, float64)
};

inline CkaDevice cka_cpu() {
  return {"cpu", Device::cpu(), false, {cka::Kernel::Linear, cka::Kernel::Rbf}, 1e-6, 1e-12, 1e-13, 0, 0,
          0,     1e-5};
}
inline CkaDevice cka_cuda(bool tf32) {
  return tf32 ? CkaDevice{"cuda_tf32", Device::cuda(0),
                          true,        {cka::Kernel::Linear},
                          1e-3,        1e-4,
                          1e-4,        1e-7,
                          1e-4,        5e-4,
                          1e-4}
              : CkaDevice{"cuda_fp32", Device::cuda(0),
                          false,       {cka::Kernel::Linear},
                          1e-5,        1e-6,
                          1e-6,        1e-7,
                          1e-6,        1e-6,
                          1e-5};
}
inline std::string cka_device_name(const ::testing::TestParamInfo<CkaDevice>& info) {
  return info.param.name;
}

class CkaOnDevice : public ::testing::TestWithParam<CkaDevice> {
 protected:
  void SetUp() override {
    if (!GetParam().device.is_cpu()) BIASCKA_REQUIRE_GPU();
  }
  cka::CkaOptions options(cka::Estimator e, cka::Kernel k = cka::Kernel::Linear,
                          size_t budget = size_t{1} << 30) const {
    cka::CkaOptions o;
    o.estimator = e;
    o.kernel.kind = k;
    o.gram_memory = budget;
    o.device = GetParam().device;
    set_math_mode(o.device, GetParam().tf32 ? MathMode::Tf32 : MathMode::Exact);  // the CPU ignores it
    return o;
  }
  // The same computation on the CPU backend.
  static cka::CkaOptions on_cpu(cka::CkaOptions o) {
    o.device = Device::cpu();
    return o;
  }
  static std::string setting(cka::Estimator e, cka::Kernel k) {
    return std::string(cka::estimator_name(e)) + " " + cka::kernel_name(k);
  }
};

constexpr cka::Estimator kCkaEstimators[] = {cka::Estimator::Biased, cka::Estimator::Unbiased};

TEST_P(CkaOnDevice, SelfExactlyOneSymmetricAndInvariances) {
  // x; its orthogonal map; x scaled; a generic invertible map; relu(x); then layers that exercise the Gram's
  // paths (a large common offset, d % 4 != 0, a single feature).
  const std::vector<Tensor> l = structured_layers(120);
  for (cka::Estimator e : kCkaEstimators)
    for (cka::Kernel k : GetParam().kernels) {
      SCOPED_TRACE(setting(e, k));
      for (int64_t batch : {int64_t{40}, int64_t{32}, int64_t{120}}) {  // 32: a short last batch of 24
        const Tensor m = minibatch(l, batch, options(e, k)).matrix;
        for (int64_t i = 0; i < m.size(0); ++i) {
          EXPECT_EQ(at(m, i, i), 1.0) << "layer " << i;
          for (int64_t j = 0; j < m.size(1); ++j) EXPECT_EQ(at(m, i, j), at(m, j, i));
        }
        const double tol = GetParam().invariance;
        EXPECT_NEAR(at(m, 0, 1), 1.0, tol) << "orthogonal map";
        EXPECT_NEAR(at(m, 0, 2), 1.0, tol) << "isotropic scaling";
        EXPECT_LT(at(m, 0, 3), 0.98) << "a generic invertible map changes CKA";
        EXPECT_LT(at(m, 0, 4), 0.99);
        EXPECT_GT(at(m, 0, 4), 0.3);
      }
    }
}

TEST_P(CkaOnDevice, CrossModelEqualsBlockOfJointMatrix) {
  const int64_t n = 90;
  const Tensor base = gaussian({n, 16}, 8);
  std::vector<Tensor> a = {base, gaussian({n, 10}, 9), scaled(base, 0.5f)};
  std::vector<Tensor> b = {gaussian({n, 6}, 10), matmul(base, random_orthogonal(16, 11), 16)};
  std::vector<Tensor> joint = a;
  joint.insert(joint.end(), b.begin(), b.end());
  for (cka::Estimator e : kCkaEstimators)
    for (cka::Kernel k : GetParam().kernels) {
      SCOPED_TRACE(setting(e, k));
      const Tensor j = minibatch(joint, 32, options(e, k)).matrix;
      const Tensor c = minibatch(a, 32, options(e, k), &b).matrix;
      ASSERT_EQ(c.shape(), (Shape{3, 2}));
      for (int64_t p = 0; p < 3; ++p)
        for (int64_t q = 0; q < 2; ++q) EXPECT_NEAR(at(c, p, q), at(j, p, 3 + q), GetParam().joint);
      EXPECT_TRUE(matrices_near(c, minibatch(a, 32, on_cpu(options(e, k)), &b).matrix, GetParam().cpu));
      EXPECT_NEAR(at(c, 0, 1), 1.0, GetParam().invariance);
    }
}

// A memory budget too small for all Grams processes the layers in groups with the same result.
TEST_P(CkaOnDevice, LayerGroupsGiveTheSameMatrix) {
  const int64_t n = 64;
  std::vector<Tensor> a, b;
  for (uint64_t i = 0; i < 5; ++i) a.push_back(gaussian({n, int64_t(4 + 3 * i)}, 20 + i));
  for (uint64_t i = 0; i < 3; ++i) b.push_back(gaussian({n, int64_t(5 + i)}, 30 + i));
  a[3] = scaled(a[1], 2.f);
  for (cka::Estimator e : kCkaEstimators) {
    SCOPED_TRACE(cka::estimator_name(e));
    const Tensor joint = minibatch(a, 20, options(e)).matrix, cross = minibatch(a, 20, options(e), &b).matrix;
    const size_t row = cka::MinibatchCka({"x"}, {}, options(e)).gram_row_bytes(20);
    for (size_t budget : {size_t{1}, 2 * row, 5 * row}) {  // one layer, one, two layers per group
      const cka::CkaOptions small = options(e, cka::Kernel::Linear, budget);
      EXPECT_TRUE(matrices_near(minibatch(a, 20, small).matrix, joint, GetParam().groups)) << budget;
      EXPECT_TRUE(matrices_near(minibatch(a, 20, small, &b).matrix, cross, GetParam().groups)) << budget;
    }
    EXPECT_TRUE(matrices_near(joint, minibatch(a, 20, on_cpu(options(e))).matrix, GetParam().cpu_small));
  }
}

// CkaOptions::blocks (compare's stacking): each block's values are those of its layers alone (the
// same symmetric product of the same rows: exact on the CPU), the whole matrix as without blocks, and a
// budget for one block at a time changes nothing.
TEST_P(CkaOnDevice, BlocksGiveEachBlockItsOwnValues) {
  const int64_t n = 48;
  std::vector<Tensor> l;
  for (uint64_t i = 0; i < 6; ++i) l.push_back(gaussian({n, int64_t(3 + 2 * i)}, 40 + i));
  l[4] = scaled(l[0], 3.f);  // a pair across blocks with CKA 1
  for (cka::Estimator e : kCkaEstimators)
    for (const std::vector<int64_t>& sizes : {std::vector<int64_t>{3, 3}, std::vector<int64_t>{2, 1, 3}}) {
      SCOPED_TRACE(std::string(cka::estimator_name(e)) + " blocks of " + std::to_string(sizes[0]));
      cka::CkaOptions blocks = options(e);
      blocks.blocks = sizes;
      const Tensor whole = minibatch(l, 16, options(e)).matrix, m = minibatch(l, 16, blocks).matrix;
      EXPECT_TRUE(matrices_near(m, whole, GetParam().groups));
      EXPECT_NEAR(at(m, 0, 4), 1.0, GetParam().invariance);
      int64_t b0 = 0;
      for (const int64_t size : sizes) {
        const Tensor alone = minibatch({l.begin() + b0, l.begin() + b0 + size}, 16, options(e)).matrix;
        for (int64_t i = 0; i < size; ++i)
          for (int64_t j = 0; j < size; ++j)
            EXPECT_NEAR(at(m, b0 + i, b0 + j), at(alone, i, j), GetParam().shape)
                << b0 << " " << i << " " << j;
        b0 += size;
      }
      blocks.gram_memory = 1;  // one block per group
      EXPECT_TRUE(matrices_near(minibatch(l, 16, blocks).matrix, m, GetParam().groups));
      blocks.blocks = {4, 4};  // 6 layers are not blocks of 4 and 4
      EXPECT_THROW(minibatch(l, 16, blocks), Error);
    }
}

TEST_P(CkaOnDevice, ZeroVarianceLayerIsNanWithAWarning) {
  const int64_t n = 48;
  const Device dev = GetParam().device;
  const Tensor x = gaussian({n, 8}, 40), y = gaussian({n, 6}, 41),
               constant = Tensor::full({n, 3, 2, 2}, 0.25);
  for (cka::Estimator e : kCkaEstimators) {
    cka::MinibatchCka acc({"x", "dead_relu", "y"}, {}, options(e));
    cka::MinibatchCka ref({"x", "y"}, {}, options(e));
    for (int64_t r0 = 0; r0 < n; r0 += 16) {
      // y stays on the CPU: a backend on another device uploads it.
      acc.add_batch(
          {rows(x, r0, r0 + 16).to(dev), rows(constant, r0, r0 + 16).to(dev), rows(y, r0, r0 + 16)});
      ref.add_batch({rows(x, r0, r0 + 16), rows(y, r0, r0 + 16)});
    }
    const cka::CkaMatrix m = acc.result();
    ASSERT_EQ(m.warnings.size(), 1u);
    EXPECT_NE(m.warnings[0].find("'dead_relu'"), std::string::npos) << m.warnings[0];
    for (int64_t i = 0; i < 3; ++i) {
      EXPECT_TRUE(std::isnan(at(m.matrix, 1, i)));
      EXPECT_TRUE(std::isnan(at(m.matrix, i, 1)));
    }
    EXPECT_NEAR(at(m.matrix, 0, 2), at(ref.result().matrix, 0, 1), GetParam().shape);
    EXPECT_EQ(at(m.matrix, 0, 0), 1.0);
    EXPECT_EQ(at(m.matrix, 2, 2), 1.0);
  }
}

TEST_P(CkaOnDevice, ShortBatchesAndBadShapes) {
  const cka::CkaOptions o = options(cka::Estimator::Unbiased);
  cka::MinibatchCka acc({"x", "y"}, {}, o);
  acc.add_batch({gaussian({8, 3}, 50), gaussian({8, 2}, 51)});
  acc.add_batch(
      {gaussian({3, 3}, 52), gaussian({3, 2}, 53)});  // too short for the unbiased estimator: skipped
  EXPECT_EQ(acc.batches(), 1);
  EXPECT_EQ(acc.samples(), 8);
  const cka::CkaMatrix m = acc.result();
  ASSERT_EQ(m.warnings.size(), 1u);
  EXPECT_NE(m.warnings[0].find("3 samples"), std::string::npos);
  // Layers disagreeing on the batch's sample count: the error names the layer, the sums stay as they were.
  try {
    acc.add_batch({gaussian({8, 3}, 54), gaussian({7, 2}, 55)});
    FAIL() << "expected an error";
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.what()).find("'y'"), std::string::npos) << err.what();
  }
  EXPECT_EQ(acc.batches(), 1);
  EXPECT_EQ(at(acc.result().matrix, 0, 1), at(m.matrix, 0, 1)) << "a failed batch leaves the sums unchanged";
  EXPECT_THROW(cka::MinibatchCka({}, {}, o), Error);
  EXPECT_THROW(cka::full_cka({"x"}, {gaussian({3, 4}, 56)}, nullptr, nullptr, o), Error);  // too few samples
  EXPECT_THROW(cka::MinibatchCka({"x"}, {}, o).result(), Error);  // nothing accumulated
  // RBF runs on the CPU whatever the device.
  EXPECT_EQ(cka::MinibatchCka({"x"}, {}, options(cka::Estimator::Biased, cka::Kernel::Rbf)).device(),
            Device::cpu());
}

// ---- ../shared/reference/cka_case.safetensors (numpy, float64), when present: full-data linear CKA (biased
// and U-centred), RBF CKA (threshold 1) where the device computes it, and minibatch CKA with biased HSIC0 and
// unbiased HSIC1 over batches of 64, 64, 64, 64, 64, 40 rows, including the per-batch mean HSIC values. ----

struct CkaReferenceCase {
  std::vector<std::string> layers;
  std::vector<Tensor> acts;
  std::vector<int64_t> batches;
};

inline CkaReferenceCase load_cka_reference(const SafetensorsReader& f) {
  CkaReferenceCase c;
  std::stringstream ss(f.metadata().at("layers"));
  for (std::string name; std::getline(ss, name, ',');) {
    c.layers.push_back(name);
    c.acts.push_back(f.load("act." + name));
  }
  const Tensor sizes = f.load("minibatch_sizes");
  for (int64_t i = 0; i < sizes.numel(); ++i) c.batches.push_back(sizes.data<int64_t>()[i]);
  return c;
}

TEST_P(CkaOnDevice, ReferenceFullData) {
  BIASCKA_REQUIRE_REFERENCE(path, "cka_case.safetensors");
  const SafetensorsReader f(path);
  const CkaReferenceCase c = load_cka_reference(f);
  ASSERT_EQ(c.layers.size(), 6u);
  for (cka::Kernel k : GetParam().kernels)
    for (cka::Estimator e : {cka::Estimator::Biased, cka::Estimator::Unbiased}) {
      const std::string key = k == cka::Kernel::Linear
                                  ? std::string("cka.linear_full_") + cka::estimator_name(e)
                                  : std::string("cka.rbf1_full_") + cka::estimator_name(e);
      if (!f.contains(key)) continue;  // the reference has RBF with the biased estimator only
      SCOPED_TRACE(key);
      const cka::CkaMatrix m = cka::full_cka(c.layers, c.acts, nullptr, nullptr, options(e, k));
      EXPECT_TRUE(m.warnings.empty());
      EXPECT_TRUE(matrices_near(m.matrix, f.load(key).to_dtype(DType::F64), GetParam().reference));
    }
}

TEST_P(CkaOnDevice, ReferenceMinibatchWithShortLastBatch) {
  BIASCKA_REQUIRE_REFERENCE(path, "cka_case.safetensors");
  const SafetensorsReader f(path);
  const CkaReferenceCase c = load_cka_reference(f);
  for (cka::Estimator e : {cka::Estimator::Biased, cka::Estimator::Unbiased}) {
    const std::string name = cka::estimator_name(e);
    SCOPED_TRACE(name);
    cka::MinibatchCka acc(c.layers, {}, options(e));
    int64_t r0 = 0;
    for (int64_t n : c.batches) {
      acc.add_batch(n, [&](size_t i) { return f.load_rows("act." + c.layers[i], r0, r0 + n); });
      r0 += n;
    }
    EXPECT_EQ(acc.batches(), 6);
    EXPECT_EQ(acc.samples(), 360);
    EXPECT_TRUE(matrices_near(acc.result().matrix, f.load("cka.minibatch_" + name).to_dtype(DType::F64),
                              GetParam().reference));
    // The per-batch HSIC values themselves (each batch with its own 1/(n(n-3)) or 1/(n-1)^2), relative to
    // the largest.
    const Tensor mean_ref = f.load("hsic_mean.minibatch_" + name).to_dtype(DType::F64);
    Tensor mean = acc.hsic_sums();
    double scale = 0;
    for (int64_t i = 0; i < mean.numel(); ++i) {
      mean.data<double>()[i] /= static_cast<double>(acc.batches());
      scale = std::max(scale, std::fabs(mean_ref.data<double>()[i]));
    }
    EXPECT_TRUE(matrices_near(mean, mean_ref, GetParam().reference * scale));
  }
}

// Bootstrap and probes (cka/bootstrap.h, cka/probes.h): the kept batches add up to the accumulator's sums
// (the same float64 additions in the same order: 1e-12 relative), the intervals equal the CPU backend's
// within the CPU tolerance of small batches (each replicate is the same smooth function of the batch values),
// and a one-hot label layer equals a copy of itself (CKA 1) and is no constant layer.
TEST_P(CkaOnDevice, KeptBatchesAndIntervalsMatchTheCpu) {
  const int64_t n = 128, batch = 32;
  const Tensor onehot = cka::one_hot(rand_int({n}, 4, 5, 1), 4, "labels");
  Tensor mixed = gaussian({n, 4}, 70);
  for (int64_t i = 0; i < mixed.numel(); ++i) mixed.data<float>()[i] += 2.f * onehot.data<float>()[i];
  const std::vector<Tensor> a = {onehot, gaussian({n, 8}, 71), mixed, onehot.clone()},
                            b = {gaussian({n, 5}, 72)};
  auto run = [&](const cka::CkaOptions& o, const std::vector<Tensor>* lb) {
    cka::MinibatchCka acc({"y", "g", "m", "y2"},
                          lb ? std::vector<std::string>{"b"} : std::vector<std::string>{}, o);
    for (int64_t r0 = 0; r0 < n; r0 += batch) {
      std::vector<Tensor> xa, xb;
      for (const Tensor& t : a) xa.push_back(rows(t, r0, r0 + batch).to(o.device));
      if (lb)
        for (const Tensor& t : *lb) xb.push_back(rows(t, r0, r0 + batch).to(o.device));
      acc.add_batch(xa, lb ? &xb : nullptr);
    }
    return acc;
  };
  for (cka::Estimator e : kCkaEstimators)
    for (const std::vector<Tensor>* lb : {static_cast<const std::vector<Tensor>*>(nullptr), &b}) {
      SCOPED_TRACE(std::string(cka::estimator_name(e)) + (lb ? " cross" : " one model"));
      cka::CkaOptions o = options(e);
      o.bootstrap = 200;
      o.bootstrap_seed = 9;
      const cka::MinibatchCka acc = run(o, lb);
      const cka::BatchHistory h = acc.batch_history();
      ASSERT_EQ(h.batches, n / batch);
      const Tensor sums = acc.hsic_sums(), self_a = acc.self_hsic_a(), self_b = acc.self_hsic_b();
      auto expect_sums = [&](const std::vector<double>& kept, const Tensor& want) {
        const size_t cells = static_cast<size_t>(want.numel());
        ASSERT_EQ(kept.size(), cells * static_cast<size_t>(h.batches));
        for (size_t c = 0; c < cells; ++c) {
          double s = 0;
          for (size_t t = 0; t < static_cast<size_t>(h.batches); ++t) s += kept[t * cells + c];
          EXPECT_NEAR(s, want.data<double>()[c], 1e-12 * std::fabs(want.data<double>()[c])) << c;
        }
      };
      expect_sums(h.pairs, sums);
      expect_sums(h.self_a, self_a);
      expect_sums(h.self_b, self_b);
      const cka::CkaReport r = cka::make_report(acc, batch, false);
      const cka::CkaReport cpu = cka::make_report(run(on_cpu(o), lb), batch, false);
      EXPECT_TRUE(matrices_near(r.ci_low, cpu.ci_low, GetParam().cpu_small));
      EXPECT_TRUE(matrices_near(r.ci_high, cpu.ci_high, GetParam().cpu_small));
      EXPECT_TRUE(r.warnings.empty());
      if (!lb) EXPECT_NEAR(at(r.matrix, 0, 3), 1.0, GetParam().cpu);
    }
  cka::CkaOptions plain = options(cka::Estimator::Unbiased);
  EXPECT_THROW(run(plain, nullptr).batch_history(), Error);  // nothing kept without a bootstrap
}

// Kept Grams (accumulator.h keep_grams, row_cka; backend.h keep_rows, row_products): a layer's CKA with
// itself at another time over the same samples equals the diagonal of the cross-model matrix of the two
// times (on the CPU the same float64 rows through another product: 1e-12; on a GPU float64 row dots against
// the chunked float32 products: the cross-model tolerance), bitwise equal rows give exactly 1, rows kept
// through layer groups are those of one group (the Grams do not depend on the grouping: exact on the CPU,
// `shape` on a GPU), and the rows and their CKA match the CPU backend's.
TEST_P(CkaOnDevice, KeptGramsGiveEachLayersCkaAcrossTimes) {
  const int64_t n = 40;
  const Tensor x0 = gaussian({n, 12}, 80), x1 = gaussian({n, 7}, 81), x2 = gaussian({n, 20}, 82);
  Tensor y0 = x0.clone(), y1 = gaussian({n, 7}, 83);
  for (int64_t i = 0; i < y0.numel(); ++i) y0.data<float>()[i] += 0.3f * y1.data<float>()[i % y1.numel()];
  const std::vector<Tensor> before = {x0, x1, x2, gaussian({n, 3}, 84)}, after = {y0, y1, x2, before[3]};
  const std::vector<std::string> names = {"l0", "l1", "l2", "extra"}, kept_names = {"l0", "l1", "l2"};
  auto kept = [&](const cka::CkaOptions& o, const std::vector<Tensor>& layers, cka::MinibatchCka* keep_acc) {
    cka::MinibatchCka acc(names, {}, o);
    acc.keep_grams(3);
    EXPECT_FALSE(acc.kept_grams().defined());
    std::vector<Tensor> on;
    for (const Tensor& t : layers) on.push_back(t.to(o.device));
    acc.add_batch(on);
    if (keep_acc) *keep_acc = std::move(acc);
    return keep_acc ? keep_acc->kept_grams() : acc.kept_grams();
  };
  for (cka::Estimator e : kCkaEstimators) {
    SCOPED_TRACE(cka::estimator_name(e));
    const cka::CkaOptions o = options(e);
    cka::MinibatchCka acc({"unused"}, {}, o);
    const Tensor a = kept(o, before, &acc), b = kept(o, after, nullptr);
    ASSERT_EQ(a.shape(), (Shape{3, cka::packed_size(n, e)}));
    const std::vector<double> across = acc.row_cka(b, a);
    cka::MinibatchCka cross(kept_names, kept_names, o);
    std::vector<Tensor> ya = {y0.to(o.device), y1.to(o.device), x2.to(o.device)},
                        xb = {x0.to(o.device), x1.to(o.device), x2.to(o.device)};
    cross.add_batch(ya, &xb);
    const Tensor want = cross.result().matrix;
    for (int64_t l = 0; l < 3; ++l) EXPECT_NEAR(across[l], at(want, l, l), GetParam().joint) << l;
    EXPECT_LT(across[0], 0.99);  // the layers that changed are not 1
    EXPECT_EQ(across[2], 1.0);   // x2 did not change: bitwise equal rows
    for (const double v : acc.row_cka(a, a)) EXPECT_EQ(v, 1.0);
    for (const double v : acc.row_cka(a, a.to(Device::cpu()).to_dtype(DType::F64))) EXPECT_EQ(v, 1.0);
    // A budget of one Gram row at a time: every layer in a group of its own, the same rows kept.
    const cka::CkaOptions small = options(e, cka::Kernel::Linear, acc.gram_row_bytes(n));
    for (const double v : acc.row_cka(kept(small, before, nullptr), a)) EXPECT_NEAR(v, 1.0, GetParam().shape);
    // The CPU's rows and CKA across times.
    const Tensor ca = kept(on_cpu(o), before, nullptr), cb = kept(on_cpu(o), after, nullptr);
    for (const double v : acc.row_cka(a, ca)) EXPECT_NEAR(v, 1.0, GetParam().cpu);
    cka::MinibatchCka cpu_acc({"unused"}, {}, on_cpu(o));
    const std::vector<double> cpu_across = cpu_acc.row_cka(cb, ca);
    for (size_t l = 0; l < 3; ++l) EXPECT_NEAR(across[l], cpu_across[l], GetParam().cpu) << l;
    EXPECT_THROW(
        acc.row_cka(a, b.to(Device::cpu()).to_dtype(DType::F64).reshape({1, 3 * cka::packed_size(n, e)})),
        Error);
  }
  cka::MinibatchCka two({"a"}, {"b"}, options(cka::Estimator::Unbiased));
  EXPECT_THROW(two.keep_grams(1), Error);  // one model only
}

}  // namespace biascka::test
