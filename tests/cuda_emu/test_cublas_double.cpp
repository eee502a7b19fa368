// The cuBLAS double (cublas_double.cpp) against naive loops written from cuBLAS's definitions, its
// rejections against the documented statuses, and its stream behaviour against the stand-in runtime.
#include <cublas_v2.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "tests/cuda_emu/doubles_test_support.h"
#include "tests/cuda_emu/tf32.h"

namespace cuda_emu::testing {
namespace {

// The arguments of one column-major GEMM (batched when batch > 1).
struct GemmCase {
  bool ta, tb;
  int m, n, k, lda, ldb, ldc;
  float alpha, beta;
  int batch = 1;
  long long stride_a = 0, stride_b = 0, stride_c = 0;
  cublasComputeType_t compute = CUBLAS_COMPUTE_32F;

  int a_rows() const { return ta ? k : m; }
  int a_cols() const { return ta ? m : k; }
  int b_rows() const { return tb ? n : k; }
  int b_cols() const { return tb ? k : n; }
  // Elements a buffer needs for all batches.
  size_t a_size() const {
    return static_cast<size_t>((batch - 1) * stride_a + (a_cols() - 1) * lda + a_rows());
  }
  size_t b_size() const {
    return static_cast<size_t>((batch - 1) * stride_b + (b_cols() - 1) * ldb + b_rows());
  }
  size_t c_size() const { return static_cast<size_t>((batch - 1) * stride_c + (n - 1) * ldc + m); }
};

// C_b = alpha op(A_b) op(B_b) + beta C_b from the definition, with element (i, j) of X at X[i + j ld].
std::vector<float> reference_gemm(const GemmCase& g, const std::vector<float>& a, const std::vector<float>& b,
                                  std::vector<float> c, bool tf32) {
  auto in = [&](float v) { return static_cast<double>(tf32 ? tf32_round(v) : v); };
  for (int t = 0; t < g.batch; ++t)
    for (int j = 0; j < g.n; ++j)
      for (int i = 0; i < g.m; ++i) {
        double sum = 0;
        for (int l = 0; l < g.k; ++l) {
          const double opa = in(g.ta ? a[t * g.stride_a + l + i * g.lda] : a[t * g.stride_a + i + l * g.lda]);
          const double opb = in(g.tb ? b[t * g.stride_b + j + l * g.ldb] : b[t * g.stride_b + l + j * g.ldb]);
          sum += opa * opb;
        }
        float& out = c[t * g.stride_c + i + j * g.ldc];
        out = static_cast<float>(g.beta == 0 ? g.alpha * sum : g.alpha * sum + g.beta * double{out});
      }
  return c;
}

class CublasDouble : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(cublasCreate(&handle), CUBLAS_STATUS_SUCCESS); }
  void TearDown() override {
    if (handle) {
      EXPECT_EQ(cublasDestroy(handle), CUBLAS_STATUS_SUCCESS);
    }
  }
  cublasStatus_t gemm(const GemmCase& g, const void* a, const void* b, void* c, const float* alpha = nullptr,
                      const float* beta = nullptr, cudaDataType type = CUDA_R_32F,
                      cublasGemmAlgo_t algo = CUBLAS_GEMM_DEFAULT) {
    const float* al = alpha ? alpha : &g.alpha;
    const float* be = beta ? beta : &g.beta;
    const cublasOperation_t oa = g.ta ? CUBLAS_OP_T : CUBLAS_OP_N, ob = g.tb ? CUBLAS_OP_T : CUBLAS_OP_N;
    if (g.batch == 1 && g.stride_a == 0 && g.stride_b == 0 && g.stride_c == 0)
      return cublasGemmEx(handle, oa, ob, g.m, g.n, g.k, al, a, type, g.lda, b, type, g.ldb, be, c, type,
                          g.ldc, g.compute, algo);
    return cublasGemmStridedBatchedEx(handle, oa, ob, g.m, g.n, g.k, al, a, type, g.lda, g.stride_a, b, type,
                                      g.ldb, g.stride_b, be, c, type, g.ldc, g.stride_c, g.batch, g.compute,
                                      algo);
  }
  // Runs the case on random operands (C prefilled with `c_fill`, or random when NaN is not asked for) and
  // compares every element of C's buffer, padding included, with the reference.
  void expect_matches_reference(const GemmCase& g, bool nan_c = false) {
    const auto a = random_floats(g.a_size(), 1), b = random_floats(g.b_size(), 2);
    auto c0 = random_floats(g.c_size(), 3);
    if (nan_c)
      for (int j = 0; j < g.n; ++j)
        for (int i = 0; i < g.m; ++i) c0[i + j * g.ldc] = nan_value();
    DeviceFloats da(a), db(b), dc(c0);
    ASSERT_EQ(gemm(g, da.get(), db.get(), dc.get()), CUBLAS_STATUS_SUCCESS);
    const auto want = reference_gemm(g, a, b, c0, g.compute == CUBLAS_COMPUTE_32F_FAST_TF32);
    for (size_t i = 0; i < want.size(); ++i) ASSERT_TRUE(close(dc[i], want[i], 1.0, 1e-6)) << "element " << i;
  }

  cublasHandle_t handle = nullptr;
};

// Every transpose combination, leading dimensions larger than the rows (the padding between columns must
// stay untouched), odd sizes so that a swapped m/n/k or lda/ldb cannot pass.
TEST_F(CublasDouble, GemmMatchesTheDefinitionForEveryTranspose) {
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      SCOPED_TRACE(::testing::Message() << "ta " << ta << " tb " << tb);
      GemmCase g{ta, tb, 5, 7, 9, 0, 0, 9, 0.75f, -0.5f};
      g.lda = g.a_rows() + 3;
      g.ldb = g.b_rows() + 2;
      expect_matches_reference(g);
    }
}

TEST_F(CublasDouble, LeadingDimensionsEqualToTheRowsAreAccepted) {
  GemmCase g{true, false, 4, 3, 6, 6, 6, 4, 1.f, 0.f};
  expect_matches_reference(g);
}

TEST_F(CublasDouble, BetaZeroDoesNotReadC) {
  GemmCase g{false, true, 6, 4, 5, 6, 4, 6, -1.25f, 0.f};
  expect_matches_reference(g, true);
}

TEST_F(CublasDouble, AlphaZeroAndEmptyKDoNotReadAOrB) {
  for (int k : {0, 3}) {
    GemmCase g{false, false, 3, 2, k, 3, std::max(k, 1), 3, k ? 0.f : 1.f, 2.f};
    DeviceFloats a(9), b(6), c(random_floats(6, 4));
    a.fill(nan_value());
    b.fill(nan_value());
    const auto before = c.host();
    ASSERT_EQ(gemm(g, a.get(), b.get(), c.get()), CUBLAS_STATUS_SUCCESS);
    for (size_t i = 0; i < 6; ++i) EXPECT_EQ(c[i], 2.f * before[i]) << "k " << k;
  }
}

// The CKA product's shape (T, N) and the opposite, batches apart by more than a matrix (gaps untouched).
TEST_F(CublasDouble, StridedBatchedMatchesTheDefinitionPerBatch) {
  for (bool ta : {true, false}) {
    GemmCase g{ta, !ta, 4, 3, 8, 0, 0, 5, 1.f, 0.5f, 3};
    g.lda = g.a_rows() + 1;
    g.ldb = g.b_rows();
    g.stride_a = static_cast<long long>(g.a_cols()) * g.lda + 2;
    g.stride_b = static_cast<long long>(g.b_cols()) * g.ldb;
    g.stride_c = static_cast<long long>(g.n) * g.ldc + 1;
    expect_matches_reference(g);
  }
}

TEST_F(CublasDouble, StridedBatchedAcceptsCkasOverlappingInputBatches) {
  // cka/backend_cuda.cpp: k-chunks of the same rows, lda = the row length, stride = the chunk.
  GemmCase g{true, false, 3, 2, 4, 12, 12, 3, 1.f, 0.f, 3, 4, 4, 6};
  g.compute = CUBLAS_COMPUTE_32F_PEDANTIC;
  expect_matches_reference(g);
}

// FAST_TF32 rounds the inputs as the tensor cores do; 32F and PEDANTIC use them as they are.
TEST_F(CublasDouble, FastTf32RoundsTheInputs) {
  GemmCase g{false, false, 1, 1, 1, 1, 1, 1, 1.f, 0.f};
  const float x = 1.f + 0x1p-12f;  // not a TF32 value: rounds to 1
  DeviceFloats a(std::vector<float>{x}), b(std::vector<float>{x}), c(1);
  for (auto compute : {CUBLAS_COMPUTE_32F, CUBLAS_COMPUTE_32F_PEDANTIC, CUBLAS_COMPUTE_32F_FAST_TF32}) {
    g.compute = compute;
    ASSERT_EQ(gemm(g, a.get(), b.get(), c.get()), CUBLAS_STATUS_SUCCESS);
    EXPECT_EQ(c[0], compute == CUBLAS_COMPUTE_32F_FAST_TF32 ? 1.f : static_cast<float>(double{x} * x))
        << compute;
  }
  GemmCase big{true, true, 6, 5, 300, 300, 5, 6, 1.f, 0.f};  // k beyond one panel of the double
  big.compute = CUBLAS_COMPUTE_32F_FAST_TF32;
  expect_matches_reference(big);
}

// engine/ops/linear_cublas.cpp's mapping of a row-major product y[4, o] = x[4, 6] W[o, 6]^T: column-major
// y^T = op(W) x^T with op = T, m = o, k = 6, lda = 6. A transposed operand (op = N) reads W as o x 6 with
// leading dimension 6: past the end of W when o < 6 (refused), another product when o = 6 (which the
// parity tests then see).
TEST_F(CublasDouble, ATransposedOperandIsRefusedOrAnotherProduct) {
  for (int o : {3, 6}) {
    const auto x = random_floats(24, 7), w = random_floats(6 * o, 8);
    std::vector<float> want(4 * o);
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < o; ++j) {
        double s = 0;
        for (int l = 0; l < 6; ++l) s += double{x[i * 6 + l]} * w[j * 6 + l];
        want[i * o + j] = static_cast<float>(s);
      }
    DeviceFloats dx(x), dw(w), y(want.size());
    const float one = 1.f, zero = 0.f;
    auto run = [&](cublasOperation_t op_w) {
      return cublasGemmEx(handle, op_w, CUBLAS_OP_N, o, 4, 6, &one, dw.get(), CUDA_R_32F, 6, dx.get(),
                          CUDA_R_32F, 6, &zero, y.get(), CUDA_R_32F, o, CUBLAS_COMPUTE_32F,
                          CUBLAS_GEMM_DEFAULT);
    };
    auto max_diff = [&] {
      double d = 0;
      for (size_t i = 0; i < want.size(); ++i) d = std::max(d, std::abs(double{y[i]} - want[i]));
      return d;
    };
    ASSERT_EQ(run(CUBLAS_OP_T), CUBLAS_STATUS_SUCCESS);
    EXPECT_LT(max_diff(), 1e-6);
    if (o < 6) {
      EXPECT_EQ(run(CUBLAS_OP_N), CUBLAS_STATUS_EXECUTION_FAILED);
    } else {
      ASSERT_EQ(run(CUBLAS_OP_N), CUBLAS_STATUS_SUCCESS);
      EXPECT_GT(max_diff(), 1e-2);
    }
  }
}

// ---- Rejections: the documented status, and nothing queued. ----

class CublasRejects : public CublasDouble {
 protected:
  void expect(cublasStatus_t want, const GemmCase& g, const void* a, const void* b, void* c,
              cudaDataType type = CUDA_R_32F, cublasGemmAlgo_t algo = CUBLAS_GEMM_DEFAULT) {
    Deferred deferred;
    EXPECT_EQ(gemm(g, a, b, c, nullptr, nullptr, type, algo), want);
    EXPECT_EQ(standalone::queued().size(), want == CUBLAS_STATUS_SUCCESS ? 1u : 0u);
  }
  GemmCase ok{false, true, 4, 3, 5, 4, 3, 4, 1.f, 0.f};
  DeviceFloats a{64}, b{64}, c{64};
};

TEST_F(CublasRejects, HandlesThatDoNotExist) {
  cublasHandle_t gone = nullptr;
  ASSERT_EQ(cublasCreate(&gone), CUBLAS_STATUS_SUCCESS);
  ASSERT_EQ(cublasDestroy(gone), CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(cublasDestroy(gone), CUBLAS_STATUS_NOT_INITIALIZED);
  EXPECT_EQ(cublasSetStream(gone, nullptr), CUBLAS_STATUS_NOT_INITIALIZED);
  std::swap(gone, handle);
  expect(CUBLAS_STATUS_NOT_INITIALIZED, ok, a.get(), b.get(), c.get());
  std::swap(gone, handle);
  EXPECT_EQ(cublasCreate(nullptr), CUBLAS_STATUS_INVALID_VALUE);
}

TEST_F(CublasRejects, NegativeSizes) {
  for (int which = 0; which < 4; ++which) {
    GemmCase g = ok;
    (which == 0 ? g.m : which == 1 ? g.n : which == 2 ? g.k : g.batch) = -1;
    if (which == 3) g.stride_c = 12;  // the batched entry point
    expect(CUBLAS_STATUS_INVALID_VALUE, g, a.get(), b.get(), c.get());
  }
}

// lda >= max(1, m) under N and max(1, k) under T; ldb >= max(1, k) under N and max(1, n) under T;
// ldc >= max(1, m). One less than the bound is refused for each transpose.
TEST_F(CublasRejects, LeadingDimensionsBelowTheStoredRows) {
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      GemmCase g{ta, tb, 4, 3, 5, 0, 0, 4, 1.f, 0.f};
      g.lda = g.a_rows();
      g.ldb = g.b_rows();
      GemmCase bad_a = g, bad_b = g, bad_c = g;
      --bad_a.lda;
      --bad_b.ldb;
      --bad_c.ldc;
      expect(CUBLAS_STATUS_INVALID_VALUE, bad_a, a.get(), b.get(), c.get());
      expect(CUBLAS_STATUS_INVALID_VALUE, bad_b, a.get(), b.get(), c.get());
      expect(CUBLAS_STATUS_INVALID_VALUE, bad_c, a.get(), b.get(), c.get());
      expect(CUBLAS_STATUS_SUCCESS, g, a.get(), b.get(), c.get());
    }
  GemmCase zero{false, false, 0, 3, 0, 0, 1, 1, 1.f, 0.f};  // max(1, 0): lda 0 is refused even for m = 0
  expect(CUBLAS_STATUS_INVALID_VALUE, zero, a.get(), b.get(), c.get());
}

TEST_F(CublasRejects, BadEnumerantsAndNullScalars) {
  Deferred deferred;
  const float one = 1.f;
  EXPECT_EQ(
      cublasGemmEx(handle, CUBLAS_OP_CONJG, CUBLAS_OP_N, 4, 3, 5, &one, a.get(), CUDA_R_32F, 5, b.get(),
                   CUDA_R_32F, 5, &one, c.get(), CUDA_R_32F, 4, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
      CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_EQ(
      cublasGemmEx(handle, CUBLAS_OP_N, CUBLAS_OP_N, 4, 3, 5, nullptr, a.get(), CUDA_R_32F, 4, b.get(),
                   CUDA_R_32F, 5, &one, c.get(), CUDA_R_32F, 4, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
      CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_EQ(cublasGemmEx(handle, CUBLAS_OP_N, CUBLAS_OP_N, 4, 3, 5, &one, a.get(), CUDA_R_32F, 4, b.get(),
                         CUDA_R_32F, 5, &one, c.get(), CUDA_R_32F, 4, static_cast<cublasComputeType_t>(12345),
                         CUBLAS_GEMM_DEFAULT),
            CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_EQ(cublasGemmEx(handle, CUBLAS_OP_N, CUBLAS_OP_N, 4, 3, 5, &one, a.get(), CUDA_R_32F, 4, b.get(),
                         CUDA_R_32F, 5, &one, c.get(), CUDA_R_32F, 4, CUBLAS_COMPUTE_32F,
                         static_cast<cublasGemmAlgo_t>(50)),
            CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_TRUE(standalone::queued().empty());
}

TEST_F(CublasRejects, TypeCombinationsThatAreNotFloat) {
  expect(CUBLAS_STATUS_NOT_SUPPORTED, ok, a.get(), b.get(), c.get(), CUDA_R_16F);
  for (auto compute :
       {CUBLAS_COMPUTE_64F, CUBLAS_COMPUTE_16F, CUBLAS_COMPUTE_32I, CUBLAS_COMPUTE_32F_FAST_16BF}) {
    GemmCase g = ok;
    g.compute = compute;
    expect(CUBLAS_STATUS_NOT_SUPPORTED, g, a.get(), b.get(), c.get());
  }
}

TEST_F(CublasRejects, OperandsOutsideDeviceMemory) {
  std::vector<float> host(64);
  expect(CUBLAS_STATUS_EXECUTION_FAILED, ok, host.data(), b.get(), c.get());
  expect(CUBLAS_STATUS_EXECUTION_FAILED, ok, a.get(), host.data(), c.get());
  expect(CUBLAS_STATUS_EXECUTION_FAILED, ok, a.get(), b.get(), host.data());
  DeviceFloats short_a(ok.a_size() - 1);  // one element short of lda * (k - 1) + m
  expect(CUBLAS_STATUS_EXECUTION_FAILED, ok, short_a.get(), b.get(), c.get());
  GemmCase batched = ok;
  batched.batch = 3;
  batched.stride_a = batched.stride_b = batched.stride_c = 20;
  DeviceFloats short_c(batched.c_size() - 1);  // the last batch runs past the end
  expect(CUBLAS_STATUS_EXECUTION_FAILED, batched, a.get(), b.get(), short_c.get());
}

TEST_F(CublasRejects, OutputOverlappingAnInput) {
  expect(CUBLAS_STATUS_INVALID_VALUE, ok, a.get(), b.get(), a.get() + 2);
}

TEST_F(CublasRejects, DestroyedStream) {
  cudaStream_t s = standalone::create_stream();
  ASSERT_EQ(cublasSetStream(handle, s), CUBLAS_STATUS_SUCCESS);
  standalone::destroy_stream(s);
  expect(CUBLAS_STATUS_EXECUTION_FAILED, ok, a.get(), b.get(), c.get());
}

TEST_F(CublasRejects, WorkspacesThatAreMisalignedOrNotDevice) {
  DeviceFloats ws(1024);
  alignas(256) static float host[1024];
  EXPECT_EQ(cublasSetWorkspace(handle, ws.get(), ws.bytes()), CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(cublasSetWorkspace(handle, ws.get() + 1, 1000), CUBLAS_STATUS_INVALID_VALUE);  // 4 bytes off 256
  EXPECT_EQ(cublasSetWorkspace(handle, host, sizeof host), CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_EQ(cublasSetWorkspace(handle, ws.get(), ws.bytes() + 4), CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_EQ(cublasSetWorkspace(handle, nullptr, 0), CUBLAS_STATUS_SUCCESS);  // back to cuBLAS's own pool
}

// The workspace cuBLAS may clobber: no operand inside it, and it must outlive its use.
TEST_F(CublasRejects, OperandsInTheWorkspaceOrAWorkspaceFreedBeforeUse) {
  DeviceFloats ws(256);
  ASSERT_EQ(cublasSetWorkspace(handle, ws.get(), ws.bytes()), CUBLAS_STATUS_SUCCESS);
  expect(CUBLAS_STATUS_INVALID_VALUE, ok, a.get(), b.get(), ws.get() + 64);
  expect(CUBLAS_STATUS_INVALID_VALUE, ok, ws.get(), b.get(), c.get());
  expect(CUBLAS_STATUS_SUCCESS, ok, a.get(), b.get(), c.get());
  auto* freed = new DeviceFloats(256);
  ASSERT_EQ(cublasSetWorkspace(handle, freed->get(), freed->bytes()), CUBLAS_STATUS_SUCCESS);
  delete freed;
  expect(CUBLAS_STATUS_EXECUTION_FAILED, ok, a.get(), b.get(), c.get());
  ASSERT_EQ(cublasSetStream(handle, nullptr), CUBLAS_STATUS_SUCCESS);  // drops the workspace, as documented
  expect(CUBLAS_STATUS_SUCCESS, ok, a.get(), b.get(), c.get());
}

// ---- Stream order and the rest of the API. ----

// The call queues the product on the handle's stream; the scalars are read at the call; the handle may go
// before the work runs.
TEST_F(CublasDouble, NothingComputesBeforeTheStreamRuns) {
  Stream stream;
  ASSERT_EQ(cublasSetStream(handle, stream.s), CUBLAS_STATUS_SUCCESS);
  const GemmCase g{false, false, 3, 3, 3, 3, 3, 3, 2.f, 0.f};
  const auto av = random_floats(9, 5), bv = random_floats(9, 6);
  DeviceFloats a(av), b(bv), c(9);
  c.fill(-7.f);
  {
    Deferred deferred;
    float alpha = 2.f;
    ASSERT_EQ(gemm(g, a.get(), b.get(), c.get(), &alpha), CUBLAS_STATUS_SUCCESS);
    alpha = 100.f;
    const auto q = standalone::queued();
    ASSERT_EQ(q.size(), 1u);
    EXPECT_EQ(q[0].stream, stream.s);
    EXPECT_EQ(q[0].what, "cublasGemmEx");
    for (size_t i = 0; i < 9; ++i) EXPECT_EQ(c[i], -7.f);
    ASSERT_EQ(cublasDestroy(handle), CUBLAS_STATUS_SUCCESS);
    handle = nullptr;
  }
  const auto want = reference_gemm(g, av, bv, std::vector<float>(9, -7.f), false);
  for (size_t i = 0; i < 9; ++i) EXPECT_TRUE(close(c[i], want[i], 1.0, 1e-6));
}

TEST_F(CublasDouble, GetPropertyReportsTheHeadersVersion) {
  int v = -1;
  ASSERT_EQ(cublasGetProperty(MAJOR_VERSION, &v), CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(v, CUBLAS_VER_MAJOR);
  ASSERT_EQ(cublasGetProperty(MINOR_VERSION, &v), CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(v, CUBLAS_VER_MINOR);
  EXPECT_EQ(cublasGetProperty(MAJOR_VERSION, nullptr), CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_EQ(cublasGetProperty(static_cast<libraryPropertyType>(7), &v), CUBLAS_STATUS_INVALID_VALUE);
}

}  // namespace
}  // namespace cuda_emu::testing
