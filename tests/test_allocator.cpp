// The caching allocator (engine/allocator.h): its logic against a fake system allocator that counts calls
// and can run out of memory (runs everywhere), then the CUDA allocators' statistics under real tensors
// (GPU only).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/allocator.h"
#include "engine/device.h"
#include "engine/error.h"
#include "engine/tensor.h"
#include "tests/support/test_support.h"

#ifdef BIASCKA_WITH_CUDA
#include "engine/cuda/runtime.h"
#endif

namespace biascka {
namespace {

constexpr size_t kMiB = size_t{1} << 20;

// A system allocator with a capacity: hands out distinct fake addresses (the caching allocator never
// dereferences them), records every call, and returns nullptr when the capacity would be exceeded.
struct FakeSystem {
  size_t capacity = SIZE_MAX;
  size_t live_bytes = 0;
  uintptr_t next = 0x10000;
  std::map<void*, size_t> live;
  std::vector<size_t> alloc_calls;
  int free_calls = 0;
  std::mutex mu;

  CachingAllocator make(size_t max_cached = SIZE_MAX) {
    return CachingAllocator(
        "fake",
        [this](size_t n) -> void* {
          std::lock_guard<std::mutex> lock(mu);
          alloc_calls.push_back(n);
          if (n > capacity - live_bytes) return nullptr;
          void* p = reinterpret_cast<void*>(next);
          next += n + 4096;
          live[p] = n;
          live_bytes += n;
          return p;
        },
        [this](void* p) {
          std::lock_guard<std::mutex> lock(mu);
          ++free_calls;
          auto it = live.find(p);
          ASSERT_NE(it, live.end()) << "freed a block the system never handed out";
          live_bytes -= it->second;
          live.erase(it);
        },
        [](size_t) { return std::string("fake system note"); }, max_cached);
  }
};

TEST(AllocatorRounding, SmallSizesRoundTo512ByteGranules) {
  EXPECT_EQ(CachingAllocator::round_size(0), 512u);
  EXPECT_EQ(CachingAllocator::round_size(1), 512u);
  EXPECT_EQ(CachingAllocator::round_size(512), 512u);
  EXPECT_EQ(CachingAllocator::round_size(513), 1024u);
  EXPECT_EQ(CachingAllocator::round_size(kMiB - 1), kMiB);
  EXPECT_EQ(CachingAllocator::round_size(kMiB), kMiB);
}

TEST(AllocatorRounding, LargeSizesUseFourBinsPerPowerOfTwo) {
  EXPECT_EQ(CachingAllocator::round_size(kMiB + 1), kMiB + kMiB / 4);
  EXPECT_EQ(CachingAllocator::round_size(2 * kMiB), 2 * kMiB);
  EXPECT_EQ(CachingAllocator::round_size(2 * kMiB + 1), 2 * kMiB + kMiB / 2);
  EXPECT_EQ(CachingAllocator::round_size(3 * kMiB), 3 * kMiB);
  EXPECT_EQ(CachingAllocator::round_size(100 * kMiB), 112 * kMiB);  // pow 64 MiB, bins of 16 MiB
}

TEST(AllocatorRounding, RoundingIsMonotoneIdempotentAndBounded) {
  size_t prev = 0;
  for (size_t b = 1; b < (size_t{1} << 34); b = b * 3 / 2 + 7) {
    const size_t r = CachingAllocator::round_size(b);
    EXPECT_GE(r, b);
    EXPECT_GE(r, prev) << b;
    EXPECT_EQ(CachingAllocator::round_size(r), r) << b;
    // 512-byte granules below 1 MiB, above it at most a quarter of the power of two below the size.
    if (b <= kMiB) {
      EXPECT_LT(r - b, 512u);
    } else {
      EXPECT_LE(double(r), 1.25 * double(b)) << b;
    }
    prev = r;
  }
}

TEST(CachingAllocator, FreedBlocksAreReusedBySameRoundedSize) {
  FakeSystem sys;
  CachingAllocator a = sys.make();
  void* p = a.allocate(1000);
  a.deallocate(p);
  void* q = a.allocate(900);  // rounds to the same 1024 bytes: the cached block comes back
  EXPECT_EQ(q, p);
  EXPECT_EQ(sys.alloc_calls.size(), 1u);
  EXPECT_EQ(a.stats().cache_hits, 1u);
  void* r = a.allocate(2000);  // another bin: a new system allocation
  EXPECT_NE(r, p);
  EXPECT_EQ(sys.alloc_calls.size(), 2u);
  EXPECT_EQ(sys.alloc_calls.back(), 2048u) << "the system sees the rounded size";
  a.deallocate(q);
  a.deallocate(r);
  EXPECT_EQ(sys.free_calls, 0) << "freed blocks are cached, not returned";
}

TEST(CachingAllocator, StatsTrackInUseReservedAndPeaks) {
  FakeSystem sys;
  CachingAllocator a = sys.make();
  void* p = a.allocate(3000);      // 3072
  void* q = a.allocate(kMiB + 1);  // 1.25 MiB
  AllocatorStats s = a.stats();
  EXPECT_EQ(s.in_use, 3072 + kMiB + kMiB / 4);
  EXPECT_EQ(s.reserved, s.in_use);
  EXPECT_EQ(s.peak_in_use, s.in_use);
  EXPECT_EQ(s.raw_allocs, 2u);
  a.deallocate(q);
  s = a.stats();
  EXPECT_EQ(s.in_use, 3072u);
  EXPECT_EQ(s.reserved, 3072 + kMiB + kMiB / 4) << "cached bytes stay reserved";
  EXPECT_EQ(s.peak_in_use, 3072 + kMiB + kMiB / 4);
  a.reset_peak();
  s = a.stats();
  EXPECT_EQ(s.peak_in_use, 3072u);
  EXPECT_EQ(s.peak_reserved, s.reserved);
  a.deallocate(p);
  a.empty_cache();
  s = a.stats();
  EXPECT_EQ(s.in_use, 0u);
  EXPECT_EQ(s.reserved, 0u);
  EXPECT_EQ(sys.free_calls, 2);
  EXPECT_TRUE(sys.live.empty());
}

TEST(CachingAllocator, OutOfMemoryNamesTheSizeAndTheAllocator) {
  FakeSystem sys;
  sys.capacity = 4 * kMiB;
  CachingAllocator a = sys.make();
  void* p = a.allocate(3 * kMiB);
  try {
    a.allocate(2 * kMiB);
    FAIL() << "expected an out-of-memory error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("fake"), std::string::npos) << msg;
    EXPECT_NE(msg.find("out of memory"), std::string::npos) << msg;
    EXPECT_NE(msg.find(std::to_string(2 * kMiB)), std::string::npos) << msg;
    EXPECT_NE(msg.find(std::to_string(3 * kMiB) + " bytes in use"), std::string::npos) << msg;
    EXPECT_NE(msg.find("fake system note"), std::string::npos) << msg;
  }
  EXPECT_EQ(a.stats().in_use, 3 * kMiB) << "a failed allocation changes nothing";
  a.deallocate(p);
}

TEST(CachingAllocator, OutOfMemoryReleasesTheCacheAndRetries) {
  FakeSystem sys;
  sys.capacity = 4 * kMiB;
  CachingAllocator a = sys.make();
  void* p = a.allocate(3 * kMiB);
  a.deallocate(p);  // 3 MiB cached: a 2 MiB request fits only once the cache is given back
  void* q = a.allocate(2 * kMiB);
  EXPECT_NE(q, nullptr);
  EXPECT_EQ(sys.free_calls, 1);
  const AllocatorStats s = a.stats();
  EXPECT_EQ(s.reserved, 2 * kMiB);
  EXPECT_EQ(s.in_use, 2 * kMiB);
  a.deallocate(q);
}

TEST(CachingAllocator, MaxCachedGivesBackTheExcess) {
  FakeSystem sys;
  CachingAllocator a = sys.make(/*max_cached=*/1024);
  void* p = a.allocate(1024);
  void* q = a.allocate(1024);
  a.deallocate(p);  // 1024 cached: at the limit, kept
  EXPECT_EQ(sys.free_calls, 0);
  a.deallocate(q);  // 2048 would be cached: given back
  EXPECT_EQ(sys.free_calls, 1);
  EXPECT_EQ(a.stats().reserved, 1024u);
  EXPECT_EQ(a.allocate(1000), p) << "the kept block is reused";
}

TEST(CachingAllocator, IgnoresNullAndForeignPointers) {
  FakeSystem sys;
  CachingAllocator a = sys.make();
  a.deallocate(nullptr);
  int local = 0;
  a.deallocate(&local);
  EXPECT_EQ(a.stats().in_use, 0u);
  EXPECT_EQ(sys.free_calls, 0);
}

TEST(CachingAllocator, DestructorGivesBackTheCache) {
  FakeSystem sys;
  {
    CachingAllocator a = sys.make();
    a.deallocate(a.allocate(5000));
    a.deallocate(a.allocate(kMiB * 3));
  }
  EXPECT_TRUE(sys.live.empty());
  EXPECT_EQ(sys.free_calls, 2);
}

TEST(CachingAllocator, ConcurrentUseKeepsConsistentStats) {
  FakeSystem sys;
  CachingAllocator a = sys.make();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&a, t] {
      std::vector<void*> held;
      for (int i = 0; i < 2000; ++i) {
        held.push_back(a.allocate(size_t(512) * (1 + (i + t) % 7)));
        if (held.size() > 5) {
          a.deallocate(held.front());
          held.erase(held.begin());
        }
      }
      for (void* p : held) a.deallocate(p);
    });
  for (auto& th : threads) th.join();
  const AllocatorStats s = a.stats();
  EXPECT_EQ(s.in_use, 0u);
  EXPECT_EQ(s.reserved, sys.live_bytes) << "reserved is what the system handed out";
  EXPECT_EQ(s.raw_allocs + s.cache_hits, 4u * 2000u);
  a.empty_cache();
  EXPECT_TRUE(sys.live.empty());
}

// ---- the CUDA allocator (GPU only) ----

#ifdef BIASCKA_WITH_CUDA
TEST(CudaAllocator, TensorsGoThroughTheCache) {
  BIASCKA_REQUIRE_GPU();
  CachingAllocator& a = cuda::allocator(0);
  const AllocatorStats before = a.stats();
  const size_t bytes = 3 * kMiB + 100;
  {
    Tensor t = Tensor::empty({int64_t(bytes)}, DType::U8, Device::cuda(0));
    const AllocatorStats s = a.stats();
    EXPECT_EQ(s.in_use - before.in_use, CachingAllocator::round_size(bytes));
    EXPECT_GE(s.peak_in_use, s.in_use);
  }
  const AllocatorStats freed = a.stats();
  EXPECT_EQ(freed.in_use, before.in_use);
  EXPECT_GE(freed.reserved, freed.in_use + CachingAllocator::round_size(bytes)) << "the block stays cached";
  {
    Tensor t = Tensor::empty({int64_t(bytes - 50)}, DType::U8, Device::cuda(0));  // same bin
    const AllocatorStats s = a.stats();
    EXPECT_EQ(s.raw_allocs, freed.raw_allocs) << "no cudaMalloc for a cached size";
    EXPECT_EQ(s.cache_hits, freed.cache_hits + 1);
  }
}

TEST(CudaAllocator, OutOfMemoryIsAnErrorAndTheDeviceStaysUsable) {
  BIASCKA_REQUIRE_GPU();
  try {
    Tensor huge = Tensor::empty({int64_t{1} << 50}, DType::U8, Device::cuda(0));  // 1 PiB
    FAIL() << "expected an out-of-memory error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("cuda:0"), std::string::npos) << msg;
    EXPECT_NE(msg.find("out of memory"), std::string::npos) << msg;
    EXPECT_NE(msg.find("MiB free"), std::string::npos) << msg;
  }
  Tensor t = Tensor::full({1000}, 2.0, DType::F32, Device::cuda(0));
  EXPECT_EQ(t.to_vector()[999], 2.f);
}
#endif

}  // namespace
}  // namespace biascka
