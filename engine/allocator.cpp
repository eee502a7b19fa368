#include "engine/allocator.h"

#include <cstdlib>
#include <utility>

#include "engine/error.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

namespace biascka {

namespace {

// See set_poison_slack. Only fresh blocks: a cached block may still be read over its previous owner's extent
// by stream-ordered work queued before it was freed, which is legal.
void poison_slack(void* p, size_t bytes, size_t size) {
#if defined(__SANITIZE_ADDRESS__)
  ASAN_POISON_MEMORY_REGION(static_cast<char*>(p) + bytes, size - bytes);
#else
  (void)p, (void)bytes, (void)size;
#endif
}

void unpoison(void* p, size_t size) {
#if defined(__SANITIZE_ADDRESS__)
  ASAN_UNPOISON_MEMORY_REGION(p, size);
#else
  (void)p, (void)size;
#endif
}

}  // namespace

CachingAllocator::CachingAllocator(std::string name, RawAlloc raw_alloc, RawFree raw_free,
                                   Describe describe_oom, size_t max_cached)
    : name_(std::move(name)),
      raw_alloc_(std::move(raw_alloc)),
      raw_free_(std::move(raw_free)),
      describe_oom_(std::move(describe_oom)),
      max_cached_(max_cached) {}

CachingAllocator::~CachingAllocator() {
  // Blocks still live at exit belong to static tensors; leave them to the OS. Give back the cache.
  std::lock_guard<std::mutex> lock(mu_);
  release_cached_locked();
}

size_t CachingAllocator::round_size(size_t bytes) {
  if (bytes == 0) bytes = 1;
  constexpr size_t kSmall = 512, kMiB = size_t{1} << 20;
  if (bytes <= kMiB) return (bytes + kSmall - 1) / kSmall * kSmall;
  size_t pow = kMiB;
  while (pow * 2 < bytes) pow *= 2;  // pow < bytes <= 2*pow
  const size_t step = pow / 4;
  return (bytes + step - 1) / step * step;
}

void* CachingAllocator::allocate(size_t bytes) {
  const size_t size = round_size(bytes);
  std::lock_guard<std::mutex> lock(mu_);
  void* p = nullptr;
  auto& lists = free_[pool_];
  auto it = lists.find(size);
  if (it != lists.end() && !it->second.empty()) {
    p = it->second.back();
    it->second.pop_back();
    ++stats_.cache_hits;
  } else {
    p = raw_alloc_(size);
    if (!p) {  // maybe the cache holds what we need in other sizes: give it back and retry once
      release_cached_locked();
      p = raw_alloc_(size);
    }
    if (!p) {
      fail(name_, ": out of memory allocating ", size, " bytes (", stats_.in_use, " bytes in use",
           describe_oom_ ? ", " + describe_oom_(size) : std::string(), ")");
    }
    ++stats_.raw_allocs;
    if (poison_slack_) poison_slack(p, bytes, size);
    stats_.reserved += size;
    if (stats_.reserved > stats_.peak_reserved) stats_.peak_reserved = stats_.reserved;
  }
  live_[p] = Block{size, pool_};
  stats_.in_use += size;
  if (stats_.in_use > stats_.peak_in_use) stats_.peak_in_use = stats_.in_use;
  return p;
}

void CachingAllocator::deallocate(void* p) {
  if (!p) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = live_.find(p);
  if (it == live_.end()) return;  // not ours (never happens through Storage)
  const auto [size, pool] = it->second;
  live_.erase(it);
  if (poison_slack_) unpoison(p, size);
  stats_.in_use -= size;
  if (pool == 0 && stats_.reserved - stats_.in_use > max_cached_) {
    raw_free_(p);
    stats_.reserved -= size;
    return;
  }
  free_[pool][size].push_back(p);
}

void CachingAllocator::begin_pool(int pool) {
  std::lock_guard<std::mutex> lock(mu_);
  pool_ = pool;
}

void CachingAllocator::end_pool() {
  std::lock_guard<std::mutex> lock(mu_);
  pool_ = 0;
}

void CachingAllocator::release_pool(int pool) {
  std::lock_guard<std::mutex> lock(mu_);
  if (pool == 0) return;
  auto it = free_.find(pool);
  if (it == free_.end()) return;
  for (auto& [size, blocks] : it->second)
    for (void* p : blocks) free_[0][size].push_back(p);
  free_.erase(it);
  for (auto& [p, b] : live_)  // blocks still held by live tensors return to the default pool when freed
    if (b.pool == pool) b.pool = 0;
}

void CachingAllocator::release_cached_locked() {
  // Only the default pool: a private pool's blocks belong to a graph that may replay again.
  for (auto& [size, blocks] : free_[0]) {
    for (void* p : blocks) {
      raw_free_(p);
      stats_.reserved -= size;
    }
  }
  free_[0].clear();
}

void CachingAllocator::empty_cache() {
  std::lock_guard<std::mutex> lock(mu_);
  release_cached_locked();
}

AllocatorStats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void CachingAllocator::reset_peak() {
  std::lock_guard<std::mutex> lock(mu_);
  stats_.peak_in_use = stats_.in_use;
  stats_.peak_reserved = stats_.reserved;
}

CachingAllocator& cpu_allocator() {
  // 64-byte alignment: whole cache lines and aligned AVX-512 loads.
  static CachingAllocator a(
      "cpu", [](size_t n) { return std::aligned_alloc(64, (n + 63) / 64 * 64); },
      [](void* p) { std::free(p); }, {}, size_t{2} << 30);
  return a;
}

}  // namespace biascka
