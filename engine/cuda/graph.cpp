#include "engine/cuda/graph.h"

#include <atomic>
#include <cstring>

#include "engine/cuda/check.h"
#include "engine/cuda/runtime.h"

namespace biascka::cuda {

namespace {
std::atomic<int> g_next_pool{1};
}

Graph::Graph(int device) : device_(device), pool_(g_next_pool++) {}

Graph::~Graph() {
  if (exec_) cudaGraphExecDestroy(exec_);
  if (graph_) cudaGraphDestroy(graph_);
  allocator(device_).release_pool(pool_);
}

void Graph::capture(const std::function<void()>& body) {
  set_device(device_);
  cudaStream_t s = stream(device_);
  BIASCKA_CUDA_CHECK(cudaStreamSynchronize(s));
  CachingAllocator& alloc = allocator(device_);
  alloc.begin_pool(pool_);
  // Relaxed: the caching allocator may call cudaMalloc while this thread captures.
  BIASCKA_CUDA_CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeRelaxed));
  try {
    body();
  } catch (...) {
    cudaGraph_t broken = nullptr;
    cudaStreamEndCapture(s, &broken);
    if (broken) cudaGraphDestroy(broken);
    alloc.end_pool();
    throw;
  }
  const cudaError_t ended = cudaStreamEndCapture(s, &graph_);
  alloc.end_pool();  // before the check: a failed capture must not leave later allocations in its pool
  BIASCKA_CUDA_CHECK(ended);
  BIASCKA_CUDA_CHECK(cudaGraphInstantiate(&exec_, graph_, 0));
}

void Graph::replay() {
  set_device(device_);
  BIASCKA_CUDA_CHECK(cudaGraphLaunch(exec_, stream(device_)));
}

struct Uploader::Slot {
  PinnedBuffer buffer;
  cudaEvent_t done = nullptr;
};

Uploader::Uploader(int device) : device_(device), slots_(std::make_unique<Slot[]>(kSlots)) {
  set_device(device);
  for (int i = 0; i < kSlots; ++i)
    BIASCKA_CUDA_CHECK(cudaEventCreateWithFlags(&slots_[i].done, cudaEventDisableTiming));
}

Uploader::~Uploader() {
  for (int i = 0; i < kSlots; ++i) {
    cudaEventSynchronize(slots_[i].done);
    cudaEventDestroy(slots_[i].done);
  }
}

void Uploader::upload(void* device_dst, const void* host_src, size_t bytes) {
  Slot& slot = slots_[next_];
  next_ = (next_ + 1) % kSlots;
  BIASCKA_CUDA_CHECK(cudaEventSynchronize(slot.done));  // the copy that last used this buffer is done
  if (slot.buffer.bytes() < bytes) slot.buffer = PinnedBuffer(bytes);
  std::memcpy(slot.buffer.data(), host_src, bytes);
  set_device(device_);
  cudaStream_t s = stream(device_);
  BIASCKA_CUDA_CHECK(cudaMemcpyAsync(device_dst, slot.buffer.data(), bytes, cudaMemcpyHostToDevice, s));
  BIASCKA_CUDA_CHECK(cudaEventRecord(slot.done, s));
}

}  // namespace biascka::cuda
