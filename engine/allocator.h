#pragma once
// A caching allocator: freed blocks go to free lists binned by rounded size and are handed out again
// instead of going back to the system. The CPU uses it to avoid page faults on every step's activations;
// each GPU uses it so that no op calls cudaMalloc (DESIGN.md, Engine).
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace biascka {

struct AllocatorStats {
  size_t in_use = 0;       // bytes handed out and not yet freed (rounded sizes)
  size_t peak_in_use = 0;  // high-water mark of in_use since the last reset_peak()
  size_t reserved = 0;     // bytes obtained from the system (in use + cached)
  size_t peak_reserved = 0;
  size_t raw_allocs = 0;  // calls to the system allocator
  size_t cache_hits = 0;  // allocations served from a free list
};

class CachingAllocator {
 public:
  using RawAlloc = std::function<void*(size_t)>;  // returns nullptr when out of memory
  using RawFree = std::function<void(void*)>;
  using Describe = std::function<std::string(size_t)>;  // context for the out-of-memory error

  // max_cached: cached (free) bytes beyond this are given back at once instead of kept.
  CachingAllocator(std::string name, RawAlloc raw_alloc, RawFree raw_free, Describe describe_oom = {},
                   size_t max_cached = SIZE_MAX);
  ~CachingAllocator();
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  void* allocate(size_t bytes);  // throws biascka::Error when the system has no memory left
  void deallocate(void* p);

  // Private pools, for CUDA graphs: while a pool is active, allocations come from (and frees return to)
  // that pool's own free lists, so memory a captured graph replays into is never handed to anyone else.
  // Pool 0 is the default. release_pool gives a pool's cached blocks back to the default pool.
  void begin_pool(int pool);
  void end_pool();
  void release_pool(int pool);
  void empty_cache();  // gives every cached block back to the system
  AllocatorStats stats() const;
  void reset_peak();

  // Under AddressSanitizer, poison the rounding slack of each fresh block past the bytes asked for, so an
  // access one element past a tensor is a report (the CUDA emulation build, where kernels access device
  // memory as host memory, turns it on for the GPU allocators). Only for allocators over real memory.
  void set_poison_slack(bool on) { poison_slack_ = on; }

  // The size a request is rounded to: 512 B granules up to 1 MiB, then four bins per power of two, so
  // a block is at most 25% larger than asked and same-shaped tensors reuse each other's blocks.
  static size_t round_size(size_t bytes);

 private:
  void release_cached_locked();
  std::string name_;
  RawAlloc raw_alloc_;
  RawFree raw_free_;
  Describe describe_oom_;
  size_t max_cached_;
  mutable std::mutex mu_;
  struct Block {
    size_t size;
    int pool;
  };
  std::map<int, std::map<size_t, std::vector<void*>>> free_;  // pool -> rounded size -> cached blocks
  std::map<void*, Block> live_;
  int pool_ = 0;
  bool poison_slack_ = false;
  AllocatorStats stats_;
};

CachingAllocator& cpu_allocator();

}  // namespace biascka
