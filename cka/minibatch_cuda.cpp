#include "cka/minibatch_cuda.h"

#include <algorithm>
#include <cstddef>
#include <utility>

#include "cka/centering.h"
#include "engine/error.h"

#ifdef BIASCKA_WITH_CUDA
#include "cka/gram_cuda.h"
#include "engine/allocator.h"
#include "engine/cuda/check.h"
#include "engine/cuda/runtime.h"
#include "kernels/kernels.h"
#endif

namespace biascka::cka {

namespace {

int64_t round_up(int64_t a, int64_t b) { return (a + b - 1) / b * b; }

// Columns per chunk of the pair product. Each chunk's float32 sums run over at most this many products
// (cuBLAS's own accumulation), the chunks are added in float64: ~2^-24 sqrt(512) relative, where one long
// float32 sum over n(n-1)/2 terms would lose ~2^-24 sqrt(n^2 / 2). Chunks of 2048 left CKA errors up to
// ~1.1e-6 in a simulation of sequential float32 sums (n = 128), too close to the 1e-6 parity bound; 512
// keeps them under ~3e-7. At most ~1024 chunks (n = 1024: 1023 chunks, 20 MB of partial products for 69
// layers).
int64_t pair_chunk(int64_t m) {
  if (m <= 512) return round_up(m, 32);
  return std::max<int64_t>(512, round_up((m + 1023) / 1024, 512));
}

}  // namespace

int64_t CudaCka::padded_row_length(int64_t n, Estimator e) {
  const int64_t m = packed_size(n, e);
  return round_up(m, pair_chunk(m));
}

#ifdef BIASCKA_WITH_CUDA

struct CudaCka::State {
  State(int64_t la_, int64_t lb_, const CkaOptions& opts)
      : dev(opts.device.index),
        o(opts),
        la(la_),
        lb(lb_),
        builder(dev),
        ga(dev),
        gb(dev),
        prod(dev),
        batch_sum(dev),
        batch_self_a(dev),
        batch_self_b(dev),
        sum(dev),
        self_a(dev),
        self_b(dev) {}
  ~State() {
    // No throwing here: errors of queued work have been or will never be reported.
    cudaSetDevice(dev);
    if (stream) cudaStreamSynchronize(stream);
    in_flight.clear();
    for (const Timed& t : timed) {
      cudaEventDestroy(t.begin);
      cudaEventDestroy(t.end);
    }
    for (cudaEvent_t e : pool) cudaEventDestroy(e);
    if (ready) cudaEventDestroy(ready);
    if (done) cudaEventDestroy(done);
    if (blas) cublasDestroy(blas);
    if (stream) cudaStreamDestroy(stream);
  }

  int64_t cols() const { return lb > 0 ? lb : la; }

  cudaEvent_t event() {
    if (!pool.empty()) {
      cudaEvent_t e = pool.back();
      pool.pop_back();
      return e;
    }
    cudaEvent_t e = nullptr;
    BIASCKA_CUDA_CHECK(cudaEventCreate(&e));
    return e;
  }
  // An interval of this stream's work, timed into gram_s (kind 0), product_s (1) or hsic_s (2).
  struct Timed {
    cudaEvent_t begin, end;
    int kind;
  };
  Timed begin(int kind) {
    Timed t{event(), event(), kind};
    BIASCKA_CUDA_CHECK(cudaEventRecord(t.begin, stream));
    return t;
  }
  void end(Timed t) {
    BIASCKA_CUDA_CHECK(cudaEventRecord(t.end, stream));
    timed.push_back(t);
  }

  // The previous batch's activations go back to the allocator once the main stream waits for its end.
  void retire() {
    if (!pending) return;
    BIASCKA_CUDA_CHECK(cudaStreamWaitEvent(cuda::stream(dev), done, 0));
    in_flight.clear();
    pending = false;
  }

  // This stream waits for the work queued so far on the main stream. The caching allocator does not track
  // streams: a block it hands out may still be in use by queued main-stream work (the forward pass's
  // temporaries), so nothing may touch a fresh block on this stream before this wait.
  void follow_main_stream() {
    BIASCKA_CUDA_CHECK(cudaEventRecord(ready, cuda::stream(dev)));
    BIASCKA_CUDA_CHECK(cudaStreamWaitEvent(stream, ready, 0));
  }

  // Device memory left for Grams: free memory plus what the caching allocator holds unused.
  size_t available() const {
    size_t free_b = 0, total_b = 0;
    BIASCKA_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
    const AllocatorStats st = cuda::allocator(dev).stats();
    return free_b + (st.reserved > st.in_use ? st.reserved - st.in_use : 0);
  }

  // Gram rows of layers [first, first + count) of `src` into arena g.
  void build(const LayerSource& src, const std::vector<std::string>& names, int64_t first, int64_t count,
             int64_t n, DeviceArena& g) {
    std::vector<const float*> ptrs;
    std::vector<int64_t> widths;
    for (int64_t r = 0; r < count; ++r) {
      const std::string& name = names[static_cast<size_t>(first + r)];
      Tensor x = src(static_cast<size_t>(first + r));
      BIASCKA_CHECK(x.defined() && x.dim() >= 1 && x.size(0) == n, "CKA: layer '", name, "' has ",
                    x.defined() && x.dim() >= 1 ? x.size(0) : 0, " samples in this batch, the others ", n);
      BIASCKA_CHECK(x.numel() / n > 0, "CKA: layer '", name, "' has no features per sample, shape ",
                    shape_str(x.shape()));
      if (x.dtype() != DType::F32) x = x.to(Device::cpu()).to_dtype(DType::F32);
      if (x.device() != o.device) x = x.to(o.device);
      ptrs.push_back(x.data<float>());
      widths.push_back(x.numel() / n);
      in_flight.push_back(std::move(x));  // kept until the main stream waits for this batch
    }
    follow_main_stream();  // the activations were written there (forward pass, uploads)
    const Timed all = begin(0);
    Timed prod_t{event(), event(), 1};
    gram_flops += builder.build(ptrs, widths, n, o.estimator, o.tf32, g.as<float>(), row, stream,
                                prod_t.begin, prod_t.end);
    timed.push_back(prod_t);
    end(all);
  }

  // This batch's HSIC of rows [0, ca) of ga (layers a0..) against rows [0, cb) of gb (layers b0..).
  void products(const DeviceArena& a, int64_t a0, int64_t ca, const DeviceArena& b, int64_t b0, int64_t cb,
                double scale, bool symmetric, bool mirror) {
    const Timed t = begin(2);
    const float one = 1.f, zero = 0.f;
    const int64_t chunks = row / chunk;
    // Row-major P_c [ca, cb] = A[:, chunk c] B[:, chunk c]^T is column-major P_c^T = B_c A_c^T. Exact
    // FP32 even with TF32 on: across two models the self terms are exact float64 row dots, and a TF32
    // numerator against them would bias CKA (~7e-4 when the tensor cores truncate); this product is a
    // small part of the work next to the Grams.
    BIASCKA_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
        blas, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(cb), static_cast<int>(ca), static_cast<int>(chunk),
        &one, b.as<float>(), CUDA_R_32F, static_cast<int>(row), chunk, a.as<float>(), CUDA_R_32F,
        static_cast<int>(row), chunk, &zero, prod.as<float>(), CUDA_R_32F, static_cast<int>(cb), ca * cb,
        static_cast<int>(chunks), CUBLAS_COMPUTE_32F_PEDANTIC, CUBLAS_GEMM_DEFAULT));
    kernels::cka_record_products(prod.as<float>(), chunks, ca, cb, scale, batch_sum.as<double>(), cols(), a0,
                                 b0, symmetric, mirror, stream);
    hsic_flops += 2.0 * static_cast<double>(ca) * static_cast<double>(cb) * static_cast<double>(row);
    end(t);
  }

  int dev;
  CkaOptions o;
  int64_t la, lb;
  cudaStream_t stream = nullptr;
  cublasHandle_t blas = nullptr;
  cudaEvent_t ready = nullptr, done = nullptr;
  CudaGramBuilder builder;
  DeviceArena ga, gb, prod, batch_sum, batch_self_a, batch_self_b, sum, self_a, self_b;
  int64_t layout_n = -1, gb_layout_n = -1, row = 0, chunk = 0;
  std::vector<Tensor> in_flight;
  bool pending = false;
  std::vector<Timed> timed;
  std::vector<cudaEvent_t> pool;
  double gram_flops = 0, hsic_flops = 0;
};

CudaCka::CudaCka(int64_t layers_a, int64_t layers_b, const CkaOptions& options) {
  require_device(options.device);
  BIASCKA_CHECK(options.device.is_cuda(), "CudaCka needs a CUDA device, got ", options.device.str());
  s_ = std::make_unique<State>(layers_a, layers_b, options);
  State& s = *s_;
  cuda::set_device(s.dev);
  BIASCKA_CUDA_CHECK(cudaStreamCreateWithFlags(&s.stream, cudaStreamNonBlocking));
  BIASCKA_CUBLAS_CHECK(cublasCreate(&s.blas));
  BIASCKA_CUBLAS_CHECK(cublasSetStream(s.blas, s.stream));
  BIASCKA_CUDA_CHECK(cudaEventCreateWithFlags(&s.ready, cudaEventDisableTiming));
  BIASCKA_CUDA_CHECK(cudaEventCreateWithFlags(&s.done, cudaEventDisableTiming));
  s.follow_main_stream();
  const size_t la = static_cast<size_t>(layers_a), lc = static_cast<size_t>(s.cols());
  s.sum.reserve(la * lc * sizeof(double), s.stream);
  s.self_a.reserve(la * sizeof(double), s.stream);
  s.self_b.reserve(lc * sizeof(double), s.stream);
  s.batch_sum.reserve(la * lc * sizeof(double), s.stream);
  s.batch_self_a.reserve(la * sizeof(double), s.stream);
  s.batch_self_b.reserve(lc * sizeof(double), s.stream);
  BIASCKA_CUDA_CHECK(cudaMemsetAsync(s.sum.as<void>(), 0, la * lc * sizeof(double), s.stream));
  BIASCKA_CUDA_CHECK(cudaMemsetAsync(s.self_a.as<void>(), 0, la * sizeof(double), s.stream));
  BIASCKA_CUDA_CHECK(cudaMemsetAsync(s.self_b.as<void>(), 0, lc * sizeof(double), s.stream));
}

CudaCka::~CudaCka() = default;

void CudaCka::add_batch(int64_t n, const LayerSource& a, const LayerSource* b,
                        const std::vector<std::string>& names_a, const std::vector<std::string>& names_b) {
  State& s = *s_;
  cuda::set_device(s.dev);
  s.retire();
  s.follow_main_stream();  // before this batch's buffers are cleared
  // However the batch ends, its end is recorded and its activations stay until the main stream waits for it.
  struct Finish {
    State& s;
    ~Finish() {
      cudaEventRecord(s.done, s.stream);
      s.pending = true;
      if (!s.o.overlap && cudaStreamSynchronize(s.stream) == cudaSuccess) {
        s.in_flight.clear();
        s.pending = false;
      }
    }
  } finish{s};

  const bool cross = b != nullptr;
  const Estimator e = s.o.estimator;
  const int64_t la = s.la, lb = cross ? s.lb : 0;
  const int64_t m = packed_size(n, e);
  s.chunk = pair_chunk(m);
  s.row = round_up(m, s.chunk);
  BIASCKA_CHECK(s.row < (int64_t{1} << 31), "CKA on the GPU: a batch of ", n, " samples is too large");
  const bool new_layout = n != s.layout_n;
  s.layout_n = n;
  const size_t row_bytes = static_cast<size_t>(s.row) * sizeof(float);
  const size_t budget = std::min(s.o.gram_memory, s.available() / 2);
  const bool all_fit = static_cast<size_t>(la + lb) * row_bytes <= budget;
  // Groups of layers whose Grams are held together: everything, or two groups of `rows` at a time.
  const int64_t rows =
      all_fit ? std::max(la, lb) : std::max<int64_t>(1, static_cast<int64_t>(budget / (2 * row_bytes)));
  const int64_t rows_a = std::min(rows, la), rows_b = cross ? std::min(rows, lb) : (all_fit ? 0 : rows_a);
  // Gram rows past packed_size stay zero: the chunked product reads them.
  if (s.ga.reserve(static_cast<size_t>(rows_a) * row_bytes, s.stream) || new_layout)
    BIASCKA_CUDA_CHECK(cudaMemsetAsync(s.ga.as<void>(), 0, s.ga.bytes(), s.stream));
  // gb goes unused by batches whose layers all fit, so it keeps the layout of its own last use.
  if (rows_b > 0 && (s.gb.reserve(static_cast<size_t>(rows_b) * row_bytes, s.stream) || s.gb_layout_n != n)) {
    BIASCKA_CUDA_CHECK(cudaMemsetAsync(s.gb.as<void>(), 0, s.gb.bytes(), s.stream));
    s.gb_layout_n = n;
  }
  const int64_t pc = std::max(rows_a, rows_b);
  s.prod.reserve(static_cast<size_t>(s.row / s.chunk) * static_cast<size_t>(rows_a) *
                     static_cast<size_t>(pc) * sizeof(float),
                 s.stream);

  const double scale = 2.0 * hsic_scale(n, e);  // packed rows hold each off-diagonal pair once
  double* batch = s.batch_sum.as<double>();
  BIASCKA_CUDA_CHECK(
      cudaMemsetAsync(batch, 0, static_cast<size_t>(la * s.cols()) * sizeof(double), s.stream));
  if (!cross) {
    for (int64_t p0 = 0; p0 < la; p0 += rows) {
      const int64_t cp = std::min(rows, la - p0);
      s.build(a, names_a, p0, cp, n, s.ga);
      s.products(s.ga, p0, cp, s.ga, p0, cp, scale, true, false);
      for (int64_t q0 = p0 + cp; q0 < la; q0 += rows) {
        const int64_t cq = std::min(rows, la - q0);
        s.build(a, names_a, q0, cq, n, s.gb);
        s.products(s.ga, p0, cp, s.gb, q0, cq, scale, false, true);
      }
    }
    const State::Timed t = s.begin(2);
    kernels::cka_accumulate(s.sum.as<double>(), batch, la * la, 1, s.stream);
    kernels::cka_accumulate(s.self_a.as<double>(), batch, la, la + 1, s.stream);
    s.end(t);
  } else {
    const bool b_held = lb <= rows;  // the second model's Grams are built once per batch
    for (int64_t p0 = 0; p0 < la; p0 += rows) {
      const int64_t cp = std::min(rows, la - p0);
      s.build(a, names_a, p0, cp, n, s.ga);
      kernels::cka_row_dots(s.ga.as<float>(), cp, m, s.row, scale, s.batch_self_a.as<double>() + p0,
                            s.stream);
      for (int64_t q0 = 0; q0 < lb; q0 += rows) {
        const int64_t cq = std::min(rows, lb - q0);
        if (!(b_held && p0 > 0)) s.build(*b, names_b, q0, cq, n, s.gb);
        if (p0 == 0)
          kernels::cka_row_dots(s.gb.as<float>(), cq, m, s.row, scale, s.batch_self_b.as<double>() + q0,
                                s.stream);
        s.products(s.ga, p0, cp, s.gb, q0, cq, scale, false, false);
      }
    }
    const State::Timed t = s.begin(2);
    kernels::cka_accumulate(s.sum.as<double>(), batch, la * lb, 1, s.stream);
    kernels::cka_accumulate(s.self_a.as<double>(), s.batch_self_a.as<double>(), la, 1, s.stream);
    kernels::cka_accumulate(s.self_b.as<double>(), s.batch_self_b.as<double>(), lb, 1, s.stream);
    s.end(t);
  }
}

void CudaCka::download(std::vector<double>& sum, std::vector<double>& self_a, std::vector<double>& self_b,
                       CkaTiming& timing) {
  State& s = *s_;
  cuda::set_device(s.dev);
  sum.resize(static_cast<size_t>(s.la * s.cols()));
  self_a.resize(static_cast<size_t>(s.la));
  self_b.resize(static_cast<size_t>(s.cols()));
  BIASCKA_CUDA_CHECK(cudaMemcpyAsync(sum.data(), s.sum.as<void>(), sum.size() * sizeof(double),
                                     cudaMemcpyDeviceToHost, s.stream));
  BIASCKA_CUDA_CHECK(cudaMemcpyAsync(self_a.data(), s.self_a.as<void>(), self_a.size() * sizeof(double),
                                     cudaMemcpyDeviceToHost, s.stream));
  // One model: model B's self terms are model A's.
  const DeviceArena& sb = s.lb > 0 ? s.self_b : s.self_a;
  BIASCKA_CUDA_CHECK(cudaMemcpyAsync(self_b.data(), sb.as<void>(), self_b.size() * sizeof(double),
                                     cudaMemcpyDeviceToHost, s.stream));
  BIASCKA_CUDA_CHECK(cudaStreamSynchronize(s.stream));
  for (const State::Timed& t : s.timed) {
    float ms = 0;
    BIASCKA_CUDA_CHECK(cudaEventElapsedTime(&ms, t.begin, t.end));
    (t.kind == 0 ? timing.gram_s : t.kind == 1 ? timing.product_s : timing.hsic_s) += ms * 1e-3;
    s.pool.push_back(t.begin);
    s.pool.push_back(t.end);
  }
  s.timed.clear();
  timing.gram_flops += s.gram_flops;
  timing.hsic_flops += s.hsic_flops;
  s.gram_flops = s.hsic_flops = 0;
  s.retire();
}

#else  // a build without CUDA

struct CudaCka::State {};

CudaCka::CudaCka(int64_t, int64_t, const CkaOptions& options) {
  fail("CKA on ", options.device.str(), ": this build has no CUDA backend");
}
CudaCka::~CudaCka() = default;
void CudaCka::add_batch(int64_t, const LayerSource&, const LayerSource*, const std::vector<std::string>&,
                        const std::vector<std::string>&) {
  fail("CKA on the GPU: this build has no CUDA backend");
}
void CudaCka::download(std::vector<double>&, std::vector<double>&, std::vector<double>&, CkaTiming&) {
  fail("CKA on the GPU: this build has no CUDA backend");
}

#endif

}  // namespace biascka::cka
