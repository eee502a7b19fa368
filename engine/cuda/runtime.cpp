#include "engine/cuda/runtime.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <sstream>
#include <utility>
#include <vector>

#include "engine/cuda/check.h"

namespace biascka::cuda {

const char* cublas_status_name(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_SUCCESS:
      return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED:
      return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED:
      return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE:
      return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH:
      return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR:
      return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED:
      return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR:
      return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED:
      return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_LICENSE_ERROR:
      return "CUBLAS_STATUS_LICENSE_ERROR";
  }
  return "unknown cuBLAS status";
}

namespace {

struct Context {
  int device = 0;
  cudaStream_t stream = nullptr;
  cublasHandle_t cublas = nullptr;
  cudnnHandle_t cudnn = nullptr;
  cudaStream_t side_stream = nullptr;  // side_stream(), with its own cuBLAS handle
  cublasHandle_t side_cublas = nullptr;
  std::unique_ptr<CachingAllocator> allocator;
  void* workspace = nullptr;
  size_t workspace_bytes = 0;
  // Outgrown workspaces are kept, never freed: a captured CUDA graph may still hold their address.
  std::vector<void*> retired_workspaces;
};

std::mutex g_mu;
std::vector<std::unique_ptr<Context>> g_contexts;
// Per GPU, apart from the lazily created context: setting it must not create handles or a stream.
constexpr int kMaxMathDevices = 64;
std::atomic<MathMode> g_math[kMaxMathDevices];
std::atomic<MathMode>& math_slot(int device) {
  BIASCKA_CHECK(device >= 0 && device < kMaxMathDevices, "cuda:", device, ": no such device");
  return g_math[device];
}

std::string free_memory_note(int device) {
  size_t free_b = 0, total_b = 0;
  int prev = 0;
  cudaGetDevice(&prev);
  cudaSetDevice(device);
  if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) return "free memory unknown";
  cudaSetDevice(prev);
  std::ostringstream os;
  os << free_b / (1 << 20) << " MiB free of " << total_b / (1 << 20) << " MiB on cuda:" << device;
  return os.str();
}

// The allocator alone: cheap, and what Storage needs before any handle exists.
Context& context_base(int device) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_contexts.empty()) g_contexts.resize(std::max(1, device_count()));
  BIASCKA_CHECK(device >= 0 && device < static_cast<int>(g_contexts.size()), "cuda:", device,
                " does not exist (", device_count(), " GPU(s) found)");
  auto& c = g_contexts[device];
  if (!c) {
    c = std::make_unique<Context>();
    c->device = device;
    c->allocator = std::make_unique<CachingAllocator>(
        "cuda:" + std::to_string(device),
        [device](size_t n) -> void* {
          void* p = nullptr;
          cudaSetDevice(device);
          if (cudaMalloc(&p, n) != cudaSuccess) {
            cudaGetLastError();  // clear the sticky OOM error so later calls are not blamed for it
            return nullptr;
          }
          return p;
        },
        [device](void* p) {
          cudaSetDevice(device);
          cudaFree(p);
        },
        [device](size_t) { return free_memory_note(device); });
    c->allocator->set_poison_slack(true);  // a no-op without AddressSanitizer
  }
  return *c;
}

// A non-blocking stream on `device` and a cuBLAS handle bound to it.
void create_stream(int device, cudaStream_t* stream, cublasHandle_t* blas) {
  BIASCKA_CUDA_CHECK(cudaSetDevice(device));
  BIASCKA_CUDA_CHECK(cudaStreamCreateWithFlags(stream, cudaStreamNonBlocking));
  BIASCKA_CUBLAS_CHECK(cublasCreate(blas));
  BIASCKA_CUBLAS_CHECK(cublasSetStream(*blas, *stream));
}

Context& context(int device) {
  Context& c = context_base(device);
  std::lock_guard<std::mutex> lock(g_mu);
  if (!c.stream) {
    create_stream(device, &c.stream, &c.cublas);
    // An explicit workspace: cuBLAS must not allocate while a training step is captured as a CUDA graph.
    constexpr size_t kCublasWorkspace = size_t{32} << 20;
    BIASCKA_CUBLAS_CHECK(
        cublasSetWorkspace(c.cublas, c.allocator->allocate(kCublasWorkspace), kCublasWorkspace));
    BIASCKA_CUDNN_CHECK(cudnnCreate(&c.cudnn));
    BIASCKA_CUDNN_CHECK(cudnnSetStream(c.cudnn, c.stream));
  }
  return c;
}

// Nothing on the side stream is captured as a graph: its cuBLAS handle keeps cuBLAS's own workspace.
Context& side_context(int device) {
  Context& c = context(device);
  std::lock_guard<std::mutex> lock(g_mu);
  if (!c.side_stream) create_stream(device, &c.side_stream, &c.side_cublas);
  return c;
}

}  // namespace

int device_count() {
  static const int n = [] {
    int k = 0;
    if (cudaGetDeviceCount(&k) != cudaSuccess) {
      cudaGetLastError();
      return 0;
    }
    return k;
  }();
  return n;
}

std::string device_name(int device) {
  cudaDeviceProp p{};
  BIASCKA_CUDA_CHECK(cudaGetDeviceProperties(&p, device));
  std::ostringstream os;
  os << p.name << " (sm_" << p.major << p.minor << ", " << p.multiProcessorCount << " SMs, "
     << p.totalGlobalMem / (1 << 20) << " MiB)";
  return os.str();
}

std::string versions() {
  int rt = 0, drv = 0;
  cudaRuntimeGetVersion(&rt);
  cudaDriverGetVersion(&drv);
  const size_t dnn = cudnnGetVersion();
  int cublas_ver = 0;
  cublasGetProperty(MAJOR_VERSION, &cublas_ver);
  int cublas_minor = 0;
  cublasGetProperty(MINOR_VERSION, &cublas_minor);
  std::ostringstream os;
  os << "CUDA runtime " << rt / 1000 << "." << (rt % 1000) / 10 << ", driver ";
  if (drv)
    os << drv / 1000 << "." << (drv % 1000) / 10;
  else
    os << "none";
  os << ", cuDNN " << dnn / 10000 << "." << (dnn % 10000) / 100 << "." << dnn % 100 << ", cuBLAS "
     << cublas_ver << "." << cublas_minor;
  return os.str();
}

CachingAllocator& allocator(int device) { return *context_base(device).allocator; }
cudaStream_t stream(int device) { return context(device).stream; }
cublasHandle_t cublas(int device) { return context(device).cublas; }
cudnnHandle_t cudnn(int device) { return context(device).cudnn; }
cudaStream_t side_stream(int device) { return side_context(device).side_stream; }
cublasHandle_t side_cublas(int device) { return side_context(device).side_cublas; }
void set_device(int device) { BIASCKA_CUDA_CHECK(cudaSetDevice(device)); }
void synchronize(int device) { BIASCKA_CUDA_CHECK(cudaStreamSynchronize(stream(device))); }

void copy(void* dst, Device dst_dev, const void* src, Device src_dev, size_t bytes) {
  const int dev = dst_dev.is_cuda() ? dst_dev.index : src_dev.index;
  set_device(dev);
  cudaStream_t s = stream(dev);
  BIASCKA_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, s));
  if (dst_dev.is_cpu() || src_dev.is_cpu()) {
    // Host memory may be pageable or go out of scope on return: complete the copy before returning.
    BIASCKA_CUDA_CHECK(cudaStreamSynchronize(s));
  }
}

void* workspace(int device, size_t bytes) {
  Context& c = context(device);
  if (bytes > c.workspace_bytes) {
    if (c.workspace) c.retired_workspaces.push_back(c.workspace);
    c.workspace = c.allocator->allocate(bytes);
    c.workspace_bytes = bytes;
  }
  return c.workspace;
}

PinnedBuffer::PinnedBuffer(size_t bytes) : bytes_(bytes) { BIASCKA_CUDA_CHECK(cudaMallocHost(&ptr_, bytes)); }
PinnedBuffer::~PinnedBuffer() {
  if (ptr_) cudaFreeHost(ptr_);
}
PinnedBuffer::PinnedBuffer(PinnedBuffer&& o) noexcept : ptr_(o.ptr_), bytes_(o.bytes_) {
  o.ptr_ = nullptr;
  o.bytes_ = 0;
}
PinnedBuffer& PinnedBuffer::operator=(PinnedBuffer&& o) noexcept {
  std::swap(ptr_, o.ptr_);
  std::swap(bytes_, o.bytes_);
  return *this;
}

void set_math_mode(int device, MathMode mode) { math_slot(device).store(mode); }
MathMode math_mode(int device) { return math_slot(device).load(); }

}  // namespace biascka::cuda
