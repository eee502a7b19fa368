// CPU test double of the cuDNN calls biascka makes, for the -DBIASCKA_CUDA_EMULATION=ON build (test
// infrastructure, never the product): handles, 4-d tensor/filter descriptors, 2-d convolution descriptors
// and their math type, cudnnFindConvolution{Forward,BackwardData,BackwardFilter}AlgorithmEx and the three
// convolutions, with the prototypes and types of the real <cudnn.h> (cuDNN 9's legacy descriptor API).
//
// Semantics (cuDNN documentation). Tensors are fully packed NCHW (w fastest) or NHWC (c fastest); filters
// [K, C, R, S] as NCHW (KCRS) or NHWC (KRSC). For input x [N, C, H, W], filter w [K, C, R, S], padding
// (ph, pw), strides (u, v) and dilation (dh, dw), the output y is [N, K, P, Q] with
//   P = (H + 2 ph - ((R - 1) dh + 1)) / u + 1,   Q likewise,
//   y[n, k, p, q] = sum_{c, r, s} x[n, c, p u - ph + r dh, q v - pw + s dw] * w[k, c, r', s']
// (x is zero outside the image), where r' = r, s' = s in CUDNN_CROSS_CORRELATION mode and r' = R - 1 - r,
// s' = S - 1 - s in CUDNN_CONVOLUTION mode (the filter rotated by 180 degrees). Backward data computes dx,
// the adjoint of y = conv(x, w) in x, applied to dy; backward filter computes dw, its adjoint in w applied
// to x and dy. Each call blends: out = alpha * result + beta * out, with alpha and beta read from host
// memory at the call; beta == 0 does not read out (NaN there must not leak).
//
// Numerics: float64 accumulation of float32 products, rounded to float once per element by the blend. A
// call runs with TF32 inputs (every x, w, dy element rounded by tf32.h, what the tensor cores see) when
// its algorithm is a tensor-core one in the table below AND the descriptor's math type permits TF32
// (CUDNN_DEFAULT_MATH, _TENSOR_OP_MATH, _TENSOR_OP_MATH_ALLOW_CONVERSION: cuDNN documents that
// DEFAULT_MATH permits TF32 for float data from Ampere on, and the target is an H200); with CUDNN_FMA_MATH
// or an FMA-only algorithm the inputs are used as they are.
//
// Algorithms and the deterministic workspace model (bytes; P, Q the output size, one image's worth so the
// sizes stay small under AddressSanitizer):
//   none      0
//   offsets   4 C R S                              (precomputed filter offsets)
//   im2col    4 P Q C R S                          (one image lowered to a matrix)
//   winograd  4 * 16 ceil(P/2) ceil(Q/2) (C + K)  (one image's F(2x2, 3x3) tiles in and out)
// forward:         IMPLICIT_GEMM none FMA; IMPLICIT_PRECOMP_GEMM offsets TC; GEMM im2col FMA;
//                  WINOGRAD_NONFUSED winograd TC
// backward data:   ALGO_0 none FMA nondeterministic; ALGO_1 im2col TC; WINOGRAD_NONFUSED winograd TC
// backward filter: ALGO_0 none FMA nondeterministic; ALGO_1 im2col TC; ALGO_3 offsets FMA
//                  nondeterministic; WINOGRAD_NONFUSED winograd TC
// The WINOGRAD_NONFUSED ones support only 3x3 filters with unit stride and dilation
// (CUDNN_STATUS_NOT_SUPPORTED otherwise, in Find's results and in the call); the double computes every
// algorithm the same way.
//
// Find's time model: MACs x the algorithm's ns_per_mac (the tables kForward, kBackwardData and
// kBackwardFilter below: the workspace-free algorithm slowest, Winograd fastest), a quarter of it on
// tensor cores. So with TF32 permitted the fastest is a tensor-core algorithm with a workspace, and the
// workspace needed changes from layer to layer (exercising the caller's growable workspace). Find (the Ex
// variants) runs on the caller's buffers as documented: it validates like the calls, fills perfResults
// sorted by time (successes first; time -1 for the others: CUDNN_STATUS_NOT_SUPPORTED for a shape the
// algorithm does not support, CUDNN_STATUS_ALLOC_FAILED (*) for one that does not fit
// workSpaceSizeInBytes), at most requestedAlgoCount of them, and queues one run of the fastest algorithm
// (alpha 1, beta 0) writing the output buffer. Each entry's mathType is the descriptor's when the algorithm
// uses tensor cores, CUDNN_FMA_MATH otherwise (so under CUDNN_FMA_MATH every entry says FMA, as PyTorch
// asserts).
//
// Validation. Statuses marked (*) are the double's choice where the documentation names none (the real
// library may return another code, crash, or fail later); the others are documented.
//   CUDNN_STATUS_BAD_PARAM:
//     NULL handle, descriptor, data pointer, alpha or beta; a destroyed or never-set handle or
//     descriptor (*); x, w and y of different data types; channel counts that differ (x C vs w C,
//     y C vs w K) or batch sizes (x N vs y N); the dilated filter larger than the padded input;
//     backward data: dy's size not the convolution's output size; backward filter: the same (*);
//     algo not an enumerant; a workspace smaller than the algorithm's, or NULL where one is needed (*);
//     Find: requestedAlgoCount < 1, NULL returnedAlgoCount or perfResults;
//     the output overlapping an input, the used workspace overlapping an operand (*);
//     setters: sizes < 1, negative padding, strides or dilations < 1, enumerants out of range.
//   CUDNN_STATUS_NOT_SUPPORTED:
//     forward: y's size not the convolution's output size; an algorithm that does not support the
//     shape; a non-float compute type with float tensors; a tensor of more than 2^31 - 1 elements;
//     data types other than float (not implemented in the double).
//   CUDNN_STATUS_EXECUTION_FAILED:
//     an operand, or the declared workspace, outside one cudaMalloc allocation (*: the GPU would fault
//     later); the handle's stream destroyed (*).
// Every rejection prints one line on stderr saying why. The queued work overwrites the workspace it uses
// with NaN bytes first, as a real algorithm clobbers it. Not implemented (never called by biascka):
// grouped convolutions, Nd descriptors, strided (non-packed) tensors, data types other than float, the
// FFT algorithms.
//
// Timing: no computation happens in a call. It validates, reads the scalars, then queues the work on the
// handle's stream (cuda_emu::enqueue) with everything captured by value: descriptors may be destroyed
// before the stream runs.
#include <cuda_runtime.h>
#include <cudnn.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <string>
#include <vector>

#include "tests/cuda_emu/double_common.h"
#include "tests/cuda_emu/emu_stream.h"
#include "tests/cuda_emu/tf32.h"

struct cudnnContext {
  cudaStream_t stream = nullptr;  // the legacy default stream until cudnnSetStream
};
struct cudnnTensorStruct {
  bool set = false;
  cudnnTensorFormat_t format = CUDNN_TENSOR_NCHW;
  cudnnDataType_t type = CUDNN_DATA_FLOAT;
  int n = 0, c = 0, h = 0, w = 0;
};
struct cudnnFilterStruct {
  bool set = false;
  cudnnTensorFormat_t format = CUDNN_TENSOR_NCHW;
  cudnnDataType_t type = CUDNN_DATA_FLOAT;
  int k = 0, c = 0, h = 0, w = 0;
};
struct cudnnConvolutionStruct {
  bool set = false;
  int pad_h = 0, pad_w = 0, stride_h = 1, stride_w = 1, dil_h = 1, dil_w = 1;
  cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
  cudnnDataType_t compute = CUDNN_DATA_FLOAT;
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
};

namespace cuda_emu {
namespace {

Registry<cudnnContext>& handles() { return registry<cudnnContext>(); }
Registry<cudnnTensorStruct>& tensors() { return registry<cudnnTensorStruct>(); }
Registry<cudnnFilterStruct>& filters() { return registry<cudnnFilterStruct>(); }
Registry<cudnnConvolutionStruct>& convolutions() { return registry<cudnnConvolutionStruct>(); }

cudnnStatus_t bad(const char* api, const std::string& why) {
  reject_note(api, why);
  return CUDNN_STATUS_BAD_PARAM;
}
cudnnStatus_t unsupported(const char* api, const std::string& why) {
  reject_note(api, why);
  return CUDNN_STATUS_NOT_SUPPORTED;
}
cudnnStatus_t failed(const char* api, const std::string& why) {
  reject_note(api, why);
  return CUDNN_STATUS_EXECUTION_FAILED;
}

std::string dims(int64_t a, int64_t b, int64_t c, int64_t d) {
  return "[" + std::to_string(a) + ", " + std::to_string(b) + ", " + std::to_string(c) + ", " +
         std::to_string(d) + "]";
}

// ---- The problem: one convolution, resolved from the descriptors, captured by the queued work. ----

enum class Dir { Forward, BackwardData, BackwardFilter };

// Element strides of a packed 4-d array in (n, c, h, w) order (for a filter: k, c, r, s).
struct Strides {
  int64_t n, c, h, w;
};
Strides packed(cudnnTensorFormat_t f, int64_t c, int64_t h, int64_t w) {
  if (f == CUDNN_TENSOR_NHWC) return {h * w * c, 1, w * c, c};
  return {c * h * w, h * w, w, 1};
}

struct Problem {
  int64_t n, c, h, w;  // input x
  int64_t k, r, s;     // filters
  int64_t p, q;        // output spatial size
  int64_t pad_h, pad_w, stride_h, stride_w, dil_h, dil_w;
  bool flip;  // CUDNN_CONVOLUTION: the filter is applied rotated by 180 degrees
  Strides xs, ws, ys;
  cudnnMathType_t math;
  int64_t x_bytes() const { return 4 * n * c * h * w; }
  int64_t w_bytes() const { return 4 * k * c * r * s; }
  int64_t y_bytes() const { return 4 * n * k * p * q; }
  double macs() const { return static_cast<double>(n * k * p * q) * static_cast<double>(c * r * s); }
};

bool is_data_type(cudnnDataType_t t) { return t >= CUDNN_DATA_FLOAT && t <= CUDNN_DATA_COMPLEX_FP64; }

// Which of x, w, y a direction writes, and the name the documentation gives each.
int output_index(Dir d) { return d == Dir::Forward ? 2 : d == Dir::BackwardData ? 0 : 1; }
const char* operand_name(Dir d, int i) {
  static const char* names[3][3] = {{"x", "w", "y"}, {"dx", "w", "dy"}, {"x", "dw", "dy"}};
  return names[static_cast<int>(d)][i];
}

cudnnStatus_t check_descriptors(const char* api, const cudnnTensorStruct* x, const cudnnFilterStruct* w,
                                const cudnnConvolutionStruct* cv, const cudnnTensorStruct* y) {
  if (!x || !w || !cv || !y) return bad(api, "a descriptor is NULL");
  if (!tensors().alive(x) || !tensors().alive(y) || !filters().alive(w) || !convolutions().alive(cv))
    return bad(api, "a descriptor was never created or is destroyed");
  if (!x->set || !y->set || !w->set || !cv->set) return bad(api, "a descriptor was created but never set");
  if (x->type != w->type || x->type != y->type)
    return bad(api, "the tensors' and filter's data types differ");
  if (x->type != CUDNN_DATA_FLOAT) return unsupported(api, "data types other than float: not implemented");
  if (cv->compute != CUDNN_DATA_FLOAT)
    return unsupported(api, "float tensors need a CUDNN_DATA_FLOAT compute type (FLOAT_CONFIG)");
  return CUDNN_STATUS_SUCCESS;
}

// The documented shape checks; on success `out` holds the problem (math type taken now, by value).
cudnnStatus_t resolve(const char* api, Dir dir, const cudnnTensorStruct* x, const cudnnFilterStruct* w,
                      const cudnnConvolutionStruct* cv, const cudnnTensorStruct* y, Problem& out) {
  cudnnStatus_t s = check_descriptors(api, x, w, cv, y);
  if (s != CUDNN_STATUS_SUCCESS) return s;
  const char* yname = operand_name(dir, 2);
  if (x->c != w->c)
    return bad(api, std::string(operand_name(dir, 0)) + " has " + std::to_string(x->c) +
                        " channels, the filter " + std::to_string(w->c));
  if (y->n != x->n || y->c != w->k)
    return bad(api, std::string(yname) + " is " + dims(y->n, y->c, y->h, y->w) + " (NCHW) for " +
                        std::to_string(x->n) + " images and " + std::to_string(w->k) + " filters");
  const int64_t er = int64_t{w->h - 1} * cv->dil_h + 1, es = int64_t{w->w - 1} * cv->dil_w + 1;
  const int64_t hp = x->h + 2 * int64_t{cv->pad_h}, wp = x->w + 2 * int64_t{cv->pad_w};
  if (er > hp || es > wp) return bad(api, "the dilated filter is larger than the padded input");
  const int64_t p = (hp - er) / cv->stride_h + 1, q = (wp - es) / cv->stride_w + 1;
  if (y->h != p || y->w != q) {
    const std::string why = std::string(yname) + " is " + dims(y->n, y->c, y->h, y->w) +
                            " (NCHW) but the convolution's output is " + dims(x->n, w->k, p, q);
    return dir == Dir::Forward ? unsupported(api, why) : bad(api, why);
  }
  out = Problem{x->n,
                x->c,
                x->h,
                x->w,
                w->k,
                w->h,
                w->w,
                p,
                q,
                cv->pad_h,
                cv->pad_w,
                cv->stride_h,
                cv->stride_w,
                cv->dil_h,
                cv->dil_w,
                cv->mode == CUDNN_CONVOLUTION,
                packed(x->format, x->c, x->h, x->w),
                packed(w->format, w->c, w->h, w->w),
                packed(y->format, y->c, y->h, y->w),
                cv->math};
  return CUDNN_STATUS_SUCCESS;
}

// ---- Algorithms: the table of the file-top comment. ----

enum class Ws { None, Offsets, Im2col, Winograd };
struct Algo {
  int id;
  Ws ws;
  bool tensor_ops, deterministic, winograd;
  double ns_per_mac;
};
constexpr Algo kForward[] = {
    {CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, Ws::None, false, true, false, 1.0},
    {CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM, Ws::Offsets, true, true, false, 0.8},
    {CUDNN_CONVOLUTION_FWD_ALGO_GEMM, Ws::Im2col, false, true, false, 0.7},
    {CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED, Ws::Winograd, true, true, true, 0.5},
};
constexpr Algo kBackwardData[] = {
    {CUDNN_CONVOLUTION_BWD_DATA_ALGO_0, Ws::None, false, false, false, 1.0},
    {CUDNN_CONVOLUTION_BWD_DATA_ALGO_1, Ws::Im2col, true, true, false, 0.8},
    {CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED, Ws::Winograd, true, true, true, 0.5},
};
constexpr Algo kBackwardFilter[] = {
    {CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0, Ws::None, false, false, false, 1.0},
    {CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1, Ws::Im2col, true, true, false, 0.8},
    {CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3, Ws::Offsets, false, false, false, 0.7},
    {CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD_NONFUSED, Ws::Winograd, true, true, true, 0.5},
};

struct AlgoTable {
  const Algo* begin;
  const Algo* end;
  int count;  // the enumeration's *_ALGO_COUNT
};
AlgoTable algorithms(Dir d) {
  switch (d) {
    case Dir::Forward:
      return {std::begin(kForward), std::end(kForward), CUDNN_CONVOLUTION_FWD_ALGO_COUNT};
    case Dir::BackwardData:
      return {std::begin(kBackwardData), std::end(kBackwardData), CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT};
    case Dir::BackwardFilter:
      break;
  }
  return {std::begin(kBackwardFilter), std::end(kBackwardFilter), CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT};
}

size_t workspace_bytes(const Algo& a, const Problem& P) {
  switch (a.ws) {
    case Ws::None:
      return 0;
    case Ws::Offsets:
      return static_cast<size_t>(4 * P.c * P.r * P.s);
    case Ws::Im2col:
      return static_cast<size_t>(4 * P.p * P.q * P.c * P.r * P.s);
    case Ws::Winograd:
      break;
  }
  return static_cast<size_t>(4 * 16 * ((P.p + 1) / 2) * ((P.q + 1) / 2) * (P.c + P.k));
}

bool supports(const Algo& a, const Problem& P) {
  return !a.winograd ||
         (P.r == 3 && P.s == 3 && P.stride_h == 1 && P.stride_w == 1 && P.dil_h == 1 && P.dil_w == 1);
}

bool permits_tf32(cudnnMathType_t m) { return m != CUDNN_FMA_MATH; }
bool uses_tf32(const Algo& a, const Problem& P) { return a.tensor_ops && permits_tf32(P.math); }

// ---- The arithmetic, on float64 copies in canonical orders (layouts and rotation resolved there). ----

// Calls f(i, offset) for every element of a [n, c, h, w] tensor with strides `st`: i its index in the
// canonical order [n][h][w][c], offset its element offset in memory.
template <class F>
void for_each_element(const Strides& st, int64_t n, int64_t c, int64_t h, int64_t w, F&& f) {
  size_t i = 0;
  for (int64_t a = 0; a < n; ++a)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x)
        for (int64_t ch = 0; ch < c; ++ch) f(i++, a * st.n + ch * st.c + y * st.h + x * st.w);
}

// The same for the filter, canonical order [r][s][c][k] (k_inner) or [r][s][k][c], offset of the element
// tap (r, s) of channel pair (k, c) multiplies (the rotation of CUDNN_CONVOLUTION included).
template <class F>
void for_each_filter_element(const Problem& P, bool k_inner, F&& f) {
  for (int64_t r = 0; r < P.r; ++r)
    for (int64_t s = 0; s < P.s; ++s)
      for (int64_t k = 0; k < P.k; ++k)
        for (int64_t c = 0; c < P.c; ++c) {
          const int64_t rs = r * P.s + s, fr = P.flip ? P.r - 1 - r : r, fs = P.flip ? P.s - 1 - s : s;
          f(static_cast<size_t>(k_inner ? (rs * P.c + c) * P.k + k : (rs * P.k + k) * P.c + c),
            k * P.ws.n + c * P.ws.c + fr * P.ws.h + fs * P.ws.w);
        }
}

// Calls f(n, p, q, r, s, ih, iw) for every output pixel and filter tap that lands inside the image.
template <class F>
void for_each_tap(const Problem& P, F&& f) {
  for (int64_t n = 0; n < P.n; ++n)
    for (int64_t p = 0; p < P.p; ++p)
      for (int64_t q = 0; q < P.q; ++q)
        for (int64_t r = 0; r < P.r; ++r) {
          const int64_t ih = p * P.stride_h - P.pad_h + r * P.dil_h;
          if (ih < 0 || ih >= P.h) continue;
          for (int64_t s = 0; s < P.s; ++s) {
            const int64_t iw = q * P.stride_w - P.pad_w + s * P.dil_w;
            if (iw >= 0 && iw < P.w) f(n, p, q, r, s, ih, iw);
          }
        }
}

// out[j] += sum_i a[i] m[i][j] (m rows x cols, row-major): the inner loop runs over contiguous memory.
void multiply_add(double* out, const double* a, const double* m, int64_t rows, int64_t cols) {
  for (int64_t i = 0; i < rows; ++i) {
    const double ai = a[i];
    const double* mi = m + i * cols;
    for (int64_t j = 0; j < cols; ++j) out[j] += ai * mi[j];
  }
}

// out[i][j] += a[i] b[j]
void outer_add(double* out, const double* a, const double* b, int64_t rows, int64_t cols) {
  for (int64_t i = 0; i < rows; ++i) {
    const double ai = a[i];
    double* oi = out + i * cols;
    for (int64_t j = 0; j < cols; ++j) oi[j] += ai * b[j];
  }
}

// One queued call: the problem and the caller's pointers (x, w, y in the documentation's roles, the
// direction's output among them), everything by value.
struct Work {
  Dir dir;
  Problem P;
  const float *x, *w, *y;
  double alpha, beta;
  bool tf32;
  void* workspace;
  size_t workspace_used;
};

// Canonical copies x [n][h][w][c], y [n][p][q][k] and w [r][s][c][k] (forward) or [r][s][k][c] (the
// backward passes), the output's starting at zero; per tap, forward: y_row += x_row w_rs, backward data:
// x_row += y_row w_rs, backward filter: w_rs += y_row (outer) x_row. Then the output is blended back.
void run(const Work& j) {
  if (j.workspace_used) std::memset(j.workspace, 0xff, j.workspace_used);  // an algorithm's scratch
  const Problem& P = j.P;
  const Dir d = j.dir;
  const int64_t C = P.c, K = P.k;
  auto load = [&](float v) { return static_cast<double>(j.tf32 ? tf32_round(v) : v); };
  std::vector<double> x(static_cast<size_t>(P.n * P.h * P.w * C)),
      y(static_cast<size_t>(P.n * P.p * P.q * K)), w(static_cast<size_t>(P.r * P.s * C * K));
  if (d != Dir::BackwardData)
    for_each_element(P.xs, P.n, C, P.h, P.w, [&](size_t i, int64_t o) { x[i] = load(j.x[o]); });
  if (d != Dir::Forward)
    for_each_element(P.ys, P.n, K, P.p, P.q, [&](size_t i, int64_t o) { y[i] = load(j.y[o]); });
  if (d != Dir::BackwardFilter)
    for_each_filter_element(P, d == Dir::Forward, [&](size_t i, int64_t o) { w[i] = load(j.w[o]); });
  for_each_tap(P, [&](int64_t n, int64_t p, int64_t q, int64_t r, int64_t s, int64_t ih, int64_t iw) {
    double* xr = &x[static_cast<size_t>(((n * P.h + ih) * P.w + iw) * C)];
    double* yr = &y[static_cast<size_t>(((n * P.p + p) * P.q + q) * K)];
    double* wb = &w[static_cast<size_t>((r * P.s + s) * C * K)];
    if (d == Dir::Forward) multiply_add(yr, xr, wb, C, K);
    if (d == Dir::BackwardData) multiply_add(xr, yr, wb, K, C);
    if (d == Dir::BackwardFilter) outer_add(wb, yr, xr, K, C);
  });
  // Writes back the direction's output (const in Work only because the roles are uniform).
  auto store = [&j](const float* out, const std::vector<double>& acc) {
    return [&j, dst = const_cast<float*>(out), src = acc.data()](size_t i, int64_t o) {
      blend(dst + o, src[i], j.alpha, j.beta);
    };
  };
  if (d == Dir::Forward) for_each_element(P.ys, P.n, K, P.p, P.q, store(j.y, y));
  if (d == Dir::BackwardData) for_each_element(P.xs, P.n, C, P.h, P.w, store(j.x, x));
  if (d == Dir::BackwardFilter) for_each_filter_element(P, false, store(j.w, w));
}

// ---- The checks every call shares. ----

// The three data pointers: not NULL, inside device allocations, the output apart from the inputs.
cudnnStatus_t check_operands(const char* api, Dir dir, const Problem& P, const void* const ptr[3]) {
  const int64_t bytes[3] = {P.x_bytes(), P.w_bytes(), P.y_bytes()};
  for (int i = 0; i < 3; ++i) {
    if (!ptr[i]) return bad(api, std::string(operand_name(dir, i)) + " is NULL");
    if (!is_device_range(ptr[i], static_cast<size_t>(bytes[i])))
      return failed(api, std::string(operand_name(dir, i)) + " (" + std::to_string(bytes[i]) +
                             " bytes) is not inside one device allocation");
  }
  const int o = output_index(dir);
  for (int i = 0; i < 3; ++i)
    if (i != o && overlaps(ptr[i], static_cast<size_t>(bytes[i]), ptr[o], static_cast<size_t>(bytes[o])))
      return bad(api, std::string(operand_name(dir, o)) + " overlaps " + operand_name(dir, i));
  return CUDNN_STATUS_SUCCESS;
}

// The declared workspace lies in device memory; the part an algorithm uses does not overlap an operand.
cudnnStatus_t check_workspace(const char* api, Dir dir, const Problem& P, const void* const ptr[3],
                              const void* ws, size_t declared, size_t used) {
  if (ws && declared > 0 && !is_device_range(ws, declared))
    return failed(
        api, "the workspace (" + std::to_string(declared) + " bytes) is not inside one device allocation");
  const int64_t bytes[3] = {P.x_bytes(), P.w_bytes(), P.y_bytes()};
  for (int i = 0; i < 3; ++i)
    if (overlaps(ws, used, ptr[i], static_cast<size_t>(bytes[i])))
      return bad(api, std::string("the workspace overlaps ") + operand_name(dir, i));
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t queue(const char* api, cudnnHandle_t h, const Work& work) {
  if (enqueue(
          h->stream, [work] { run(work); }, api) != cudaSuccess)
    return failed(api, "the handle's stream cannot take work (destroyed?)");
  return CUDNN_STATUS_SUCCESS;
}

// ---- The convolutions. ----

cudnnStatus_t convolve(const char* api, Dir dir, cudnnHandle_t h, const void* alpha,
                       const cudnnTensorStruct* xd, const cudnnFilterStruct* wd,
                       const cudnnConvolutionStruct* cd, const cudnnTensorStruct* yd,
                       const void* const ptr[3], int algo, void* ws, size_t ws_bytes, const void* beta) {
  if (!handles().alive(h)) return bad(api, "handle is NULL, never created or destroyed");
  if (!alpha || !beta) return bad(api, "alpha or beta is NULL");
  Problem P;
  cudnnStatus_t st = resolve(api, dir, xd, wd, cd, yd, P);
  if (st != CUDNN_STATUS_SUCCESS) return st;
  const AlgoTable table = algorithms(dir);
  if (algo < 0 || algo >= table.count)
    return bad(api, "algo " + std::to_string(algo) + " is not an enumerant");
  const Algo* a = std::find_if(table.begin, table.end, [&](const Algo& x) { return x.id == algo; });
  if (a == table.end)
    return unsupported(
        api, "algo " + std::to_string(algo) + " is not modelled by the double (Find never returns it)");
  if (!supports(*a, P))
    return unsupported(api, "algo " + std::to_string(algo) + " does not support this shape");
  if ((st = check_operands(api, dir, P, ptr)) != CUDNN_STATUS_SUCCESS) return st;
  const size_t need = workspace_bytes(*a, P);
  if (ws_bytes < need || (need > 0 && !ws))
    return bad(api, "algo " + std::to_string(algo) + " needs a workspace of " + std::to_string(need) +
                        " bytes, got " + std::to_string(ws_bytes) + (ws ? "" : " at NULL"));
  if ((st = check_workspace(api, dir, P, ptr, ws, ws_bytes, need)) != CUDNN_STATUS_SUCCESS) return st;
  const Work work{dir,
                  P,
                  static_cast<const float*>(ptr[0]),
                  static_cast<const float*>(ptr[1]),
                  static_cast<const float*>(ptr[2]),
                  *static_cast<const float*>(alpha),
                  *static_cast<const float*>(beta),
                  uses_tf32(*a, P),
                  ws,
                  need};
  return queue(api, h, work);
}

// ---- Find. ----

// The perf entry of one algorithm for this problem and workspace.
template <class Perf>
Perf measure(const Algo& a, const Problem& P, size_t ws_bytes) {
  Perf e{};
  e.algo = static_cast<decltype(e.algo)>(a.id);
  e.determinism = a.deterministic ? CUDNN_DETERMINISTIC : CUDNN_NON_DETERMINISTIC;
  const bool tc = uses_tf32(a, P);
  e.mathType = tc ? P.math : CUDNN_FMA_MATH;
  e.memory = supports(a, P) ? workspace_bytes(a, P) : 0;
  e.status = !supports(a, P)       ? CUDNN_STATUS_NOT_SUPPORTED
             : e.memory > ws_bytes ? CUDNN_STATUS_ALLOC_FAILED
                                   : CUDNN_STATUS_SUCCESS;
  e.time = e.status == CUDNN_STATUS_SUCCESS
               ? static_cast<float>(P.macs() * a.ns_per_mac * 1e-6 / (tc ? 4 : 1))
               : -1.f;
  return e;
}

template <class Perf>
cudnnStatus_t find(const char* api, Dir dir, cudnnHandle_t h, const cudnnTensorStruct* xd,
                   const cudnnFilterStruct* wd, const cudnnConvolutionStruct* cd, const cudnnTensorStruct* yd,
                   const void* const ptr[3], int requested, int* returned, Perf* perf, void* ws,
                   size_t ws_bytes) {
  if (!handles().alive(h)) return bad(api, "handle is NULL, never created or destroyed");
  if (!returned || !perf) return bad(api, "returnedAlgoCount or perfResults is NULL");
  if (requested < 1) return bad(api, "requestedAlgoCount < 1");
  Problem P;
  cudnnStatus_t st = resolve(api, dir, xd, wd, cd, yd, P);
  if (st != CUDNN_STATUS_SUCCESS) return st;
  if ((st = check_operands(api, dir, P, ptr)) != CUDNN_STATUS_SUCCESS) return st;
  const AlgoTable table = algorithms(dir);
  std::vector<Perf> all;
  size_t used = 0;  // the largest workspace a successful algorithm takes
  for (const Algo* a = table.begin; a != table.end; ++a) {
    all.push_back(measure<Perf>(*a, P, ws ? ws_bytes : 0));
    if (all.back().status == CUDNN_STATUS_SUCCESS) used = std::max(used, all.back().memory);
  }
  if ((st = check_workspace(api, dir, P, ptr, ws, ws_bytes, used)) != CUDNN_STATUS_SUCCESS) return st;
  std::stable_sort(all.begin(), all.end(), [](const Perf& a, const Perf& b) {
    const bool ok_a = a.status == CUDNN_STATUS_SUCCESS, ok_b = b.status == CUDNN_STATUS_SUCCESS;
    return ok_a != ok_b ? ok_a : ok_a && a.time < b.time;
  });
  *returned = std::min(requested, static_cast<int>(all.size()));
  std::copy(all.begin(), all.begin() + *returned, perf);
  // The run on the caller's buffers, as the fastest algorithm (a zero-workspace one always succeeds).
  const Algo& fastest =
      *std::find_if(table.begin, table.end, [&](const Algo& a) { return a.id == all[0].algo; });
  const Work work{dir,
                  P,
                  static_cast<const float*>(ptr[0]),
                  static_cast<const float*>(ptr[1]),
                  static_cast<const float*>(ptr[2]),
                  1.0,
                  0.0,
                  uses_tf32(fastest, P),
                  ws,
                  used};
  return queue(api, h, work);
}

}  // namespace
}  // namespace cuda_emu

using cuda_emu::bad;
using cuda_emu::convolutions;
using cuda_emu::Dir;
using cuda_emu::filters;
using cuda_emu::handles;
using cuda_emu::tensors;
using cuda_emu::unsupported;

size_t CUDNNWINAPI cudnnGetVersion(void) { return CUDNN_VERSION; }

const char* CUDNNWINAPI cudnnGetErrorString(cudnnStatus_t status) {
#define BIASCKA_CUDNN_STATUS(s) \
  case s:                       \
    return #s;
  switch (status) {
    BIASCKA_CUDNN_STATUS(CUDNN_STATUS_SUCCESS)
    BIASCKA_CUDNN_STATUS(CUDNN_STATUS_NOT_INITIALIZED)
    BIASCKA_CUDNN_STATUS(CUDNN_STATUS_SUBLIBRARY_VERSION_MISMATCH)
    BIASCKA_CUDNN_STATUS(CUDNN_STATUS_SERIALIZATION_VERSION_MISMATCH)
    BIASCKA_CUDNN_STATUS(CUDNN_STATUS_DEPRECATED)
    BIASCKA_CUDNN_STATUS(CUDNN_STATUS_LICENSE_ERROR)
    BIASCKA_CUDNN_STATUS(CUDNN_STATUS_RUNTIME_IN_PROGRESS)
    BIASCKA_CUDNN_STATUS(CUDNN_STATUS_RUNTIME_FP_OVERFLOW)
    BIASCKA_CUDNN_STATUS(CUDNN_STATUS_SUBLIBRARY_LOADING_FAILED)
    BIASCKA_CUDNN_STATUS(CUDNN_STATUS_BAD_PARAM)
    BIASCKA_CUDNN_STATUS(CUDNN_STATUS_INVALID_VALUE)
    BIASCKA_CUDNN_STATUS(CUDNN_STATUS_BAD_PARAM_NULL_POINTER)
    BIASCKA_CUDNN_STATUS(CUDNN_STATUS_BAD_PARAM_MISALIGNED_POINTER)
    BIASCKA_CUDNN_STATUS(CUDNN_STATUS_BAD_PARAM_NOT_FINALIZED)
    BIASCKA_CUDNN_STATUS(CUDNN_STATUS_BAD_PARAM_OUT_OF_BOUND)
    BIASCKA_CUDNN_STATUS(CUDNN_STATUS_BAD_PARAM_SIZE_INSUFFICIENT)
    BIASCKA_CUDNN_STATUS(CUDNN_STATUS_BAD_PARAM_STREAM_MISMATCH)
    BIASCKA_CUDNN_STATUS(CUDNN_STATUS_BAD_PARAM_SHAPE_MISMATCH)
    BIASCKA_CUDNN_STATUS(CUDNN_STATUS_BAD_PARAM_DUPLICATED_ENTRIES)
    BIASCKA_CUDNN_STATUS(CUDNN_STATUS_BAD_PARAM_ATTRIBUTE_TYPE)
    BIASCKA_CUDNN_STATUS(CUDNN_STATUS_BAD_PARAM_CUDA_GRAPH_MISMATCH)
    BIASCKA_CUDNN_STATUS(CUDNN_STATUS_BAD_PARAM_DESCRIPTOR_TYPE)
    BIASCKA_CUDNN_STATUS(CUDNN_STATUS_NOT_SUPPORTED)
    BIASCKA_CUDNN_STATUS(CUDNN_STATUS_NOT_SUPPORTED_GRAPH_PATTERN)
    BIASCKA_CUDNN_STATUS(CUDNN_STATUS_NOT_SUPPORTED_SHAPE)
    BIASCKA_CUDNN_STATUS(CUDNN_STATUS_NOT_SUPPORTED_DATA_TYPE)
    BIASCKA_CUDNN_STATUS(CUDNN_STATUS_NOT_SUPPORTED_LAYOUT)
    BIASCKA_CUDNN_STATUS(CUDNN_STATUS_NOT_SUPPORTED_INCOMPATIBLE_CUDA_DRIVER)
    BIASCKA_CUDNN_STATUS(CUDNN_STATUS_NOT_SUPPORTED_INCOMPATIBLE_CUDART)
    BIASCKA_CUDNN_STATUS(CUDNN_STATUS_NOT_SUPPORTED_ARCH_MISMATCH)
    BIASCKA_CUDNN_STATUS(CUDNN_STATUS_NOT_SUPPORTED_RUNTIME_PREREQUISITE_MISSING)
    BIASCKA_CUDNN_STATUS(CUDNN_STATUS_NOT_SUPPORTED_SUBLIBRARY_UNAVAILABLE)
    BIASCKA_CUDNN_STATUS(CUDNN_STATUS_NOT_SUPPORTED_SHARED_MEMORY_INSUFFICIENT)
    BIASCKA_CUDNN_STATUS(CUDNN_STATUS_NOT_SUPPORTED_PADDING)
    BIASCKA_CUDNN_STATUS(CUDNN_STATUS_NOT_SUPPORTED_BAD_LAUNCH_PARAM)
    BIASCKA_CUDNN_STATUS(CUDNN_STATUS_NOT_SUPPORTED_CUDA_GRAPH_NATIVE_API)
    BIASCKA_CUDNN_STATUS(CUDNN_STATUS_NOT_SUPPORTED_INVALID_DYNAMIC_SHAPE)
    BIASCKA_CUDNN_STATUS(CUDNN_STATUS_INTERNAL_ERROR)
    BIASCKA_CUDNN_STATUS(CUDNN_STATUS_INTERNAL_ERROR_COMPILATION_FAILED)
    BIASCKA_CUDNN_STATUS(CUDNN_STATUS_INTERNAL_ERROR_UNEXPECTED_VALUE)
    BIASCKA_CUDNN_STATUS(CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED)
    BIASCKA_CUDNN_STATUS(CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED)
    BIASCKA_CUDNN_STATUS(CUDNN_STATUS_INTERNAL_ERROR_BAD_LAUNCH_PARAM)
    BIASCKA_CUDNN_STATUS(CUDNN_STATUS_INTERNAL_ERROR_TEXTURE_CREATION_FAILED)
    BIASCKA_CUDNN_STATUS(CUDNN_STATUS_EXECUTION_FAILED)
    BIASCKA_CUDNN_STATUS(CUDNN_STATUS_EXECUTION_FAILED_CUDA_DRIVER)
    BIASCKA_CUDNN_STATUS(CUDNN_STATUS_EXECUTION_FAILED_CUBLAS)
    BIASCKA_CUDNN_STATUS(CUDNN_STATUS_EXECUTION_FAILED_CUDART)
    BIASCKA_CUDNN_STATUS(CUDNN_STATUS_EXECUTION_FAILED_CURAND)
  }
#undef BIASCKA_CUDNN_STATUS
  return "CUDNN_UNKNOWN_STATUS";
}

cudnnStatus_t CUDNNWINAPI cudnnCreate(cudnnHandle_t* handle) {
  if (!handle) return bad("cudnnCreate", "handle is NULL");
  *handle = handles().create();
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t CUDNNWINAPI cudnnDestroy(cudnnHandle_t handle) {
  if (!handles().destroy(handle))
    return bad("cudnnDestroy", "handle is NULL, never created or already destroyed");
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t CUDNNWINAPI cudnnSetStream(cudnnHandle_t handle, cudaStream_t streamId) {
  if (!handles().alive(handle)) return bad("cudnnSetStream", "handle is NULL, never created or destroyed");
  handle->stream = streamId;
  return CUDNN_STATUS_SUCCESS;
}

// ---- Descriptors. Destroying NULL is a no-op, as documented; destroying twice is refused. ----

namespace {
template <class T>
cudnnStatus_t create_descriptor(const char* api, cuda_emu::Registry<T>& registry, T** out) {
  if (!out) return bad(api, "the descriptor pointer is NULL");
  *out = registry.create();
  return CUDNN_STATUS_SUCCESS;
}
template <class T>
cudnnStatus_t destroy_descriptor(const char* api, cuda_emu::Registry<T>& registry, T* d) {
  if (d && !registry.destroy(d)) return bad(api, "the descriptor was never created or is already destroyed");
  return CUDNN_STATUS_SUCCESS;
}

// The checks cudnnSetTensor4dDescriptor and cudnnSetFilter4dDescriptor share.
cudnnStatus_t check_4d(const char* api, cudnnTensorFormat_t format, cudnnDataType_t type, int n, int c, int h,
                       int w) {
  if (!cuda_emu::is_data_type(type)) return bad(api, "dataType is not an enumerant");
  if (format == CUDNN_TENSOR_NCHW_VECT_C)
    return type == CUDNN_DATA_FLOAT ? bad(api, "CUDNN_TENSOR_NCHW_VECT_C needs a vector data type")
                                    : unsupported(api, "CUDNN_TENSOR_NCHW_VECT_C is not implemented");
  if (format != CUDNN_TENSOR_NCHW && format != CUDNN_TENSOR_NHWC)
    return bad(api, "format is not an enumerant");
  if (n <= 0 || c <= 0 || h <= 0 || w <= 0)
    return bad(api, "a dimension is not positive: " + cuda_emu::dims(n, c, h, w));
  if (int64_t{n} * c * h * w > INT32_MAX) return unsupported(api, "more than 2^31 - 1 elements");
  return CUDNN_STATUS_SUCCESS;
}
}  // namespace

cudnnStatus_t CUDNNWINAPI cudnnCreateTensorDescriptor(cudnnTensorDescriptor_t* tensorDesc) {
  return create_descriptor("cudnnCreateTensorDescriptor", tensors(), tensorDesc);
}
cudnnStatus_t CUDNNWINAPI cudnnDestroyTensorDescriptor(cudnnTensorDescriptor_t tensorDesc) {
  return destroy_descriptor("cudnnDestroyTensorDescriptor", tensors(), tensorDesc);
}
cudnnStatus_t CUDNNWINAPI cudnnCreateFilterDescriptor(cudnnFilterDescriptor_t* filterDesc) {
  return create_descriptor("cudnnCreateFilterDescriptor", filters(), filterDesc);
}
cudnnStatus_t CUDNNWINAPI cudnnDestroyFilterDescriptor(cudnnFilterDescriptor_t filterDesc) {
  return destroy_descriptor("cudnnDestroyFilterDescriptor", filters(), filterDesc);
}
cudnnStatus_t CUDNNWINAPI cudnnCreateConvolutionDescriptor(cudnnConvolutionDescriptor_t* convDesc) {
  return create_descriptor("cudnnCreateConvolutionDescriptor", convolutions(), convDesc);
}
cudnnStatus_t CUDNNWINAPI cudnnDestroyConvolutionDescriptor(cudnnConvolutionDescriptor_t convDesc) {
  return destroy_descriptor("cudnnDestroyConvolutionDescriptor", convolutions(), convDesc);
}

cudnnStatus_t CUDNNWINAPI cudnnSetTensor4dDescriptor(cudnnTensorDescriptor_t tensorDesc,
                                                     cudnnTensorFormat_t format, cudnnDataType_t dataType,
                                                     int n, int c, int h, int w) {
  const char* api = "cudnnSetTensor4dDescriptor";
  if (!tensors().alive(tensorDesc)) return bad(api, "tensorDesc is NULL, never created or destroyed");
  const cudnnStatus_t s = check_4d(api, format, dataType, n, c, h, w);
  if (s == CUDNN_STATUS_SUCCESS) *tensorDesc = cudnnTensorStruct{true, format, dataType, n, c, h, w};
  return s;
}

cudnnStatus_t CUDNNWINAPI cudnnSetFilter4dDescriptor(cudnnFilterDescriptor_t filterDesc,
                                                     cudnnDataType_t dataType, cudnnTensorFormat_t format,
                                                     int k, int c, int h, int w) {
  const char* api = "cudnnSetFilter4dDescriptor";
  if (!filters().alive(filterDesc)) return bad(api, "filterDesc is NULL, never created or destroyed");
  const cudnnStatus_t s = check_4d(api, format, dataType, k, c, h, w);
  if (s == CUDNN_STATUS_SUCCESS) *filterDesc = cudnnFilterStruct{true, format, dataType, k, c, h, w};
  return s;
}

// The math type is kept: it is set apart, by cudnnSetConvolutionMathType.
cudnnStatus_t CUDNNWINAPI cudnnSetConvolution2dDescriptor(cudnnConvolutionDescriptor_t convDesc, int pad_h,
                                                          int pad_w, int u, int v, int dilation_h,
                                                          int dilation_w, cudnnConvolutionMode_t mode,
                                                          cudnnDataType_t computeType) {
  const char* api = "cudnnSetConvolution2dDescriptor";
  if (!convolutions().alive(convDesc)) return bad(api, "convDesc is NULL, never created or destroyed");
  if (pad_h < 0 || pad_w < 0) return bad(api, "negative padding");
  if (u <= 0 || v <= 0) return bad(api, "a stride is not positive");
  if (dilation_h <= 0 || dilation_w <= 0) return bad(api, "a dilation is not positive");
  if (mode != CUDNN_CONVOLUTION && mode != CUDNN_CROSS_CORRELATION)
    return bad(api, "mode is not an enumerant");
  if (!cuda_emu::is_data_type(computeType)) return bad(api, "computeType is not an enumerant");
  *convDesc = cudnnConvolutionStruct{true,       pad_h,      pad_w, u,           v,
                                     dilation_h, dilation_w, mode,  computeType, convDesc->math};
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t CUDNNWINAPI cudnnSetConvolutionMathType(cudnnConvolutionDescriptor_t convDesc,
                                                      cudnnMathType_t mathType) {
  const char* api = "cudnnSetConvolutionMathType";
  if (!convolutions().alive(convDesc)) return bad(api, "convDesc is NULL, never created or destroyed");
  if (mathType != CUDNN_DEFAULT_MATH && mathType != CUDNN_TENSOR_OP_MATH &&
      mathType != CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION && mathType != CUDNN_FMA_MATH)
    return bad(api, "mathType is not an enumerant");
  convDesc->math = mathType;
  return CUDNN_STATUS_SUCCESS;
}

// ---- The entry points: each maps its arguments onto the (x, w, y) roles. ----

cudnnStatus_t CUDNNWINAPI cudnnFindConvolutionForwardAlgorithmEx(
    cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc, const void* x,
    const cudnnFilterDescriptor_t wDesc, const void* w, const cudnnConvolutionDescriptor_t convDesc,
    const cudnnTensorDescriptor_t yDesc, void* y, const int requestedAlgoCount, int* returnedAlgoCount,
    cudnnConvolutionFwdAlgoPerf_t* perfResults, void* workSpace, size_t workSpaceSizeInBytes) {
  const void* const ptr[3] = {x, w, y};
  return cuda_emu::find("cudnnFindConvolutionForwardAlgorithmEx", Dir::Forward, handle, xDesc, wDesc,
                        convDesc, yDesc, ptr, requestedAlgoCount, returnedAlgoCount, perfResults, workSpace,
                        workSpaceSizeInBytes);
}

cudnnStatus_t CUDNNWINAPI cudnnFindConvolutionBackwardDataAlgorithmEx(
    cudnnHandle_t handle, const cudnnFilterDescriptor_t wDesc, const void* w,
    const cudnnTensorDescriptor_t dyDesc, const void* dy, const cudnnConvolutionDescriptor_t convDesc,
    const cudnnTensorDescriptor_t dxDesc, void* dx, const int requestedAlgoCount, int* returnedAlgoCount,
    cudnnConvolutionBwdDataAlgoPerf_t* perfResults, void* workSpace, size_t workSpaceSizeInBytes) {
  const void* const ptr[3] = {dx, w, dy};
  return cuda_emu::find("cudnnFindConvolutionBackwardDataAlgorithmEx", Dir::BackwardData, handle, dxDesc,
                        wDesc, convDesc, dyDesc, ptr, requestedAlgoCount, returnedAlgoCount, perfResults,
                        workSpace, workSpaceSizeInBytes);
}

cudnnStatus_t CUDNNWINAPI cudnnFindConvolutionBackwardFilterAlgorithmEx(
    cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc, const void* x,
    const cudnnTensorDescriptor_t dyDesc, const void* y, const cudnnConvolutionDescriptor_t convDesc,
    const cudnnFilterDescriptor_t dwDesc, void* dw, const int requestedAlgoCount, int* returnedAlgoCount,
    cudnnConvolutionBwdFilterAlgoPerf_t* perfResults, void* workSpace, size_t workSpaceSizeInBytes) {
  const void* const ptr[3] = {x, dw, y};
  return cuda_emu::find("cudnnFindConvolutionBackwardFilterAlgorithmEx", Dir::BackwardFilter, handle, xDesc,
                        dwDesc, convDesc, dyDesc, ptr, requestedAlgoCount, returnedAlgoCount, perfResults,
                        workSpace, workSpaceSizeInBytes);
}

cudnnStatus_t CUDNNWINAPI cudnnConvolutionForward(cudnnHandle_t handle, const void* alpha,
                                                  const cudnnTensorDescriptor_t xDesc, const void* x,
                                                  const cudnnFilterDescriptor_t wDesc, const void* w,
                                                  const cudnnConvolutionDescriptor_t convDesc,
                                                  cudnnConvolutionFwdAlgo_t algo, void* workSpace,
                                                  size_t workSpaceSizeInBytes, const void* beta,
                                                  const cudnnTensorDescriptor_t yDesc, void* y) {
  const void* const ptr[3] = {x, w, y};
  return cuda_emu::convolve("cudnnConvolutionForward", Dir::Forward, handle, alpha, xDesc, wDesc, convDesc,
                            yDesc, ptr, algo, workSpace, workSpaceSizeInBytes, beta);
}

cudnnStatus_t CUDNNWINAPI cudnnConvolutionBackwardData(cudnnHandle_t handle, const void* alpha,
                                                       const cudnnFilterDescriptor_t wDesc, const void* w,
                                                       const cudnnTensorDescriptor_t dyDesc, const void* dy,
                                                       const cudnnConvolutionDescriptor_t convDesc,
                                                       cudnnConvolutionBwdDataAlgo_t algo, void* workSpace,
                                                       size_t workSpaceSizeInBytes, const void* beta,
                                                       const cudnnTensorDescriptor_t dxDesc, void* dx) {
  const void* const ptr[3] = {dx, w, dy};
  return cuda_emu::convolve("cudnnConvolutionBackwardData", Dir::BackwardData, handle, alpha, dxDesc, wDesc,
                            convDesc, dyDesc, ptr, algo, workSpace, workSpaceSizeInBytes, beta);
}

cudnnStatus_t CUDNNWINAPI cudnnConvolutionBackwardFilter(
    cudnnHandle_t handle, const void* alpha, const cudnnTensorDescriptor_t xDesc, const void* x,
    const cudnnTensorDescriptor_t dyDesc, const void* dy, const cudnnConvolutionDescriptor_t convDesc,
    cudnnConvolutionBwdFilterAlgo_t algo, void* workSpace, size_t workSpaceSizeInBytes, const void* beta,
    const cudnnFilterDescriptor_t dwDesc, void* dw) {
  const void* const ptr[3] = {x, dw, dy};
  return cuda_emu::convolve("cudnnConvolutionBackwardFilter", Dir::BackwardFilter, handle, alpha, xDesc,
                            dwDesc, convDesc, dyDesc, ptr, algo, workSpace, workSpaceSizeInBytes, beta);
}
