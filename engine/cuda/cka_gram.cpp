#include "engine/cuda/cka_gram.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "engine/cuda/check.h"
#include "engine/cuda/runtime.h"
#include "engine/device.h"
#include "engine/error.h"
#include "kernels/kernels.h"

namespace biascka::cuda {

namespace {

constexpr int64_t kTile = kernels::kCkaTile;
constexpr int64_t kTileK = kernels::kCkaTileK;
constexpr int64_t kTileBytes = kTile * kTile * sizeof(float);
// A slice of a split product covers at least this many k-tiles: its partial tile (64 KB written, read back
// once) stays small next to the 128 x 128 x 32 x kMinSliceTiles products it sums.
constexpr int64_t kMinSliceTiles = 8;
// Work items aimed at per multiprocessor (one 256-thread block per SM at a time): enough waves that the
// uneven items of different layers even out.
constexpr int64_t kItemsPerSm = 4;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace

DeviceArena::~DeviceArena() {
  if (ptr_) allocator(device_).deallocate(ptr_);
}

bool DeviceArena::reserve(size_t bytes, cudaStream_t stream) {
  if (bytes <= bytes_ && ptr_) return false;
  if (ptr_) {
    BIASCKA_CUDA_CHECK(cudaStreamSynchronize(stream));
    allocator(device_).deallocate(ptr_);
    ptr_ = nullptr;
    bytes_ = 0;
  }
  ptr_ = allocator(device_).allocate(std::max<size_t>(bytes, 256));
  bytes_ = std::max<size_t>(bytes, 256);
  return true;
}

CudaGramBuilder::CudaGramBuilder(int device)
    : device_(device), mu_(device), workspace_(device), counters_(device), stats_(device) {
  set_device(device);
  BIASCKA_CUDA_CHECK(cudaDeviceGetAttribute(&sms_, cudaDevAttrMultiProcessorCount, device));
}

double CudaGramBuilder::build(const std::vector<const float*>& x, const std::vector<int64_t>& d, int64_t n,
                              bool unbiased, float* g, int64_t ld, cudaStream_t stream,
                              cudaEvent_t product_begin, cudaEvent_t product_end) {
  BIASCKA_CHECK(x.size() == d.size(), "CKA on the GPU: ", x.size(), " layers but ", d.size(), " widths");
  BIASCKA_CHECK(n >= 2, "CKA on the GPU: a batch of ", n, " samples (a Gram needs at least 2)");
  const int64_t packed = n * (n - 1) / 2 + (unbiased ? 0 : n);  // cka::packed_size
  BIASCKA_CHECK(ld >= packed, "CKA on the GPU: Gram row stride ", ld, " below ", packed);
  const bool tf32 = math_mode(device_) == MathMode::Tf32;
  set_device(device_);
  const int64_t nt = ceil_div(n, kTile), tiles = nt * (nt + 1) / 2;
  BIASCKA_CHECK(tiles <= (int64_t{1} << 30), "CKA on the GPU: a batch of ", n, " samples is too large");
  double flops = 0;
  bool product_started = false;
  for (size_t first = 0; first < x.size(); first += kernels::kCkaMaxLayers) {
    const size_t count = std::min<size_t>(kernels::kCkaMaxLayers, x.size() - first);
    kernels::CkaGramBatch b{};
    b.count = static_cast<int32_t>(count);
    b.tiles_1d = static_cast<int32_t>(nt);
    b.tiles = static_cast<int32_t>(tiles);
    b.n = n;
    b.ld = ld;
    b.stats_stride = tiles * 2 * kTile + 2 * n;
    b.unbiased = unbiased;
    b.tf32 = tf32;
    b.g = g + static_cast<int64_t>(first) * ld;

    // Slices: as many k-tiles each as spreads all layers' tiles over kItemsPerSm blocks per SM.
    int64_t total_ktiles = 0;
    for (size_t l = 0; l < count; ++l) {
      BIASCKA_CHECK(d[first + l] > 0, "CKA on the GPU: a layer with no features");
      total_ktiles += tiles * ceil_div(d[first + l], kTileK);
    }
    const int64_t per_slice = k_tiles_per_split > 0
                                  ? k_tiles_per_split
                                  : std::max(kMinSliceTiles, ceil_div(total_ktiles, kItemsPerSm * sms_));
    int64_t cols = 0, items = 0, ws_slots = 0;
    for (size_t l = 0; l < count; ++l) {
      kernels::CkaGramLayer& L = b.layers[l];
      const int64_t dl = d[first + l], kt = ceil_div(dl, kTileK);
      const int64_t splits = ceil_div(kt, per_slice);
      L.x = x[first + l];
      L.d = dl;
      L.col_offset = cols;
      L.item_offset = static_cast<int32_t>(items);
      L.splits = static_cast<int32_t>(splits);
      L.k_tiles_per_split = static_cast<int32_t>(ceil_div(kt, splits));  // even slices
      L.ws_offset = static_cast<int32_t>(ws_slots);
      cols += ceil_div(dl, 4) * 4;  // float4-aligned column means per layer
      items += tiles * splits;
      if (splits > 1) ws_slots += tiles * splits;
      BIASCKA_CHECK(items < (int64_t{1} << 31) && ws_slots < (int64_t{1} << 31),
                    "CKA on the GPU: too many Gram work items");
      flops += static_cast<double>(n) * static_cast<double>(n + 1) * static_cast<double>(dl);
    }
    b.items = static_cast<int32_t>(items);
    b.total_cols = cols;

    mu_.reserve(static_cast<size_t>(cols) * sizeof(float), stream);
    workspace_.reserve(static_cast<size_t>(ws_slots) * kTileBytes, stream);
    const size_t counter_bytes = count * static_cast<size_t>(tiles + 1) * sizeof(int32_t);
    // Counters start at zero; the Gram kernel leaves them at zero.
    if (counters_.reserve(counter_bytes, stream))
      BIASCKA_CUDA_CHECK(cudaMemsetAsync(counters_.as<void>(), 0, counters_.bytes(), stream));
    stats_.reserve(count * static_cast<size_t>(b.stats_stride) * sizeof(double), stream);
    b.mu = mu_.as<float>();
    b.workspace = workspace_.as<float>();
    b.counters = counters_.as<int32_t>();
    b.stats = stats_.as<double>();

    guard([&] { kernels::cka_column_means(b, stream); });
    if (product_begin && !product_started) BIASCKA_CUDA_CHECK(cudaEventRecord(product_begin, stream));
    product_started = true;
    guard([&] { kernels::cka_fused_gram(b, stream); });
    if (product_end) BIASCKA_CUDA_CHECK(cudaEventRecord(product_end, stream));
    guard([&] { kernels::cka_center_packed(b, stream); });
  }
  if (!product_started && product_begin) {  // no layers: an empty interval
    BIASCKA_CUDA_CHECK(cudaEventRecord(product_begin, stream));
    if (product_end) BIASCKA_CUDA_CHECK(cudaEventRecord(product_end, stream));
  }
  return flops;
}

void cka_record_products(const float* p, int64_t chunks, int64_t ca, int64_t cb, double scale, double* out,
                         int64_t ld, int64_t a0, int64_t b0, bool symmetric, bool mirror,
                         cudaStream_t stream) {
  guard([&] {
    kernels::cka_record_products(p, chunks, ca, cb, scale, out, ld, a0, b0, symmetric, mirror, stream);
  });
}

void cka_row_dots(const float* g, int64_t rows, int64_t m, int64_t ld, double scale, double* out,
                  cudaStream_t stream) {
  guard([&] { kernels::cka_row_dots(g, rows, m, ld, scale, out, stream); });
}

void cka_row_products(const float* a, int64_t lda, const float* b, int64_t ldb, int64_t rows, int64_t m,
                      double scale, double* out, cudaStream_t stream) {
  guard([&] { kernels::cka_row_products(a, lda, b, ldb, rows, m, scale, out, stream); });
}

void cka_accumulate(double* dst, const double* src, int64_t count, int64_t src_stride, cudaStream_t stream) {
  guard([&] { kernels::cka_accumulate(dst, src, count, src_stride, stream); });
}

}  // namespace biascka::cuda
