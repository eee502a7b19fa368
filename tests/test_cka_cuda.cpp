// CKA on the GPU against the CPU. The device cases (tests/cka_device_cases.h: exact self-similarity and
// symmetry, invariances, zero-variance layers, short batches, errors that leave the sums unchanged,
// cross-model blocks, layer groups under a small memory budget) with exact FP32 and with TF32 Grams. Kernels
// against their CPU twins: column means (bit-exact), the fused Gram (TF32 and FP32 variants, biased and
// U-centred, several layers per launch, n and d not multiples of the tiles, forced split-K, float4 and scalar
// loads, 64-bit offsets past 2^31 elements), the dense centring, the HSIC bookkeeping kernels. Then the
// accumulator with device "cuda" against the CPU accumulator on random and on real ResNet18 activations
// (FP32 1e-6, TF32 1e-4 on CKA values), the reference file's minibatch and full-data values, and the model
// workflow with and without overlap. Every test skips without a GPU.
//
// Tolerances. Kernel twins get the exact operands the GPU multiplies (TF32-rounded when it rounds), with
// the Gram in float64 on the CPU: the GPU's float32 accumulation over d <= 4099 differs by ~sqrt(d) 2^-24
// of the largest Gram entry, hence 3e-5 of it. CKA values: FP32 Grams differ from the CPU's float32 Grams by
// summation order only (~1e-7); TF32 operands carry 2^-11 relative rounding, which averages out over the
// Gram entries: simulated, ~3e-5 on CKA at batches of 32, ~6e-6 at 128 (falling as 1/n), within the
// issue's 1e-4.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "cka/accumulator.h"
#include "cka/centering.h"
#include "cka/full.h"
#include "cka/gram.h"
#include "data/disent.h"
#include "data/image_io.h"
#include "data/loader.h"
#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/io/safetensors.h"
#include "engine/random.h"
#include "models/resnet18.h"
#include "tests/cka_device_cases.h"
#include "tests/support/cka_fixtures.h"
#include "tests/support/test_support.h"
#include "workflows/cka_model.h"
#include "workflows/compare_models.h"

#ifdef BIASCKA_WITH_CUDA
#include "engine/cuda/check.h"
#include "engine/cuda/cka_gram.h"
#include "engine/cuda/runtime.h"
#include "kernels/kernels.h"
#endif

namespace biascka {
namespace {

using cka::CkaOptions;
using cka::Estimator;

const Device kGpu = Device::cuda(0);
constexpr Estimator kEstimators[] = {Estimator::Biased, Estimator::Unbiased};
constexpr bool kPrecisions[] = {false, true};  // tf32

const char* precision_name(bool tf32) { return tf32 ? "tf32" : "fp32"; }
double cka_tolerance(bool tf32) { return tf32 ? 1e-4 : 1e-6; }

using test::at;
using test::gaussian;
using test::matrices_near;
using test::minibatch;
using test::rows;
using test::structured_layers;

// The options of a computation on `dev`, whose math mode (TF32 or exact FP32 Grams) is set to `tf32`.
CkaOptions options(Estimator e, Device dev, bool tf32 = false) {
  CkaOptions o;
  o.estimator = e;
  o.device = dev;
  set_math_mode(dev, tf32 ? MathMode::Tf32 : MathMode::Exact);
  return o;
}

// ---- the accumulator on the GPU against the CPU ----

TEST(CkaCuda, MatchesTheCpuOnStructuredLayersWithAShortLastBatch) {
  BIASCKA_REQUIRE_GPU();
  const std::vector<Tensor> layers = structured_layers(300);
  for (Estimator e : kEstimators)
    for (bool tf32 : kPrecisions) {
      SCOPED_TRACE(std::string(cka::estimator_name(e)) + " " + precision_name(tf32));
      for (int64_t batch : {int64_t{128}, int64_t{300}}) {  // 128, 128, 44; one batch over two tiles
        const cka::CkaMatrix cpu = minibatch(layers, batch, options(e, Device::cpu()));
        const cka::CkaMatrix gpu = minibatch(layers, batch, options(e, kGpu, tf32));
        EXPECT_TRUE(matrices_near(gpu.matrix, cpu.matrix, cka_tolerance(tf32))) << "batch " << batch;
        EXPECT_TRUE(gpu.warnings.empty());
      }
    }
}

TEST(CkaCuda, HsicSumsMatchTheCpu) {
  BIASCKA_REQUIRE_GPU();
  const std::vector<Tensor> layers = structured_layers(200);
  for (Estimator e : kEstimators) {
    std::vector<std::string> names;
    for (size_t i = 0; i < layers.size(); ++i) names.push_back("l" + std::to_string(i));
    cka::MinibatchCka cpu(names, {}, options(e, Device::cpu())), gpu(names, {}, options(e, kGpu, false));
    for (int64_t r0 = 0; r0 < 200; r0 += 64) {
      std::vector<Tensor> a;
      for (const Tensor& t : layers) a.push_back(rows(t, r0, std::min<int64_t>(200, r0 + 64)));
      cpu.add_batch(a);
      gpu.add_batch(a);  // CPU tensors: uploaded by the accumulator
    }
    EXPECT_EQ(gpu.batches(), 4);
    EXPECT_EQ(gpu.samples(), 200);
    const Tensor hc = cpu.hsic_sums(), hg = gpu.hsic_sums();
    const Tensor sc = cpu.self_hsic_a(), sg = gpu.self_hsic_a();
    for (int64_t i = 0; i < hc.numel(); ++i) {
      const int64_t r = i / hc.size(1), c = i % hc.size(1);
      const double scale = std::sqrt(sc.data<double>()[r] * sc.data<double>()[c]);
      EXPECT_NEAR(hg.data<double>()[i], hc.data<double>()[i], 1e-6 * scale)
          << cka::estimator_name(e) << " " << i;
    }
    EXPECT_GT(gpu.timing().gram_flops, 0);
    EXPECT_GT(gpu.timing().hsic_s, 0);
  }
}

// Real activations: a ResNet18 on the GPU over 300 random 28x28 images in batches of 128 (128, 128, 44);
// emulated, 76 of 12x12 in batches of 32 (32, 32, 12).
TEST(CkaCuda, MatchesTheCpuOnResNet18Activations) {
  BIASCKA_REQUIRE_GPU();
  ResNet18 model(ResNet18Config{}, 11, kGpu);
  model.eval();
  const std::vector<std::string> names = model.layer_names();
  const int64_t total = test::emulated() ? 76 : 300, batch = test::emulated() ? 32 : 128;
  const int64_t side = test::emulated() ? 12 : 28;
  const Tensor images = rand_normal({total, side, side, 3}, 0.f, 1.f, 99);
  std::vector<std::vector<Tensor>> batches;
  {
    NoGrad ng;
    for (int64_t r0 = 0; r0 < total; r0 += batch) {
      std::vector<Tensor> acts(names.size());
      size_t i = 0;
      model.forward(rows(images, r0, std::min(total, r0 + batch)).to(kGpu),
                    [&](const std::string&, const Tensor& t) { acts[i++] = t; });
      ASSERT_EQ(i, names.size());
      batches.push_back(std::move(acts));
    }
  }
  for (Estimator e : kEstimators) {
    cka::MinibatchCka cpu(names, {}, options(e, Device::cpu()));
    for (const auto& b : batches) cpu.add_batch(b);
    const Tensor want = cpu.result().matrix;
    for (bool tf32 : kPrecisions) {
      SCOPED_TRACE(std::string(cka::estimator_name(e)) + " " + precision_name(tf32));
      cka::MinibatchCka gpu(names, {}, options(e, kGpu, tf32));
      for (const auto& b : batches) gpu.add_batch(b);
      const cka::CkaMatrix got = gpu.result();
      EXPECT_TRUE(matrices_near(got.matrix, want, cka_tolerance(tf32)));
      const int64_t l = static_cast<int64_t>(names.size());
      for (int64_t i = 0; i < l; ++i) {
        if (std::isnan(at(got.matrix, i, i))) continue;  // a dead layer: NaN on both devices (checked above)
        EXPECT_EQ(at(got.matrix, i, i), 1.0) << names[i];
        for (int64_t j = 0; j < l; ++j) EXPECT_EQ(at(got.matrix, i, j), at(got.matrix, j, i));
      }
      // Eval mode: dropout is the identity, so its CKA with avgpool is 1.
      const auto idx = [&](const std::string& n) {
        return std::find(names.begin(), names.end(), n) - names.begin();
      };
      EXPECT_NEAR(at(got.matrix, idx("avgpool"), idx("dropout")), 1.0, 1e-6);
    }
  }
}

// Activations dropped right after add_batch while the next "forward pass" reuses their memory: the
// accumulator keeps them until its stream has read them, so overlap changes nothing.
TEST(CkaCuda, OverlapKeepsActivationsAliveUntilRead) {
  BIASCKA_REQUIRE_GPU();
  const int64_t n = test::emulated() ? 160 : 256, d = test::emulated() ? 2000 : 50000;
  for (bool overlap : {false, true}) {
    CkaOptions o = options(Estimator::Unbiased, kGpu);
    o.overlap = overlap;
    cka::MinibatchCka acc({"p", "q"}, {}, o);
    for (uint64_t k = 0; k < 4; ++k) {
      {
        const Tensor p = rand_normal({n, d}, 0.f, 1.f, 7, k).to(kGpu);
        Tensor q = p.clone();
        acc.add_batch({p, q});
      }
      // The freed blocks are the allocator's first choice for this same-sized tensor; overwritten at once.
      Tensor junk = Tensor::empty({n, d}, DType::F32, kGpu);
      junk.fill(123.0);
    }
    EXPECT_NEAR(at(acc.result().matrix, 0, 1), 1.0, 1e-9) << (overlap ? "overlap" : "no overlap");
  }
}

// ---- the model workflow on the GPU ----

TEST(CkaCuda, ModelWorkflowOnTheGpu) {
  BIASCKA_REQUIRE_GPU();
  const std::string dir = test::cka_image_split("cka_cuda_model");
  ResNet18 a(ResNet18Config{}, 1, kGpu), b(ResNet18Config{}, 2, kGpu);
  data::LoaderOptions lo;
  lo.batch = 8;  // 8, 8, 4
  lo.workers = 1;
  lo.norm = data::normalization_for(dir);
  data::Loader loader(data::scan_split(dir), lo);
  workflows::CkaModelOptions o;
  o.progress = workflows::ProgressMode::Quiet;
  set_math_mode(kGpu, MathMode::Exact);
  // The CPU's accumulation of the same (GPU) forward passes.
  const cka::CkaReport cpu = workflows::cka_of_models(a, nullptr, loader, o);
  o.cka.device = kGpu;
  const cka::CkaReport gpu = workflows::cka_of_models(a, nullptr, loader, o);
  o.cka.overlap = false;
  const cka::CkaReport serial = workflows::cka_of_models(a, nullptr, loader, o);
  EXPECT_EQ(gpu.batches, 3);
  EXPECT_TRUE(matrices_near(gpu.matrix, cpu.matrix, 1e-6));
  for (int64_t i = 0; i < gpu.matrix.numel(); ++i)
    EXPECT_EQ(gpu.matrix.data<double>()[i], serial.matrix.data<double>()[i])
        << "overlap changes nothing, " << i;
  // Cross-model, and full data (one batch of all 20 images, concatenated on the GPU).
  o.cka.overlap = true;
  o.layers = "layer4\\..*";
  const cka::CkaReport cross = workflows::cka_of_models(a, &b, loader, o);
  o.cka.device = Device::cpu();
  EXPECT_TRUE(matrices_near(cross.matrix, workflows::cka_of_models(a, &b, loader, o).matrix, 1e-6));
  o.layers = "all";
  o.full = true;
  o.cka.estimator = Estimator::Biased;
  const cka::CkaReport full_cpu = workflows::cka_of_models(a, nullptr, loader, o);
  o.cka.device = kGpu;
  const cka::CkaReport full_gpu = workflows::cka_of_models(a, nullptr, loader, o);
  EXPECT_EQ(full_gpu.batches, 1);
  EXPECT_TRUE(matrices_near(full_gpu.matrix, full_cpu.matrix, 1e-6));
}

// compare on the GPU (the stacked accumulator on the device, its kept batches for each model's intervals,
// models run again under a small Gram budget) against the same computation on the CPU.
TEST(CkaCuda, CompareOnTheGpu) {
  BIASCKA_REQUIRE_GPU();
  const std::string dir = test::cka_image_split("cka_cuda_compare");
  ResNet18 a(ResNet18Config{}, 1, kGpu), b(ResNet18Config{}, 2, kGpu), c(ResNet18Config{}, 3, kGpu);
  data::LoaderOptions lo;
  lo.batch = 8;  // 8, 8, 4
  lo.workers = 1;
  lo.norm = data::normalization_for(dir);
  data::Loader loader(data::scan_split(dir), lo);
  const std::vector<workflows::ComparedModel> models = {
      {"a", "x", "", &a, 1}, {"b", "x", "", &b, 2}, {"c", "y", "", &c, 3}};
  workflows::CompareOptions o;
  o.progress = workflows::ProgressMode::Quiet;
  o.layers = "layer4\\..*";
  o.probes = {"target", "bias"};
  o.cka.bootstrap = 100;
  set_math_mode(kGpu, MathMode::Exact);
  const workflows::CompareResult cpu = workflows::compare_models(models, loader, o);
  o.cka.device = kGpu;
  const workflows::CompareResult gpu = workflows::compare_models(models, loader, o);
  EXPECT_TRUE(matrices_near(gpu.stacked.matrix, cpu.stacked.matrix, 1e-6));
  for (size_t m = 0; m < models.size(); ++m) {
    EXPECT_TRUE(matrices_near(gpu.own[m].matrix, cpu.own[m].matrix, 1e-6)) << m;
    ASSERT_TRUE(gpu.own[m].ci_low.defined()) << m;
    // The same resampled batches: intervals move only as much as the values they come from.
    EXPECT_TRUE(matrices_near(gpu.own[m].ci_low, cpu.own[m].ci_low, 1e-6)) << m;
    EXPECT_TRUE(matrices_near(gpu.own[m].probes.value, cpu.own[m].probes.value, 1e-6)) << m;
  }
  o.cka.gram_memory = 3 * 28 * sizeof(float);  // groups of one layer: models run again, same result
  const workflows::CompareResult grouped = workflows::compare_models(models, loader, o);
  EXPECT_GT(grouped.forward_passes, gpu.forward_passes);
  EXPECT_TRUE(matrices_near(grouped.stacked.matrix, gpu.stacked.matrix, 1e-6));
}

#ifdef BIASCKA_WITH_CUDA

// ---- kernels against their CPU twins ----

// The packed centred Gram the GPU should produce for x [n, d] (CPU twins of its operands, the Gram of those
// operands in float64, centred in float64), and the Gram's largest entry.
std::vector<double> twin_packed(const Tensor& x, Estimator e, bool tf32, double* k_max) {
  const int64_t n = x.size(0), d = x.numel() / n;
  std::vector<float> mu(static_cast<size_t>(d)), a(static_cast<size_t>(n * d));
  cka::column_means(x.data<float>(), n, d, mu.data());
  cka::centred_operands(x.data<float>(), n, d, mu.data(), tf32, a.data());
  Tensor k = Tensor::empty({n, n}, DType::F64);
  double* kp = k.data<double>();
  *k_max = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i; j < n; ++j) {
      double s = 0;
      for (int64_t c = 0; c < d; ++c) s += double(a[i * d + c]) * a[j * d + c];
      kp[i * n + j] = kp[j * n + i] = s;
      *k_max = std::max(*k_max, std::fabs(s));
    }
  const Tensor u = cka::center_gram(k, e);
  std::vector<double> out(static_cast<size_t>(cka::packed_size(n, e)));
  size_t p = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i + 1; j < n; ++j) out[p++] = u.data<double>()[i * n + j];
  if (e == Estimator::Biased)
    for (int64_t i = 0; i < n; ++i) out[p++] = u.data<double>()[i * n + i] * M_SQRT1_2;
  return out;
}

TEST(CkaCudaKernels, ColumnMeansAreBitExact) {
  BIASCKA_REQUIRE_GPU();
  const int64_t n = 37;
  const std::vector<int64_t> widths = {1, 3, 4, 10, 33, 1000};
  std::vector<Tensor> xs;
  kernels::CkaGramBatch b{};
  int64_t cols = 0;
  for (size_t l = 0; l < widths.size(); ++l) {
    xs.push_back(gaussian({n, widths[l]}, 70 + l, 5.f).to(kGpu));
    b.layers[l].x = xs.back().data<float>();
    b.layers[l].d = widths[l];
    b.layers[l].col_offset = cols;
    cols += (widths[l] + 3) / 4 * 4;
  }
  b.count = static_cast<int32_t>(widths.size());
  b.n = n;
  b.total_cols = cols;
  Tensor mu = Tensor::zeros({cols}, DType::F32, kGpu);
  b.mu = mu.data<float>();
  kernels::cka_column_means(b, cuda::stream(0));
  const Tensor got = mu.to(Device::cpu());
  for (size_t l = 0; l < widths.size(); ++l) {
    const Tensor h = xs[l].to(Device::cpu());
    std::vector<float> want(static_cast<size_t>(widths[l]));
    cka::column_means(h.data<float>(), n, widths[l], want.data());
    for (int64_t c = 0; c < widths[l]; ++c)
      EXPECT_EQ(got.data<float>()[b.layers[l].col_offset + c], want[c]) << "layer " << l << " column " << c;
  }
}

TEST(CkaCudaKernels, Tf32RoundingMatchesTheCpuTwin) {
  BIASCKA_REQUIRE_GPU();
  // One column: the Gram is the outer product of the TF32 operands, exact in float32 (11-bit mantissas) on
  // both sides, so an operand rounded otherwise than the twin (truncation, ties) shows at 2^-11.
  const std::vector<float> v = {1.f + 0x1p-11f, -1.f - 3 * 0x1p-12f, 0.7f, 1.2345678e-3f};
  for (float x0 : v) {
    const Tensor x = Tensor::from_vector(std::vector<float>{x0, -x0, x0 * 0.25f, 0.f}, {4, 1});
    double k_max = 0;
    const std::vector<double> want = twin_packed(x, Estimator::Biased, true, &k_max);
    cuda::CudaGramBuilder builder(0);
    const Tensor xd = x.to(kGpu);
    Tensor g = Tensor::zeros({cka::packed_size(4, Estimator::Biased)}, DType::F32, kGpu);
    set_math_mode(kGpu, MathMode::Tf32);
    builder.build({xd.data<float>()}, {1}, 4, /*unbiased=*/false, g.data<float>(), g.numel(),
                  cuda::stream(0));
    const Tensor h = g.to(Device::cpu());
    for (size_t p = 0; p < want.size(); ++p)
      EXPECT_NEAR(h.data<float>()[p], want[p], 1e-6 * k_max + 1e-30) << x0 << " at " << p;
  }
}

TEST(CkaCudaKernels, FusedGramMatchesTheCpuTwin) {
  BIASCKA_REQUIRE_GPU();
  // Several layers per launch: widths for the scalar (odd) and float4 paths, below one k-tile and past many
  // (emulated: past five, enough for three slices of two).
  const std::vector<int64_t> widths = test::emulated()
                                          ? std::vector<int64_t>{1, 3, 8, 31, 33, 157, 160}
                                          : std::vector<int64_t>{1, 3, 8, 31, 33, 257, 4099, 4100};
  const std::vector<int64_t> sizes = test::emulated() ? std::vector<int64_t>{4, 128, 129, 300}
                                                      : std::vector<int64_t>{4, 20, 127, 128, 129, 300};
  cuda::CudaGramBuilder builder(0);
  for (int64_t n : sizes) {
    std::vector<Tensor> host, dev;
    std::vector<const float*> ptrs;
    for (size_t l = 0; l < widths.size(); ++l) {
      host.push_back(gaussian({n, widths[l]}, 100 * n + l, l % 2 ? 3.f : 0.f));  // some with a common offset
      dev.push_back(host.back().to(kGpu));
      ptrs.push_back(dev.back().data<float>());
    }
    for (bool tf32 : kPrecisions)
      for (Estimator e : kEstimators) {
        std::vector<std::vector<double>> want(widths.size());
        std::vector<double> k_max(widths.size());
        for (size_t l = 0; l < widths.size(); ++l) want[l] = twin_packed(host[l], e, tf32, &k_max[l]);
        for (int64_t split : {int64_t{0}, int64_t{1}, int64_t{3}}) {
          SCOPED_TRACE("n " + std::to_string(n) + " " + precision_name(tf32) + " " + cka::estimator_name(e) +
                       " k-tiles per slice " + std::to_string(split));
          builder.k_tiles_per_split = split;
          const int64_t ld = cka::packed_size(n, e) + 3;  // rows at unaligned offsets
          Tensor g = Tensor::full({static_cast<int64_t>(widths.size()), ld}, -7.0, DType::F32, kGpu);
          set_math_mode(kGpu, tf32 ? MathMode::Tf32 : MathMode::Exact);
          builder.build(ptrs, widths, n, e == Estimator::Unbiased, g.data<float>(), ld, cuda::stream(0));
          const Tensor h = g.to(Device::cpu());
          for (size_t l = 0; l < widths.size(); ++l) {
            const float* row = h.data<float>() + l * ld;
            double worst = 0;
            size_t worst_at = 0;
            for (size_t p = 0; p < want[l].size(); ++p)
              if (!(std::fabs(row[p] - want[l][p]) <= worst))
                worst = std::fabs(row[p] - want[l][p]), worst_at = p;
            EXPECT_LE(worst, 3e-5 * k_max[l] + 1e-30) << "layer of width " << widths[l] << ": at " << worst_at
                                                      << " " << row[worst_at] << " vs " << want[l][worst_at];
            for (int64_t p = cka::packed_size(n, e); p < ld; ++p) EXPECT_EQ(row[p], -7.f) << "past the row";
          }
        }
      }
  }
}

// Past 2^31 elements: n = 520 rows of 4.2M features (8.7 GB), zero but for a few columns, some at the very
// end. Under the emulation (host memory, CPU speed) the same layout at 20 x 4099: columns at the very end of
// long rows, scalar and float4 loads, but not the 64-bit offsets, which only a device run checks.
TEST(CkaCudaKernels, FusedGramPast2To31Elements) {
  BIASCKA_REQUIRE_GPU();
  const int64_t n = test::emulated() ? 20 : 520, d_max = test::emulated() ? 4099 : 4200007;
  size_t free_b = 0, total_b = 0;
  BIASCKA_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
  if (free_b < size_t(12) << 30)
    GTEST_SKIP() << "needs 12 GiB of free GPU memory, " << (free_b >> 20) << " MiB free";
  Tensor big = Tensor::empty({n * d_max}, DType::F32, kGpu);
  cuda::CudaGramBuilder builder(0);
  for (int64_t d : {d_max, d_max - 3}) {  // scalar loads, float4 loads
    BIASCKA_CUDA_CHECK(cudaMemset(big.raw_data(), 0, big.nbytes()));
    std::vector<int64_t> cols = {0, 5, d_max * 3 / 10, d - 33, d - 5, d - 2, d - 1};
    Tensor dense = gaussian({n, static_cast<int64_t>(cols.size())}, 200 + d, 1.f);
    for (size_t c = 0; c < cols.size(); ++c) {
      std::vector<float> column(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) column[i] = dense.data<float>()[i * cols.size() + c];
      BIASCKA_CUDA_CHECK(cudaMemcpy2D(big.data<float>() + cols[c], d * sizeof(float), column.data(),
                                      sizeof(float), sizeof(float), n, cudaMemcpyHostToDevice));
    }
    // The copies ran on the legacy stream, which the kernels' non-blocking stream does not wait for.
    BIASCKA_CUDA_CHECK(cudaDeviceSynchronize());
    for (bool tf32 : kPrecisions) {
      SCOPED_TRACE(std::to_string(d) + " " + precision_name(tf32));
      const Estimator e = Estimator::Unbiased;
      double k_max = 0;
      const std::vector<double> want = twin_packed(dense, e, tf32, &k_max);  // zero columns add nothing
      Tensor g = Tensor::zeros({cka::packed_size(n, e)}, DType::F32, kGpu);
      set_math_mode(kGpu, tf32 ? MathMode::Tf32 : MathMode::Exact);
      builder.build({big.data<float>()}, {d}, n, e == Estimator::Unbiased, g.data<float>(), g.numel(),
                    cuda::stream(0));
      const Tensor h = g.to(Device::cpu());
      double worst = 0;
      for (size_t p = 0; p < want.size(); ++p)
        worst = std::max(worst, std::fabs(h.data<float>()[p] - want[p]));
      EXPECT_LE(worst, 3e-5 * k_max);
    }
  }
}

TEST(CkaCudaKernels, DenseCentringMatchesTheCpuTwin) {
  BIASCKA_REQUIRE_GPU();
  for (int64_t n : {int64_t{4}, int64_t{37}, int64_t{300}}) {
    const Tensor k = cka::gram(gaussian({n, 9}, 300 + n, 2.f));
    for (Estimator e : kEstimators) {
      std::vector<double> want(static_cast<size_t>(cka::packed_size(n, e)));
      cka::center_gram_packed(k.data<float>(), n, e, want.data());
      const Tensor kd = k.to(kGpu);
      Tensor g = Tensor::zeros({static_cast<int64_t>(want.size())}, DType::F32, kGpu);
      Tensor scratch = Tensor::zeros({n}, DType::F64, kGpu);
      kernels::cka_center_dense(kd.data<float>(), n, e == Estimator::Unbiased, g.data<float>(),
                                scratch.data<double>(), cuda::stream(0));
      const Tensor h = g.to(Device::cpu());
      for (size_t p = 0; p < want.size(); ++p)
        EXPECT_NEAR(h.data<float>()[p], want[p], 1e-6 * std::fabs(want[p]) + 1e-9) << n << " " << p;
    }
  }
}

TEST(CkaCudaKernels, HsicBookkeeping) {
  BIASCKA_REQUIRE_GPU();
  // Three chunks of 2 x 3 products, recorded at (0, 2) of a 6 x 6 matrix with a mirror (the two blocks apart,
  // as the accumulator's off-diagonal blocks are); row dots; accumulate.
  std::vector<float> p(18);
  for (size_t i = 0; i < p.size(); ++i) p[i] = 0.5f * float(i) - 3.f;
  const Tensor pd = Tensor::from_vector(p, {18}, kGpu);
  Tensor out = Tensor::zeros({6, 6}, DType::F64, kGpu);
  kernels::cka_record_products(pd.data<float>(), 3, 2, 3, 0.25, out.data<double>(), 6, 0, 2, false, true,
                               cuda::stream(0));
  const Tensor h = out.to(Device::cpu());
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 3; ++j) {
      const double want = 0.25 * (double(p[i * 3 + j]) + p[6 + i * 3 + j] + p[12 + i * 3 + j]);
      EXPECT_EQ(at(h, i, 2 + j), want);
      EXPECT_EQ(at(h, 2 + j, i), want);
    }
  // Symmetric: the lower triangle takes the upper one's value.
  Tensor sym = Tensor::zeros({2, 2}, DType::F64, kGpu);
  kernels::cka_record_products(pd.data<float>(), 1, 2, 2, 1.0, sym.data<double>(), 2, 0, 0, true, false,
                               cuda::stream(0));
  const Tensor s = sym.to(Device::cpu());
  EXPECT_EQ(at(s, 1, 0), double(p[1]));
  EXPECT_EQ(at(s, 0, 1), double(p[1]));
  Tensor dots = Tensor::zeros({3}, DType::F64, kGpu);
  kernels::cka_row_dots(pd.data<float>(), 3, 5, 6, 2.0, dots.data<double>(), cuda::stream(0));
  const Tensor dh = dots.to(Device::cpu());
  for (int64_t r = 0; r < 3; ++r) {
    double want = 0;
    for (int64_t j = 0; j < 5; ++j) want += double(p[r * 6 + j]) * p[r * 6 + j];
    EXPECT_DOUBLE_EQ(dh.data<double>()[r], 2.0 * want);
  }
  // Rows of two operands with other strides (the CKA of a layer at two times): rows of p (stride 6) against
  // rows of p shifted by one (stride 7, an overlapping view).
  kernels::cka_row_products(pd.data<float>(), 6, pd.data<float>() + 1, 7, 2, 5, 0.5, dots.data<double>(),
                            cuda::stream(0));
  const Tensor ph = dots.to(Device::cpu());
  for (int64_t r = 0; r < 2; ++r) {
    double want = 0;
    for (int64_t j = 0; j < 5; ++j) want += double(p[r * 6 + j]) * p[1 + r * 7 + j];
    EXPECT_DOUBLE_EQ(ph.data<double>()[r], 0.5 * want);
  }
  Tensor acc = Tensor::full({3}, 1.0, DType::F64, kGpu);
  kernels::cka_accumulate(acc.data<double>(), out.data<double>() + 2, 3, 7, cuda::stream(0));  // a diagonal
  const Tensor ah = acc.to(Device::cpu());
  for (int64_t i = 0; i < 3; ++i) EXPECT_EQ(ah.data<double>()[i], 1.0 + h.data<double>()[2 + 7 * i]);
}

#endif  // BIASCKA_WITH_CUDA

}  // namespace

namespace test {
INSTANTIATE_TEST_SUITE_P(Cuda, CkaOnDevice, ::testing::Values(cka_cuda(false), cka_cuda(true)),
                         cka_device_name);
}  // namespace test

}  // namespace biascka
