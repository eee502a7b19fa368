// The standalone test's stand-in for cuda_emu::enqueue and cuda_emu::is_device_range (see the header).
#include "tests/cuda_emu/test_doubles_standalone_stream.h"

#include <cstdint>
#include <cstdlib>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <utility>

#include "tests/cuda_emu/emu_stream.h"

namespace cuda_emu {
namespace {

struct Item {
  cudaStream_t stream;
  std::function<void()> work;
  std::string what;
};

struct State {
  std::mutex mu;
  std::map<uintptr_t, size_t> allocations;  // base -> bytes
  std::set<cudaStream_t> streams;
  bool deferred = false;
  std::deque<Item> queue;
};
State& state() {
  static State s;
  return s;
}

}  // namespace

cudaError_t enqueue(cudaStream_t s, std::function<void()> work, std::string what) {
  State& st = state();
  std::unique_lock<std::mutex> lock(st.mu);
  if (s != nullptr && st.streams.count(s) == 0) return cudaErrorInvalidResourceHandle;
  if (st.deferred) {
    st.queue.push_back({s, std::move(work), std::move(what)});
    return cudaSuccess;
  }
  lock.unlock();
  work();
  return cudaSuccess;
}

bool is_device_range(const void* p, size_t bytes) {
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  const auto a = reinterpret_cast<uintptr_t>(p);
  auto it = st.allocations.upper_bound(a);
  if (it == st.allocations.begin()) return false;
  --it;
  return a >= it->first && a - it->first <= it->second && bytes <= it->second - (a - it->first);
}

namespace standalone {

void* device_alloc(size_t bytes) {
  void* p = std::aligned_alloc(256, (bytes + 255) / 256 * 256 + 256);  // cudaMalloc's 256-byte alignment
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  st.allocations[reinterpret_cast<uintptr_t>(p)] = bytes;
  return p;
}

void device_free(void* p) {
  if (!p) return;
  {
    State& st = state();
    std::lock_guard<std::mutex> lock(st.mu);
    st.allocations.erase(reinterpret_cast<uintptr_t>(p));
  }
  std::free(p);
}

cudaStream_t create_stream() {
  auto* token = new char;  // a unique address; never dereferenced
  auto s = reinterpret_cast<cudaStream_t>(token);
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  st.streams.insert(s);
  return s;
}

void destroy_stream(cudaStream_t s) {
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  if (st.streams.erase(s)) delete reinterpret_cast<char*>(s);
}

void set_deferred(bool deferred) {
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  st.deferred = deferred;
}

size_t run_queued() {
  std::deque<Item> items;
  {
    State& st = state();
    std::lock_guard<std::mutex> lock(st.mu);
    items.swap(st.queue);
  }
  for (Item& i : items) i.work();
  return items.size();
}

std::vector<Queued> queued() {
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  std::vector<Queued> out;
  for (const Item& i : st.queue) out.push_back({i.stream, i.what});
  return out;
}

}  // namespace standalone
}  // namespace cuda_emu
