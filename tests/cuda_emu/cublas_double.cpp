// CPU test double of the cuBLAS calls biascka makes, for the -DBIASCKA_CUDA_EMULATION=ON build (test
// infrastructure, never the product): cublasCreate/Destroy, cublasSetStream, cublasSetWorkspace,
// cublasGetProperty, cublasGemmEx and cublasGemmStridedBatchedEx, with the prototypes and types of the real
// <cublas_v2.h>.
//
// Semantics (cuBLAS documentation): column-major C = alpha op(A) op(B) + beta C with op(A) m x k, op(B)
// k x n, C m x n; element (i, j) of a matrix X with leading dimension ld is X[i + j ld]; op = N keeps the
// stored matrix, T and C (the same for real types) transpose it, so A is stored m x k under N and k x m
// under T. Batched: matrix b of each operand starts stride_X elements after matrix b - 1. Scalars are read
// from host memory at the call (the default CUBLAS_POINTER_MODE_HOST). beta == 0 does not read C (NaN
// there must not leak); alpha == 0 or k == 0 does not read A or B.
//
// Numerics: float64 accumulation of float32 products, rounded to float once per element by the blend.
// CUBLAS_COMPUTE_32F and _32F_PEDANTIC use the inputs as they are (the default math mode never uses
// TF32); CUBLAS_COMPUTE_32F_FAST_TF32 first rounds every A and B element to TF32 (tf32.h, what the tensor
// cores see), so callers' TF32 tolerances are exercised. A real GPU's FP32 result differs from this one by
// its float32 accumulation only (~k 2^-24 relative at worst), which tolerances for a device cover.
//
// Validation, in this order. Statuses marked (*) are the double's choice where the documentation names
// none (the real library would crash, fault later on the GPU, or compute garbage); the others are documented.
//   CUBLAS_STATUS_NOT_INITIALIZED: the handle never created or destroyed (*).
//   CUBLAS_STATUS_INVALID_VALUE: m, n, k or batchCount < 0; transa or transb not N, T or C;
//     lda < max(1, rows of A as stored), ldb < max(1, rows of B as stored), ldc < max(1, m);
//     alpha or beta NULL; computeType or algo not an enumerant; C overlapping A or B, an operand
//     overlapping the workspace set by cublasSetWorkspace (*);
//     cublasSetWorkspace: a workspace not 256-byte aligned, or not device memory (*).
//   CUBLAS_STATUS_NOT_SUPPORTED: an operand type other than CUDA_R_32F, a compute type that is not a
//     float one.
//   CUBLAS_STATUS_EXECUTION_FAILED: an operand's range (all batches) outside one cudaMalloc allocation:
//     a host pointer, a buffer too short for its leading dimension or stride (*); the workspace set by
//     cublasSetWorkspace no longer device memory (*); the handle's stream destroyed (*).
// Every rejection prints one line on stderr saying why. Not implemented (valid in cuBLAS, never called by
// biascka): other operand types, the _FAST_16F/_FAST_16BF/_EMULATED compute types, device pointer mode,
// cublasSetMathMode; they are refused with CUBLAS_STATUS_NOT_SUPPORTED and a note saying so.
//
// Timing: no computation happens in the call. It validates, reads the scalars, then queues the product on
// the handle's stream (cuda_emu::enqueue), capturing everything by value.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "tests/cuda_emu/double_common.h"
#include "tests/cuda_emu/emu_stream.h"
#include "tests/cuda_emu/tf32.h"

struct cublasContext {
  cudaStream_t stream = nullptr;  // the legacy default stream until cublasSetStream
  void* workspace = nullptr;      // cublasSetWorkspace's buffer; recorded, the double needs none
  size_t workspace_bytes = 0;
};

namespace cuda_emu {
namespace {

Registry<cublasContext>& handles() { return registry<cublasContext>(); }

// One (batched) product, everything the queued work needs, by value.
struct Gemm {
  bool ta, tb;
  int64_t m, n, k, batch;
  double alpha, beta;
  const float* a;
  int64_t lda, stride_a;
  const float* b;
  int64_t ldb, stride_b;
  float* c;
  int64_t ldc, stride_c;
  bool tf32;
};

// op(A) and op(B) are copied to float64 in panels of this many k-columns: the inner loop then runs over
// contiguous memory whatever the transposes, and the copies stay small for long k (CKA's Gram products).
constexpr int64_t kPanel = 256;

void run_gemm(const Gemm& g) {
  const int64_t m = g.m, n = g.n, k = g.k;
  const bool product = g.alpha != 0.0 && k > 0;
  std::vector<double> acc(product ? m * n : 0), ap(product ? m * std::min(k, kPanel) : 0),
      bp(product ? std::min(k, kPanel) * n : 0);
  auto load = [&](float v) { return static_cast<double>(g.tf32 ? tf32_round(v) : v); };
  for (int64_t t = 0; t < g.batch; ++t) {
    const float* A = g.a + t * g.stride_a;
    const float* B = g.b + t * g.stride_b;
    float* C = g.c + t * g.stride_c;
    if (product) {
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t l0 = 0; l0 < k; l0 += kPanel) {
        const int64_t kl = std::min(kPanel, k - l0);
        for (int64_t l = 0; l < kl; ++l)  // ap: op(A)[:, l0 + l], column-major m x kl
          for (int64_t i = 0; i < m; ++i)
            ap[l * m + i] = load(g.ta ? A[(l0 + l) + i * g.lda] : A[i + (l0 + l) * g.lda]);
        for (int64_t j = 0; j < n; ++j)  // bp: op(B)[l0.., j], column-major kl x n
          for (int64_t l = 0; l < kl; ++l)
            bp[j * kl + l] = load(g.tb ? B[j + (l0 + l) * g.ldb] : B[(l0 + l) + j * g.ldb]);
        for (int64_t j = 0; j < n; ++j) {
          double* cj = &acc[j * m];
          for (int64_t l = 0; l < kl; ++l) {
            const double bv = bp[j * kl + l];
            const double* al = &ap[l * m];
            for (int64_t i = 0; i < m; ++i) cj[i] += al[i] * bv;
          }
        }
      }
    }
    for (int64_t j = 0; j < n; ++j)
      for (int64_t i = 0; i < m; ++i)
        blend(&C[i + j * g.ldc], product ? acc[j * m + i] : 0.0, g.alpha, g.beta);
  }
}

// The bytes `batch` column-major rows x cols matrices touch, `stride` elements apart (a stride may be 0 or
// negative): [lo, hi) relative to the first matrix, in bytes.
struct Range {
  int64_t lo, hi;
};
Range matrix_range(int64_t rows, int64_t cols, int64_t ld, int64_t stride, int64_t batch) {
  const int64_t one = (cols - 1) * ld + rows, last = (batch - 1) * stride;
  return {std::min<int64_t>(0, last) * 4, (std::max<int64_t>(0, last) + one) * 4};
}
const void* shifted(const void* p, int64_t bytes) {
  return reinterpret_cast<const void*>(reinterpret_cast<uintptr_t>(p) + static_cast<uintptr_t>(bytes));
}

bool is_op(cublasOperation_t op) { return op == CUBLAS_OP_N || op == CUBLAS_OP_T || op == CUBLAS_OP_C; }

bool is_compute_type(cublasComputeType_t t) {
  switch (t) {
    case CUBLAS_COMPUTE_16F:
    case CUBLAS_COMPUTE_16F_PEDANTIC:
    case CUBLAS_COMPUTE_32F:
    case CUBLAS_COMPUTE_32F_PEDANTIC:
    case CUBLAS_COMPUTE_32F_FAST_16F:
    case CUBLAS_COMPUTE_32F_FAST_16BF:
    case CUBLAS_COMPUTE_32F_FAST_TF32:
    case CUBLAS_COMPUTE_32F_EMULATED_16BFX9:
    case CUBLAS_COMPUTE_64F:
    case CUBLAS_COMPUTE_64F_PEDANTIC:
    case CUBLAS_COMPUTE_64F_EMULATED_FIXEDPOINT:
    case CUBLAS_COMPUTE_32I:
    case CUBLAS_COMPUTE_32I_PEDANTIC:
      return true;
  }
  return false;
}

bool is_gemm_algo(cublasGemmAlgo_t a) {
  const int v = static_cast<int>(a);
  return v == CUBLAS_GEMM_DEFAULT || (v >= CUBLAS_GEMM_ALGO0 && v <= CUBLAS_GEMM_ALGO23) ||
         (v >= CUBLAS_GEMM_DEFAULT_TENSOR_OP && v <= CUBLAS_GEMM_ALGO15_TENSOR_OP) ||
         v == CUBLAS_GEMM_AUTOTUNE;
}

// Float operands with a float compute type: the only configurations the double implements.
cublasStatus_t check_types(const char* api, cudaDataType at, cudaDataType bt, cudaDataType ct,
                           cublasComputeType_t compute) {
  if (at != CUDA_R_32F || bt != CUDA_R_32F || ct != CUDA_R_32F) {
    reject_note(api, "operand types other than CUDA_R_32F are not implemented in the double");
    return CUBLAS_STATUS_NOT_SUPPORTED;
  }
  switch (compute) {
    case CUBLAS_COMPUTE_32F:
    case CUBLAS_COMPUTE_32F_PEDANTIC:
    case CUBLAS_COMPUTE_32F_FAST_TF32:
      return CUBLAS_STATUS_SUCCESS;
    case CUBLAS_COMPUTE_32F_FAST_16F:
    case CUBLAS_COMPUTE_32F_FAST_16BF:
    case CUBLAS_COMPUTE_32F_EMULATED_16BFX9:
      reject_note(api, "this float compute type is valid in cuBLAS but not implemented in the double");
      return CUBLAS_STATUS_NOT_SUPPORTED;
    default:
      reject_note(api, "a half, double or integer compute type with CUDA_R_32F operands");
      return CUBLAS_STATUS_NOT_SUPPORTED;
  }
}

cublasStatus_t invalid(const char* api, const std::string& why) {
  reject_note(api, why);
  return CUBLAS_STATUS_INVALID_VALUE;
}

// The argument checks cuBLAS documents for GEMM (see the file top), in its order.
cublasStatus_t check_arguments(const char* api, cublasHandle_t handle, cublasOperation_t transa,
                               cublasOperation_t transb, int m, int n, int k, const void* alpha, int lda,
                               int ldb, const void* beta, int ldc, int batch, cublasComputeType_t compute,
                               cublasGemmAlgo_t algo) {
  if (!handles().alive(handle)) {
    reject_note(api, "handle was never created or is destroyed");
    return CUBLAS_STATUS_NOT_INITIALIZED;
  }
  if (m < 0 || n < 0 || k < 0 || batch < 0)
    return invalid(api, "negative size m=" + std::to_string(m) + " n=" + std::to_string(n) +
                            " k=" + std::to_string(k) + " batchCount=" + std::to_string(batch));
  if (!is_op(transa) || !is_op(transb)) return invalid(api, "transa/transb is not CUBLAS_OP_N, _T or _C");
  const int a_rows = transa == CUBLAS_OP_N ? m : k, b_rows = transb == CUBLAS_OP_N ? k : n;
  if (lda < std::max(1, a_rows))
    return invalid(api, "lda=" + std::to_string(lda) +
                            " < max(1, rows of A as stored = " + std::to_string(a_rows) + ")");
  if (ldb < std::max(1, b_rows))
    return invalid(api, "ldb=" + std::to_string(ldb) +
                            " < max(1, rows of B as stored = " + std::to_string(b_rows) + ")");
  if (ldc < std::max(1, m))
    return invalid(api, "ldc=" + std::to_string(ldc) + " < max(1, m = " + std::to_string(m) + ")");
  if (!alpha || !beta) return invalid(api, "alpha or beta is NULL");
  if (!is_compute_type(compute)) return invalid(api, "computeType is not a cublasComputeType_t");
  if (!is_gemm_algo(algo)) return invalid(api, "algo is not a cublasGemmAlgo_t");
  return CUBLAS_STATUS_SUCCESS;
}

// Operand ranges: inside device allocations, the output apart from the inputs, all of them apart from
// the handle's workspace (cuBLAS may clobber it), which must still be device memory.
cublasStatus_t check_memory(const char* api, const Gemm& g, const cublasContext& h) {
  struct Operand {
    const char* name;
    const void* lo;
    size_t bytes;
  };
  std::vector<Operand> ops;
  auto add = [&](const char* name, const void* p, Range r) {
    ops.push_back({name, shifted(p, r.lo), static_cast<size_t>(r.hi - r.lo)});
  };
  add("C", g.c, matrix_range(g.m, g.n, g.ldc, g.stride_c, g.batch));
  if (g.alpha != 0.0 && g.k > 0) {  // else A and B are not read
    add("A", g.a,
        g.ta ? matrix_range(g.k, g.m, g.lda, g.stride_a, g.batch)
             : matrix_range(g.m, g.k, g.lda, g.stride_a, g.batch));
    add("B", g.b,
        g.tb ? matrix_range(g.n, g.k, g.ldb, g.stride_b, g.batch)
             : matrix_range(g.k, g.n, g.ldb, g.stride_b, g.batch));
  }
  for (const Operand& o : ops)
    if (!is_device_range(o.lo, o.bytes)) {
      reject_note(api, std::string(o.name) +
                           " (all batches, its leading dimension and stride included) is "
                           "not inside one device allocation");
      return CUBLAS_STATUS_EXECUTION_FAILED;
    }
  for (size_t i = 1; i < ops.size(); ++i)
    if (overlaps(ops[i].lo, ops[i].bytes, ops[0].lo, ops[0].bytes)) {
      reject_note(api, std::string("C overlaps ") + ops[i].name + " (undefined on the GPU)");
      return CUBLAS_STATUS_INVALID_VALUE;
    }
  if (h.workspace_bytes == 0) return CUBLAS_STATUS_SUCCESS;
  if (!is_device_range(h.workspace, h.workspace_bytes)) {
    reject_note(api, "the workspace given to cublasSetWorkspace is no longer device memory (freed?)");
    return CUBLAS_STATUS_EXECUTION_FAILED;
  }
  for (const Operand& o : ops)
    if (overlaps(o.lo, o.bytes, h.workspace, h.workspace_bytes)) {
      reject_note(api, std::string(o.name) + " overlaps the handle's workspace");
      return CUBLAS_STATUS_INVALID_VALUE;
    }
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t gemm(const char* api, cublasHandle_t handle, cublasOperation_t transa,
                    cublasOperation_t transb, int m, int n, int k, const void* alpha, const void* A,
                    cudaDataType Atype, int lda, long long strideA, const void* B, cudaDataType Btype,
                    int ldb, long long strideB, const void* beta, void* C, cudaDataType Ctype, int ldc,
                    long long strideC, int batch, cublasComputeType_t compute, cublasGemmAlgo_t algo) {
  cublasStatus_t s =
      check_arguments(api, handle, transa, transb, m, n, k, alpha, lda, ldb, beta, ldc, batch, compute, algo);
  if (s == CUBLAS_STATUS_SUCCESS) s = check_types(api, Atype, Btype, Ctype, compute);
  if (s != CUBLAS_STATUS_SUCCESS) return s;
  if (m == 0 || n == 0 || batch == 0) return CUBLAS_STATUS_SUCCESS;  // nothing to compute
  const Gemm g{transa != CUBLAS_OP_N,
               transb != CUBLAS_OP_N,
               m,
               n,
               k,
               batch,
               *static_cast<const float*>(alpha),
               *static_cast<const float*>(beta),
               static_cast<const float*>(A),
               lda,
               strideA,
               static_cast<const float*>(B),
               ldb,
               strideB,
               static_cast<float*>(C),
               ldc,
               strideC,
               compute == CUBLAS_COMPUTE_32F_FAST_TF32};
  s = check_memory(api, g, *handle);
  if (s != CUBLAS_STATUS_SUCCESS) return s;
  if (enqueue(
          handle->stream, [g] { run_gemm(g); }, api) != cudaSuccess) {
    reject_note(api, "the handle's stream cannot take work (destroyed?)");
    return CUBLAS_STATUS_EXECUTION_FAILED;
  }
  return CUBLAS_STATUS_SUCCESS;
}

}  // namespace
}  // namespace cuda_emu

using cuda_emu::handles;
using cuda_emu::reject_note;

cublasStatus_t CUBLASWINAPI cublasCreate(cublasHandle_t* handle) {
  if (!handle) return CUBLAS_STATUS_INVALID_VALUE;
  *handle = handles().create();
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t CUBLASWINAPI cublasDestroy(cublasHandle_t handle) {
  if (!handles().destroy(handle)) {
    reject_note("cublasDestroy", "handle was never created or is already destroyed");
    return CUBLAS_STATUS_NOT_INITIALIZED;
  }
  return CUBLAS_STATUS_SUCCESS;
}

// As documented, setting a stream also drops a workspace set before (back to cuBLAS's own pool).
cublasStatus_t CUBLASWINAPI cublasSetStream(cublasHandle_t handle, cudaStream_t streamId) {
  if (!handles().alive(handle)) {
    reject_note("cublasSetStream", "handle was never created or is destroyed");
    return CUBLAS_STATUS_NOT_INITIALIZED;
  }
  handle->stream = streamId;
  handle->workspace = nullptr;
  handle->workspace_bytes = 0;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t CUBLASWINAPI cublasSetWorkspace(cublasHandle_t handle, void* workspace,
                                               size_t workspaceSizeInBytes) {
  const char* api = "cublasSetWorkspace";
  if (!handles().alive(handle)) {
    reject_note(api, "handle was never created or is destroyed");
    return CUBLAS_STATUS_NOT_INITIALIZED;
  }
  if (reinterpret_cast<uintptr_t>(workspace) % 256 != 0) {
    reject_note(api, "the workspace is not aligned to 256 bytes");
    return CUBLAS_STATUS_INVALID_VALUE;
  }
  if (workspaceSizeInBytes > 0 && !cuda_emu::is_device_range(workspace, workspaceSizeInBytes)) {
    reject_note(api, "the workspace is not inside one device allocation of workspaceSizeInBytes");
    return CUBLAS_STATUS_INVALID_VALUE;
  }
  handle->workspace = workspace;
  handle->workspace_bytes = workspaceSizeInBytes;
  return CUBLAS_STATUS_SUCCESS;
}

// The version of the headers the emulation build compiled against.
cublasStatus_t CUBLASWINAPI cublasGetProperty(libraryPropertyType type, int* value) {
  if (!value) return CUBLAS_STATUS_INVALID_VALUE;
  switch (type) {
    case MAJOR_VERSION:
      *value = CUBLAS_VER_MAJOR;
      return CUBLAS_STATUS_SUCCESS;
    case MINOR_VERSION:
      *value = CUBLAS_VER_MINOR;
      return CUBLAS_STATUS_SUCCESS;
    case PATCH_LEVEL:
      *value = CUBLAS_VER_PATCH;
      return CUBLAS_STATUS_SUCCESS;
  }
  return CUBLAS_STATUS_INVALID_VALUE;
}

cublasStatus_t CUBLASWINAPI cublasGemmEx(cublasHandle_t handle, cublasOperation_t transa,
                                         cublasOperation_t transb, int m, int n, int k, const void* alpha,
                                         const void* A, cudaDataType Atype, int lda, const void* B,
                                         cudaDataType Btype, int ldb, const void* beta, void* C,
                                         cudaDataType Ctype, int ldc, cublasComputeType_t computeType,
                                         cublasGemmAlgo_t algo) {
  return cuda_emu::gemm("cublasGemmEx", handle, transa, transb, m, n, k, alpha, A, Atype, lda, 0, B, Btype,
                        ldb, 0, beta, C, Ctype, ldc, 0, 1, computeType, algo);
}

cublasStatus_t CUBLASWINAPI cublasGemmStridedBatchedEx(
    cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n, int k,
    const void* alpha, const void* A, cudaDataType Atype, int lda, long long int strideA, const void* B,
    cudaDataType Btype, int ldb, long long int strideB, const void* beta, void* C, cudaDataType Ctype,
    int ldc, long long int strideC, int batchCount, cublasComputeType_t computeType, cublasGemmAlgo_t algo) {
  return cuda_emu::gemm("cublasGemmStridedBatchedEx", handle, transa, transb, m, n, k, alpha, A, Atype, lda,
                        strideA, B, Btype, ldb, strideB, beta, C, Ctype, ldc, strideC, batchCount,
                        computeType, algo);
}
