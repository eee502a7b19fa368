// The CUDA backend of minibatch CKA (CUDA builds only), on the device's side stream (engine/cuda/runtime.h):
// - each group of layers' packed centred Grams as float rows of G (engine/cuda/cka_gram.h: the engine's
//   CKA entries), straight from the activations where they lie on the device, TF32 or exact FP32 as the
//   device's math mode says;
// - G_a G_b^T over column chunks of the rows, one strided-batched cuBLAS product (exact FP32 always), the
//   chunk results summed in float64 with the batch's 2/(n(n-3)) or 2/(n-1)^2 into the batch's HSIC matrix;
//   with one model the diagonal block is made exactly symmetric, with two each row's product with itself
//   (float64) gives the self terms;
// - at commit, float64 sums on the device;
// - kept rows (keep_rows): a batch's rows copied out unpadded into a float32 [rows, m] tensor; row_products
//   dots two such tensors row by row in float64 (cka_row_products, the self terms' kernel). Both
//   synchronise the side stream: they serve a rare evaluation, not the streaming loop.
// A Gram row is packed_size(n) floats rounded up to whole column chunks (zero past packed_size: the chunked
// product reads them); the layer groups are planned under the smaller of CkaOptions::gram_memory and half the
// device memory available.
// Overlap: begin_batch makes the side stream wait (on the device) for the work queued so far on the device's
// main stream, which produced the activations; the batch is queued and add_batch returns. The batch's
// activations are kept until the main stream has been made to wait for the batch's end (at the next batch or
// read): the next forward pass overlaps this batch's CKA, and the allocator never hands out their memory
// while the side stream reads it. All memory comes from the device's caching allocator (DeviceArena).
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "cka/backend.h"
#include "cka/centering.h"
#include "cka/estimator.h"
#include "engine/allocator.h"
#include "engine/cuda/check.h"
#include "engine/cuda/cka_gram.h"
#include "engine/cuda/runtime.h"
#include "engine/error.h"

namespace biascka::cka {

namespace {

using cuda::CudaGramBuilder;
using cuda::DeviceArena;

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

// Where an interval of the side stream's work is timed: CkaTiming::gram_s, product_s or hsic_s.
enum class Phase { Grams, GramProducts, Hsic };

class CudaBackend final : public CkaBackend {
 public:
  CudaBackend(const CkaOptions& options, int64_t layers_a, int64_t layers_b)
      : dev_(options.device.index),
        o_(options),
        la_(layers_a),
        lb_(layers_b),
        builder_(dev_),
        ga_(dev_),
        gb_(dev_),
        prod_(dev_),
        batch_sum_(dev_),
        batch_self_a_(dev_),
        batch_self_b_(dev_),
        sum_(dev_),
        self_a_(dev_),
        self_b_(dev_) {
    cuda::set_device(dev_);
    stream_ = cuda::side_stream(dev_);
    blas_ = cuda::side_cublas(dev_);
    BIASCKA_CUDA_CHECK(cudaEventCreateWithFlags(&ready_, cudaEventDisableTiming));
    BIASCKA_CUDA_CHECK(cudaEventCreateWithFlags(&done_, cudaEventDisableTiming));
    follow_main_stream();
    const size_t la = static_cast<size_t>(la_), lc = static_cast<size_t>(cols());
    sum_.reserve(la * lc * sizeof(double), stream_);
    self_a_.reserve(la * sizeof(double), stream_);
    self_b_.reserve(lc * sizeof(double), stream_);
    batch_sum_.reserve(la * lc * sizeof(double), stream_);
    batch_self_a_.reserve(la * sizeof(double), stream_);
    batch_self_b_.reserve(lc * sizeof(double), stream_);
    BIASCKA_CUDA_CHECK(cudaMemsetAsync(sum_.as<void>(), 0, la * lc * sizeof(double), stream_));
    BIASCKA_CUDA_CHECK(cudaMemsetAsync(self_a_.as<void>(), 0, la * sizeof(double), stream_));
    BIASCKA_CUDA_CHECK(cudaMemsetAsync(self_b_.as<void>(), 0, lc * sizeof(double), stream_));
  }

  ~CudaBackend() override {
    // No throwing here: errors of queued work have been or will never be reported. The arenas go back to the
    // allocator after this body, once the side stream has finished with them.
    cudaSetDevice(dev_);
    cudaStreamSynchronize(stream_);
    in_flight_.clear();
    for (const Timed& t : timed_) {
      cudaEventDestroy(t.begin);
      cudaEventDestroy(t.end);
    }
    for (cudaEvent_t e : pool_) cudaEventDestroy(e);
    if (ready_) cudaEventDestroy(ready_);
    if (done_) cudaEventDestroy(done_);
  }

  Device device() const override { return o_.device; }

  size_t row_bytes(int64_t n) const override {
    const int64_t m = packed_size(n, o_.estimator);
    return static_cast<size_t>(round_up(m, pair_chunk(m))) * sizeof(float);
  }

  // Device memory left for Grams: free memory plus what the caching allocator holds unused.
  size_t gram_budget() const override {
    size_t free_b = 0, total_b = 0;
    BIASCKA_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
    const AllocatorStats st = cuda::allocator(dev_).stats();
    return std::min(o_.gram_memory, (free_b + (st.reserved > st.in_use ? st.reserved - st.in_use : 0)) / 2);
  }

  void begin_batch(int64_t n) override {
    cuda::set_device(dev_);
    retire();
    follow_main_stream();  // before this batch's buffers are cleared
    m_ = packed_size(n, o_.estimator);
    chunk_ = pair_chunk(m_);
    row_ = round_up(m_, chunk_);
    BIASCKA_CHECK(row_ < (int64_t{1} << 31), "CKA on the GPU: a batch of ", n, " samples is too large");
    new_layout_ = n != layout_n_;
    layout_n_ = n;
    scale_ = 2.0 * hsic_scale(n, o_.estimator);  // packed rows hold each off-diagonal pair once
  }

  void reserve(int64_t rows_a, int64_t rows_b) override {
    const size_t row_bytes = static_cast<size_t>(row_) * sizeof(float);
    // Gram rows past packed_size stay zero: the chunked product reads them.
    if (ga_.reserve(static_cast<size_t>(rows_a) * row_bytes, stream_) || new_layout_)
      BIASCKA_CUDA_CHECK(cudaMemsetAsync(ga_.as<void>(), 0, ga_.bytes(), stream_));
    // gb goes unused by batches whose layers all fit, so it keeps the layout of its own last use.
    if (rows_b > 0 &&
        (gb_.reserve(static_cast<size_t>(rows_b) * row_bytes, stream_) || gb_layout_n_ != layout_n_)) {
      BIASCKA_CUDA_CHECK(cudaMemsetAsync(gb_.as<void>(), 0, gb_.bytes(), stream_));
      gb_layout_n_ = layout_n_;
    }
    const int64_t pc = std::max(rows_a, rows_b);
    prod_.reserve(static_cast<size_t>(row_ / chunk_) * static_cast<size_t>(rows_a) * static_cast<size_t>(pc) *
                      sizeof(float),
                  stream_);
    BIASCKA_CUDA_CHECK(cudaMemsetAsync(batch_sum_.as<void>(), 0,
                                       static_cast<size_t>(la_ * cols()) * sizeof(double), stream_));
  }

  void commit() override {
    const Timed t = begin(Phase::Hsic);
    const double* batch = batch_sum_.as<double>();
    if (lb_ == 0) {
      cuda::cka_accumulate(sum_.as<double>(), batch, la_ * la_, 1, stream_);
      cuda::cka_accumulate(self_a_.as<double>(), batch, la_, la_ + 1, stream_);  // the diagonal
    } else {
      cuda::cka_accumulate(sum_.as<double>(), batch, la_ * lb_, 1, stream_);
      cuda::cka_accumulate(self_a_.as<double>(), batch_self_a_.as<double>(), la_, 1, stream_);
      cuda::cka_accumulate(self_b_.as<double>(), batch_self_b_.as<double>(), lb_, 1, stream_);
    }
    if (keeps_batches(o_)) keep_batch();
    end(t);
  }

  // However the batch ended, its end is recorded and its activations stay until the main stream waits for it.
  void end_batch() noexcept override {
    cudaEventRecord(done_, stream_);
    pending_ = true;
    if (!o_.overlap && cudaStreamSynchronize(stream_) == cudaSuccess) {
      in_flight_.clear();
      pending_ = false;
    }
  }

  void build(GramSlot slot, const BatchLayers& layers, int64_t first, int64_t count) override {
    const int64_t n = layers.samples();
    std::vector<const float*> ptrs;
    std::vector<int64_t> widths;
    for (int64_t r = 0; r < count; ++r) {
      Tensor x = layers.layer(first + r);
      BIASCKA_CHECK(x.numel() / n > 0, "CKA: layer '", layers.name(first + r),
                    "' has no features per sample, shape ", shape_str(x.shape()));
      if (x.dtype() != DType::F32) x = x.to(Device::cpu()).to_dtype(DType::F32);
      if (x.device() != o_.device) x = x.to(o_.device);
      ptrs.push_back(x.data<float>());
      widths.push_back(x.numel() / n);
      in_flight_.push_back(std::move(x));  // kept until the main stream waits for this batch
    }
    follow_main_stream();  // the activations were written there (forward pass, uploads)
    const Timed all = begin(Phase::Grams);
    const Timed products{event(), event(), Phase::GramProducts};
    gram_flops_ += builder_.build(ptrs, widths, n, o_.estimator == Estimator::Unbiased,
                                  arena(slot).as<float>(), row_, stream_, products.begin, products.end);
    timed_.push_back(products);
    end(all);
    first_[slot == GramSlot::A ? 0 : 1] = first;
  }

  void pair_products(int64_t a0, int64_t ca, int64_t b0, int64_t cb, PairBlock block) override {
    const bool b_in_a = block == PairBlock::Diagonal || block == PairBlock::MirroredInA;
    const float* rows_a = row(GramSlot::A, a0);
    const float* rows_b = row(b_in_a ? GramSlot::A : GramSlot::B, b0);
    const Timed t = begin(Phase::Hsic);
    const float one = 1.f, zero = 0.f;
    const int64_t chunks = row_ / chunk_;
    // Row-major P_c [ca, cb] = A[:, chunk c] B[:, chunk c]^T is column-major P_c^T = B_c A_c^T. Exact
    // FP32 even with TF32 on: across two models the self terms are exact float64 row dots, and a TF32
    // numerator against them would bias CKA (~7e-4 when the tensor cores truncate); this product is a
    // small part of the work next to the Grams.
    BIASCKA_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
        blas_, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(cb), static_cast<int>(ca), static_cast<int>(chunk_),
        &one, rows_b, CUDA_R_32F, static_cast<int>(row_), chunk_, rows_a, CUDA_R_32F, static_cast<int>(row_),
        chunk_, &zero, prod_.as<float>(), CUDA_R_32F, static_cast<int>(cb), ca * cb, static_cast<int>(chunks),
        CUBLAS_COMPUTE_32F_PEDANTIC, CUBLAS_GEMM_DEFAULT));
    cuda::cka_record_products(prod_.as<float>(), chunks, ca, cb, scale_, batch_sum_.as<double>(), cols(), a0,
                              b0, block == PairBlock::Diagonal,
                              block == PairBlock::Mirrored || block == PairBlock::MirroredInA, stream_);
    hsic_flops_ += 2.0 * static_cast<double>(ca) * static_cast<double>(cb) * static_cast<double>(row_);
    end(t);
  }

  void self_products(GramSlot slot, int64_t first, int64_t count) override {
    DeviceArena& self = slot == GramSlot::A ? batch_self_a_ : batch_self_b_;
    cuda::cka_row_dots(arena(slot).as<float>(), count, m_, row_, scale_, self.as<double>() + first, stream_);
  }

  void keep_rows(GramSlot slot, int64_t count, int64_t first, int64_t total, Tensor& kept) override {
    cuda::set_device(dev_);
    if (!kept.defined() || kept.dtype() != DType::F32 || kept.device() != o_.device || kept.dim() != 2 ||
        kept.size(0) != total || kept.size(1) != m_)
      kept = Tensor::empty({total, m_}, DType::F32, o_.device);
    BIASCKA_CHECK(first >= 0 && count >= 0 && first + count <= total, "CKA: kept rows ", first, "..",
                  first + count, " outside ", total);
    follow_main_stream();  // a fresh block may still be in use by queued main-stream work
    const size_t width = static_cast<size_t>(m_) * sizeof(float);
    BIASCKA_CUDA_CHECK(cudaMemcpy2DAsync(kept.data<float>() + first * m_, width, arena(slot).as<float>(),
                                         static_cast<size_t>(row_) * sizeof(float), width,
                                         static_cast<size_t>(count), cudaMemcpyDeviceToDevice, stream_));
    BIASCKA_CUDA_CHECK(cudaStreamSynchronize(stream_));  // the tensor's readers use the main stream
  }

  std::vector<double> row_products(const Tensor& a, const Tensor& b) override {
    check_kept_pair(a, b);
    BIASCKA_CHECK(a.dtype() == DType::F32 && a.device() == o_.device, "CKA on ", o_.device.str(),
                  ": kept Gram rows must be float32 on that device");
    cuda::set_device(dev_);
    const Tensor y =
        b.dtype() == DType::F32 ? b.to(o_.device) : b.to(Device::cpu()).to_dtype(DType::F32).to(o_.device);
    const int64_t rows = a.size(0), m = a.size(1);
    DeviceArena out(dev_);
    out.reserve(static_cast<size_t>(rows) * sizeof(double), stream_);
    follow_main_stream();  // y's upload, and the fresh block
    cuda::cka_row_products(a.data<float>(), m, y.data<float>(), m, rows, m, 1.0, out.as<double>(), stream_);
    std::vector<double> host(static_cast<size_t>(rows));
    download(host, out);
    BIASCKA_CUDA_CHECK(cudaStreamSynchronize(stream_));  // before `out` and `y` are released
    return host;
  }

  HsicSums sums() override {
    cuda::set_device(dev_);
    HsicSums out;
    out.pairs.resize(static_cast<size_t>(la_ * cols()));
    out.self_a.resize(static_cast<size_t>(la_));
    out.self_b.resize(static_cast<size_t>(cols()));
    download(out.pairs, sum_);
    download(out.self_a, self_a_);
    download(out.self_b, lb_ > 0 ? self_b_ : self_a_);  // one model: model B's self terms are model A's
    drain();
    return out;
  }

  BatchHistory history() override {
    cuda::set_device(dev_);
    const size_t record = kept_record(), pairs = static_cast<size_t>(la_ * cols());
    std::vector<double> all(static_cast<size_t>(kept_batches_) * record);
    for (size_t c = 0; c < kept_.size(); ++c) {
      const int64_t in_chunk =
          std::min(kKeptPerChunk, kept_batches_ - static_cast<int64_t>(c) * kKeptPerChunk);
      BIASCKA_CUDA_CHECK(cudaMemcpyAsync(all.data() + c * kKeptPerChunk * record, kept_[c]->as<void>(),
                                         static_cast<size_t>(in_chunk) * record * sizeof(double),
                                         cudaMemcpyDeviceToHost, stream_));
    }
    drain();
    BatchHistory h;
    h.batches = kept_batches_;
    for (int64_t t = 0; t < kept_batches_; ++t) {
      const double* r = all.data() + static_cast<size_t>(t) * record;
      h.pairs.insert(h.pairs.end(), r, r + pairs);
      if (lb_ == 0) continue;
      h.self_a.insert(h.self_a.end(), r + pairs, r + pairs + la_);
      h.self_b.insert(h.self_b.end(), r + pairs + la_, r + record);
    }
    return h;
  }

  const CkaTiming& timing() override {
    cuda::set_device(dev_);
    drain();
    return timing_;
  }

 private:
  // An interval of the side stream's work.
  struct Timed {
    cudaEvent_t begin, end;
    Phase phase;
  };

  int64_t cols() const { return lb_ > 0 ? lb_ : la_; }
  DeviceArena& arena(GramSlot slot) { return slot == GramSlot::A ? ga_ : gb_; }
  // Layer `layer`'s row in `slot` (which holds layers first_[slot]..).
  const float* row(GramSlot slot, int64_t layer) {
    const int64_t r = layer - first_[slot == GramSlot::A ? 0 : 1];
    BIASCKA_CHECK(r >= 0 && static_cast<size_t>((r + 1) * row_) * sizeof(float) <= arena(slot).bytes(),
                  "CKA: layer ", layer, " is not in the Gram slot");
    return arena(slot).as<float>() + r * row_;
  }

  cudaEvent_t event() {
    if (!pool_.empty()) {
      cudaEvent_t e = pool_.back();
      pool_.pop_back();
      return e;
    }
    cudaEvent_t e = nullptr;
    BIASCKA_CUDA_CHECK(cudaEventCreate(&e));
    return e;
  }
  Timed begin(Phase phase) {
    const Timed t{event(), event(), phase};
    BIASCKA_CUDA_CHECK(cudaEventRecord(t.begin, stream_));
    return t;
  }
  void end(const Timed& t) {
    BIASCKA_CUDA_CHECK(cudaEventRecord(t.end, stream_));
    timed_.push_back(t);
  }

  // The previous batch's activations go back to the allocator once the main stream waits for its end.
  void retire() {
    if (!pending_) return;
    BIASCKA_CUDA_CHECK(cudaStreamWaitEvent(cuda::stream(dev_), done_, 0));
    in_flight_.clear();
    pending_ = false;
  }

  // The side stream waits for the work queued so far on the main stream. The caching allocator does not
  // track streams: a block it hands out may still be in use by queued main-stream work (the forward pass's
  // temporaries), so nothing may touch a fresh block on the side stream before this wait.
  void follow_main_stream() {
    BIASCKA_CUDA_CHECK(cudaEventRecord(ready_, cuda::stream(dev_)));
    BIASCKA_CUDA_CHECK(cudaStreamWaitEvent(stream_, ready_, 0));
  }

  // Doubles kept per batch for the bootstrap: the pair values, then (two models) both models' self terms.
  size_t kept_record() const { return static_cast<size_t>(la_ * cols() + (lb_ > 0 ? la_ + lb_ : 0)); }

  // Copies the batch's values on the side stream (no wait) into chunks of kKeptPerChunk batches.
  void keep_batch() {
    const size_t record = kept_record();
    const int64_t slot = kept_batches_ % kKeptPerChunk;
    if (slot == 0) {
      kept_.push_back(std::make_unique<DeviceArena>(dev_));
      kept_.back()->reserve(static_cast<size_t>(kKeptPerChunk) * record * sizeof(double), stream_);
    }
    double* dst = kept_.back()->as<double>() + static_cast<size_t>(slot) * record;
    auto copy = [&](double* to, const DeviceArena& from, int64_t count) {
      BIASCKA_CUDA_CHECK(cudaMemcpyAsync(to, from.as<void>(), static_cast<size_t>(count) * sizeof(double),
                                         cudaMemcpyDeviceToDevice, stream_));
    };
    copy(dst, batch_sum_, la_ * cols());
    if (lb_ > 0) {
      copy(dst + la_ * lb_, batch_self_a_, la_);
      copy(dst + la_ * lb_ + la_, batch_self_b_, lb_);
    }
    ++kept_batches_;
  }

  // Queues the copy of a device vector of doubles into `host` (read once drain has synchronised).
  void download(std::vector<double>& host, const DeviceArena& dev) {
    BIASCKA_CUDA_CHECK(cudaMemcpyAsync(host.data(), dev.as<void>(), host.size() * sizeof(double),
                                       cudaMemcpyDeviceToHost, stream_));
  }

  // Waits for the queued work and adds the times and flops since the last call to timing_.
  void drain() {
    BIASCKA_CUDA_CHECK(cudaStreamSynchronize(stream_));
    for (const Timed& t : timed_) {
      float ms = 0;
      BIASCKA_CUDA_CHECK(cudaEventElapsedTime(&ms, t.begin, t.end));
      (t.phase == Phase::Grams          ? timing_.gram_s
       : t.phase == Phase::GramProducts ? timing_.product_s
                                        : timing_.hsic_s) += ms * 1e-3;
      pool_.push_back(t.begin);
      pool_.push_back(t.end);
    }
    timed_.clear();
    timing_.gram_flops += gram_flops_;
    timing_.hsic_flops += hsic_flops_;
    gram_flops_ = hsic_flops_ = 0;
    retire();
  }

  int dev_;
  CkaOptions o_;
  int64_t la_, lb_;  // lb_ 0: one model
  cudaStream_t stream_ = nullptr;
  cublasHandle_t blas_ = nullptr;
  cudaEvent_t ready_ = nullptr, done_ = nullptr;
  CudaGramBuilder builder_;
  DeviceArena ga_, gb_, prod_, batch_sum_, batch_self_a_, batch_self_b_, sum_, self_a_, self_b_;
  // The current batch's layout: packed row length, padded row length and chunk of the pair product.
  int64_t m_ = 0, row_ = 0, chunk_ = 0, layout_n_ = -1, gb_layout_n_ = -1;
  int64_t first_[2] = {0, 0};  // the first layer held by slot A and slot B
  bool new_layout_ = false;
  double scale_ = 0;
  std::vector<Tensor> in_flight_;
  bool pending_ = false;
  std::vector<Timed> timed_;
  std::vector<cudaEvent_t> pool_;
  double gram_flops_ = 0, hsic_flops_ = 0;
  CkaTiming timing_;
  static constexpr int64_t kKeptPerChunk = 64;  // batches per device chunk of the bootstrap's history
  std::vector<std::unique_ptr<DeviceArena>> kept_;
  int64_t kept_batches_ = 0;
};

}  // namespace

std::unique_ptr<CkaBackend> make_cuda_backend(const CkaOptions& options, int64_t layers_a, int64_t layers_b) {
  require_device(options.device);
  return std::make_unique<CudaBackend>(options, layers_a, layers_b);
}

}  // namespace biascka::cka
