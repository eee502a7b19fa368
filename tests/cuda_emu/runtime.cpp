// The CUDA runtime API subset biascka calls, emulated on host memory (test infrastructure, never the
// product; linked instead of libcudart into the -DBIASCKA_CUDA_EMULATION=ON build).
//
// The device: one H200 as cudaGetDeviceProperties describes it (sm_90, 132 SMs, 1024 threads per block,
// 48 KiB of dynamic shared memory per block, 227 KiB with the cudaFuncSetAttribute opt-in), whose memory is
// host memory: cudaMalloc is posix_memalign (so AddressSanitizer checks every kernel access against the
// allocation), capped at BIASCKA_EMU_DEVICE_MEMORY bytes (K/M/G suffixes; default 141 GiB) so that
// out-of-memory paths can be tested. Live allocations are kept in a table (is_device_range).
//
// Streams are queues of work that runs lazily, on the host thread that needs it done: at
// cudaStreamSynchronize, cudaDeviceSynchronize, cudaEventSynchronize/Query, a copy into pageable host memory
// (which returns only when complete, as documented), a synchronous cudaMemcpy, when a stream reaches a
// cudaStreamWaitEvent on an event of another stream, and at cudaFree/cudaFreeHost/cudaStreamDestroy. Nothing
// runs earlier, so a consumer that forgot to wait for a producer on another stream, or the host reading
// pinned memory before synchronising, sees the data as it was. Copies from pageable host memory are staged
// at the call (as the driver does); copies from and to pinned memory happen when the queue gets there.
// The legacy default stream waits for, and is waited for by, the blocking streams (not the
// cudaStreamNonBlocking ones). Events record a position in a queue (and a timestamp when it is reached).
//
// Graph capture records the work queued on the capturing stream, and on streams that join it by waiting on
// an event recorded in it, into a list that cudaGraphLaunch replays in order. The capture rules are the
// real runtime's: synchronising or querying a capturing stream, cudaDeviceSynchronize, syncing or querying an
// event recorded in a capture, and, unless the capture is cudaStreamCaptureModeRelaxed, the potentially
// unsafe calls (cudaMalloc, cudaFree, cudaMallocHost, cudaFreeHost, synchronous cudaMemcpy and cudaMemset)
// return cudaErrorStreamCaptureUnsupported and invalidate the capture; so does a cudaMemcpyAsync from or to
// pageable memory. Ending a capture with a joined stream whose work the origin stream has not waited for is
// cudaErrorStreamCaptureUnjoined.
//
// Errors: a failing call returns its code and sets the thread's last error (cudaGetLastError); a kernel
// fault (block.cpp) is sticky: every later call returns cudaErrorLaunchFailure, and cudaGetErrorString gives
// the fault's description. Not emulated: multiple devices, peer access, managed memory, texture objects,
// cudaLaunchKernel, graph node editing, per-thread default streams.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/cuda_emu/emu_stream.h"
#include "tests/cuda_emu/grid.h"

namespace cuda_emu {
namespace {

using Clock = std::chrono::steady_clock;

// ---- the device ----
constexpr int kSms = 132;
constexpr int kMaxThreadsPerBlock = 1024;
constexpr int kMaxBlockDim[3] = {1024, 1024, 64};
constexpr int kMaxGridDim[3] = {2147483647, 65535, 65535};
constexpr int kSharedPerBlock = 48 << 10;
constexpr int kSharedPerBlockOptin = 227 << 10;
constexpr int kSharedPerSm = 228 << 10;
constexpr int kRegsPerBlock = 65536;
constexpr size_t kDefaultMemory = size_t{141} << 30;

size_t memory_cap() {
  static const size_t cap = [] {
    const char* e = std::getenv("BIASCKA_EMU_DEVICE_MEMORY");
    if (!e || !*e) return kDefaultMemory;
    char* end = nullptr;
    double v = std::strtod(e, &end);
    switch (end && *end ? *end : ' ') {
      case 'K':
      case 'k':
        v *= 1024.0;
        break;
      case 'M':
      case 'm':
        v *= 1024.0 * 1024;
        break;
      case 'G':
      case 'g':
        v *= 1024.0 * 1024 * 1024;
        break;
      default:
        break;
    }
    return static_cast<size_t>(v);
  }();
  return cap;
}

// ---- state ----

struct Op {
  std::function<void()> run;
  std::string what;
};

struct Capture;

struct Stream {
  unsigned flags = 0;
  bool legacy = false, destroyed = false, draining = false;
  std::deque<Op> queue;  // not yet run
  uint64_t enqueued = 0, executed = 0;
  Capture* capture = nullptr;
  uint64_t captured = 0;  // ops captured from this stream in the current capture
  bool unjoined = false;  // captured work the origin stream has not waited for
};

struct Event {
  unsigned flags = 0;
  Stream* stream = nullptr;  // last record: complete once stream->executed >= pos
  uint64_t pos = 0;
  uint64_t record_id = 0;
  bool timed = false;  // the last record has been reached
  Clock::time_point time;
  Capture* capture = nullptr;  // recorded in this (live) capture
  uint64_t capture_pos = 0;    // the stream's captured-op count at the record
};

struct Capture {
  cudaStreamCaptureMode mode;
  std::thread::id thread;
  Stream* origin;
  std::vector<Op> nodes;
  std::vector<Stream*> members;
  bool invalid = false;
  std::string why;
};

struct GraphRec {
  std::shared_ptr<const std::vector<Op>> nodes;
};

struct State {
  std::recursive_mutex mu;
  Stream legacy;
  std::map<cudaStream_t, std::unique_ptr<Stream>> streams;  // kept after destruction: events may point there
  std::map<cudaEvent_t, std::shared_ptr<Event>> events;
  std::vector<std::unique_ptr<Capture>> captures;
  std::map<uintptr_t, size_t> device_allocs, pinned_allocs;
  size_t device_bytes = 0;
  std::map<const void*, int> max_dynamic_smem;  // cudaFuncAttributeMaxDynamicSharedMemorySize
  cudaError_t sticky = cudaSuccess;
  std::string sticky_what;
  State() { legacy.legacy = true; }
};

State& st() {
  static State* s = new State;  // never destroyed: allocators free device memory from static destructors
  return *s;
}

thread_local cudaError_t t_last_error = cudaSuccess;
thread_local std::string t_last_detail;
thread_local cudaError_t t_last_detail_code = cudaSuccess;
thread_local int t_device = 0;

cudaError_t fail(cudaError_t e, const std::string& detail) {
  t_last_error = e;
  t_last_detail = detail;
  t_last_detail_code = e;
  return e;
}

void set_sticky(const std::string& what) {
  State& s = st();
  if (s.sticky != cudaSuccess) return;
  s.sticky = cudaErrorLaunchFailure;
  s.sticky_what = "unspecified launch failure: " + what;
  std::fprintf(stderr, "cuda_emu: %s\n", s.sticky_what.c_str());
  for (auto& [h, str] : s.streams) str->queue.clear();
  s.legacy.queue.clear();
}

// ---- memory tables ----

bool in_table(const std::map<uintptr_t, size_t>& t, const void* p, size_t bytes) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  auto it = t.upper_bound(a);
  if (it == t.begin()) return false;
  --it;
  return a >= it->first && a - it->first <= it->second && bytes <= it->second - (a - it->first);
}

bool is_pinned(const void* p, size_t bytes) { return in_table(st().pinned_allocs, p, bytes); }

// ---- streams ----

Stream* stream_of(cudaStream_t h) {
  State& s = st();
  if (h == nullptr || h == cudaStreamLegacy) return &s.legacy;
  auto it = s.streams.find(h);
  if (it == s.streams.end() || it->second->destroyed) return nullptr;
  return it->second.get();
}

bool blocking(const Stream* x) { return !x->legacy && !(x->flags & cudaStreamNonBlocking); }

void drain(Stream* x, uint64_t upto);

Op wait_op(Stream* other, uint64_t pos) {
  return Op{[other, pos] { drain(other, pos); }, "wait"};
}

// Runs x's queued work up to position `upto` (all of it for UINT64_MAX).
void drain(Stream* x, uint64_t upto) {
  State& s = st();
  if (x->executed >= upto || x->queue.empty()) return;  // already done (also when x is the one waiting)
  if (x->draining) {
    set_sticky("streams wait on each other in a cycle (a cudaStreamWaitEvent deadlock)");
    return;
  }
  x->draining = true;
  while (x->executed < upto && !x->queue.empty() && s.sticky == cudaSuccess) {
    Op op = std::move(x->queue.front());
    x->queue.pop_front();
    op.run();
    ++x->executed;
  }
  x->draining = false;
}

void drain_all() {
  State& s = st();
  drain(&s.legacy, UINT64_MAX);
  for (auto& [h, x] : s.streams) drain(x.get(), UINT64_MAX);
}

void invalidate(Capture* c, const std::string& why) {
  if (c && !c->invalid) {
    c->invalid = true;
    c->why = why;
  }
}

// A potentially unsafe call while a capture forbids it (the capture modes' rules): invalidates the capture.
cudaError_t check_unsafe(const char* call) {
  const auto me = std::this_thread::get_id();
  for (auto& c : st().captures) {
    const bool forbidden = (c->thread == me && c->mode != cudaStreamCaptureModeRelaxed) ||
                           (c->thread != me && c->mode == cudaStreamCaptureModeGlobal);
    if (forbidden) {
      invalidate(c.get(), std::string(call) + " during stream capture");
      return fail(cudaErrorStreamCaptureUnsupported,
                  std::string("operation not permitted when stream is capturing: ") + call +
                      " (a potentially unsafe call in a non-relaxed capture)");
    }
  }
  return cudaSuccess;
}

// Synchronising (or querying) stream x: illegal while it captures.
cudaError_t check_not_capturing(Stream* x, const char* call) {
  if (x->capture) {
    invalidate(x->capture, std::string(call) + " on a capturing stream");
    return fail(cudaErrorStreamCaptureUnsupported,
                std::string("operation not permitted when stream is capturing: ") + call);
  }
  return cudaSuccess;
}

cudaError_t enqueue_op(Stream* x, Op op) {
  State& s = st();
  if (s.sticky) return s.sticky;
  if (Capture* c = x->capture) {
    if (c->invalid) return fail(cudaErrorStreamCaptureInvalidated, "the capture was invalidated: " + c->why);
    c->nodes.push_back(std::move(op));
    ++x->captured;
    if (x != c->origin) x->unjoined = true;
    return cudaSuccess;
  }
  if (x->legacy) {
    for (auto& [h, b] : s.streams) {
      if (!blocking(b.get()) || b->destroyed) continue;
      if (b->capture) {
        invalidate(b->capture, "the legacy stream used while a blocking stream captures");
        return fail(cudaErrorStreamCaptureImplicit, "the legacy stream would wait for a capturing stream");
      }
      if (b->enqueued > b->executed) {
        x->queue.push_back(wait_op(b.get(), b->enqueued));
        ++x->enqueued;
      }
    }
  } else if (blocking(x) && s.legacy.enqueued > s.legacy.executed) {
    x->queue.push_back(wait_op(&s.legacy, s.legacy.enqueued));
    ++x->enqueued;
  }
  x->queue.push_back(std::move(op));
  ++x->enqueued;
  return cudaSuccess;
}

// ---- copies ----

enum class Where { Device, Pinned, Pageable };

Where where(const void* p, size_t bytes) {
  if (in_table(st().device_allocs, p, bytes)) return Where::Device;
  if (is_pinned(p, bytes)) return Where::Pinned;
  return Where::Pageable;
}

// A 2-D copy (rows of `width` bytes) as one queued operation. Pageable sources are staged now; pageable
// destinations make the call synchronous.
cudaError_t copy_2d(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width, size_t height,
                    cudaMemcpyKind kind, cudaStream_t h, bool sync_call, const char* call) {
  State& s = st();
  if (s.sticky) return s.sticky;
  Stream* x = stream_of(h);
  if (!x) return fail(cudaErrorInvalidResourceHandle, std::string(call) + ": invalid stream");
  if (width == 0 || height == 0) return cudaSuccess;
  if (dpitch < width || spitch < width)
    return fail(cudaErrorInvalidPitchValue, std::string(call) + ": pitch < width");
  const size_t dspan = dpitch * (height - 1) + width, sspan = spitch * (height - 1) + width;
  const Where dw = where(dst, dspan), sw = where(src, sspan);
  const bool dst_dev = dw == Where::Device, src_dev = sw == Where::Device;
  bool ok = true;
  switch (kind) {
    case cudaMemcpyHostToDevice:
      ok = dst_dev && !src_dev;
      break;
    case cudaMemcpyDeviceToHost:
      ok = src_dev && !dst_dev;
      break;
    case cudaMemcpyDeviceToDevice:
      ok = dst_dev && src_dev;
      break;
    case cudaMemcpyHostToHost:
      ok = !dst_dev && !src_dev;
      break;
    case cudaMemcpyDefault:
      break;
    default:
      ok = false;
  }
  if (!ok)
    return fail(cudaErrorInvalidValue, std::string(call) + ": the pointers do not match the copy kind (" +
                                           std::to_string(int(kind)) + ")");
  if (sync_call) {
    if (cudaError_t e = check_unsafe(call)) return e;
  } else if (x->capture && (dw == Where::Pageable || sw == Where::Pageable)) {
    invalidate(x->capture, std::string(call) + " with pageable host memory");
    return fail(cudaErrorStreamCaptureUnsupported,
                std::string(call) + ": pageable host memory in a captured copy");
  }
  std::shared_ptr<std::vector<unsigned char>> staged;
  if (sw == Where::Pageable) {  // staged at the call, as the driver does
    staged = std::make_shared<std::vector<unsigned char>>(sspan);
    std::memcpy(staged->data(), src, sspan);
    src = staged->data();
  }
  auto* d = static_cast<unsigned char*>(dst);
  auto* sp = static_cast<const unsigned char*>(src);
  Op op{[d, sp, dpitch, spitch, width, height, staged] {
          for (size_t r = 0; r < height; ++r) std::memcpy(d + r * dpitch, sp + r * spitch, width);
        },
        call};
  if (cudaError_t e = enqueue_op(x, std::move(op))) return e;
  // Synchronous calls, and copies into pageable memory, return once the copy is done.
  if ((sync_call || dw == Where::Pageable) && !x->capture) drain(x, x->enqueued);
  return s.sticky;
}

cudaError_t memset_call(void* p, int value, size_t bytes, cudaStream_t h, bool sync_call, const char* call) {
  State& s = st();
  if (s.sticky) return s.sticky;
  Stream* x = stream_of(h);
  if (!x) return fail(cudaErrorInvalidResourceHandle, std::string(call) + ": invalid stream");
  if (bytes == 0) return cudaSuccess;
  if (!in_table(s.device_allocs, p, bytes))
    return fail(cudaErrorInvalidValue,
                std::string(call) + ": not a device range of " + std::to_string(bytes) + " bytes");
  if (sync_call)
    if (cudaError_t e = check_unsafe(call)) return e;
  auto* d = static_cast<unsigned char*>(p);
  return enqueue_op(x, Op{[d, value, bytes] { std::memset(d, value, bytes); }, call});
}

}  // namespace

// ---- the seam with the cuBLAS/cuDNN doubles (emu_stream.h) and the launch path (cuda_emu.h) ----

cudaError_t enqueue(cudaStream_t s, std::function<void()> work, std::string what) {
  std::lock_guard<std::recursive_mutex> lock(st().mu);
  Stream* x = stream_of(s);
  if (!x) return fail(cudaErrorInvalidResourceHandle, what + ": invalid stream");
  return enqueue_op(x, Op{std::move(work), std::move(what)});
}

bool is_device_range(const void* p, size_t bytes) {
  std::lock_guard<std::recursive_mutex> lock(st().mu);
  return in_table(st().device_allocs, p, bytes);
}

cudaError_t launch_grid(const char* name, const void* func, dim3 grid, dim3 block, size_t dynamic_smem,
                        cudaStream_t stream, ThreadBody body, std::shared_ptr<const void> args) {
  State& s = st();
  std::lock_guard<std::recursive_mutex> lock(s.mu);
  if (s.sticky) return s.sticky;
  const std::string who = std::string("launch of ") + name + ": ";
  const unsigned bd[3] = {block.x, block.y, block.z}, gd[3] = {grid.x, grid.y, grid.z};
  uint64_t threads = 1;
  for (int i = 0; i < 3; ++i) {
    if (bd[i] == 0 || bd[i] > static_cast<unsigned>(kMaxBlockDim[i]))
      return fail(cudaErrorInvalidConfiguration, who + "block dimension " + std::to_string(i) + " is " +
                                                     std::to_string(bd[i]) + " (1.." +
                                                     std::to_string(kMaxBlockDim[i]) + ")");
    if (gd[i] == 0 || gd[i] > static_cast<unsigned>(kMaxGridDim[i]))
      return fail(cudaErrorInvalidConfiguration, who + "grid dimension " + std::to_string(i) + " is " +
                                                     std::to_string(gd[i]) + " (1.." +
                                                     std::to_string(kMaxGridDim[i]) + ")");
    threads *= bd[i];
  }
  if (threads > kMaxThreadsPerBlock)
    return fail(cudaErrorInvalidConfiguration, who + std::to_string(threads) +
                                                   " threads per block (at most " +
                                                   std::to_string(kMaxThreadsPerBlock) + ")");
  auto it = s.max_dynamic_smem.find(func);
  const size_t limit = it == s.max_dynamic_smem.end() ? kSharedPerBlock : static_cast<size_t>(it->second);
  if (dynamic_smem > limit)
    return fail(cudaErrorInvalidValue, who + std::to_string(dynamic_smem) +
                                           " bytes of dynamic shared memory, " + std::to_string(limit) +
                                           " allowed (above 48 KiB a kernel needs cudaFuncSetAttribute("
                                           "cudaFuncAttributeMaxDynamicSharedMemorySize))");
  Stream* x = stream_of(stream);
  if (!x) return fail(cudaErrorInvalidResourceHandle, who + "invalid stream");
  auto g = std::make_shared<Grid>(Grid{name, grid, block, dynamic_smem, body, std::move(args)});
  return enqueue_op(x, Op{[g] {
                            const std::string fault = run_grid(*g);
                            if (!fault.empty()) set_sticky(fault);
                          },
                          name});
}

}  // namespace cuda_emu

// ---- the runtime API ----

using cuda_emu::st;
namespace ce = cuda_emu;

#define CUDA_EMU_LOCK                                   \
  std::lock_guard<std::recursive_mutex> lock_(st().mu); \
  if (st().sticky) return st().sticky

extern "C" {

cudaError_t cudaGetLastError(void) {
  const cudaError_t e = st().sticky ? st().sticky : ce::t_last_error;
  ce::t_last_error = cudaSuccess;
  return e;
}

cudaError_t cudaPeekAtLastError(void) { return st().sticky ? st().sticky : ce::t_last_error; }

const char* cudaGetErrorName(cudaError_t e) {
  switch (e) {
    case cudaSuccess:
      return "cudaSuccess";
    case cudaErrorInvalidValue:
      return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation:
      return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration:
      return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidPitchValue:
      return "cudaErrorInvalidPitchValue";
    case cudaErrorInvalidDevice:
      return "cudaErrorInvalidDevice";
    case cudaErrorInvalidResourceHandle:
      return "cudaErrorInvalidResourceHandle";
    case cudaErrorNotReady:
      return "cudaErrorNotReady";
    case cudaErrorLaunchFailure:
      return "cudaErrorLaunchFailure";
    case cudaErrorStreamCaptureUnsupported:
      return "cudaErrorStreamCaptureUnsupported";
    case cudaErrorStreamCaptureInvalidated:
      return "cudaErrorStreamCaptureInvalidated";
    case cudaErrorStreamCaptureUnjoined:
      return "cudaErrorStreamCaptureUnjoined";
    case cudaErrorStreamCaptureImplicit:
      return "cudaErrorStreamCaptureImplicit";
    case cudaErrorStreamCaptureIsolation:
      return "cudaErrorStreamCaptureIsolation";
    case cudaErrorStreamCaptureWrongThread:
      return "cudaErrorStreamCaptureWrongThread";
    case cudaErrorIllegalState:
      return "cudaErrorIllegalState";
    default:
      return "cudaErrorUnknown";
  }
}

// The emulation's own description when it has one (the sticky fault, or the thread's last failed call).
const char* cudaGetErrorString(cudaError_t e) {
  if (e != cudaSuccess && e == st().sticky) return st().sticky_what.c_str();
  if (e != cudaSuccess && e == ce::t_last_detail_code) return ce::t_last_detail.c_str();
  return cudaGetErrorName(e);
}

// ---- device ----

cudaError_t cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) {
  if (device != 0) return ce::fail(cudaErrorInvalidDevice, "cudaSetDevice: the emulation has one device");
  ce::t_device = device;
  return st().sticky;
}

cudaError_t cudaGetDevice(int* device) {
  *device = ce::t_device;
  return st().sticky;
}

cudaError_t cudaRuntimeGetVersion(int* v) {
  *v = CUDART_VERSION;
  return cudaSuccess;
}

cudaError_t cudaDriverGetVersion(int* v) {
  *v = 0;  // no driver: the emulation
  return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int device) {
  if (device != 0) return ce::fail(cudaErrorInvalidDevice, "cudaGetDeviceProperties: no such device");
  *p = cudaDeviceProp{};
  std::snprintf(p->name, sizeof p->name, "NVIDIA H200 (cuda_emu emulation)");
  p->totalGlobalMem = ce::memory_cap();
  p->sharedMemPerBlock = ce::kSharedPerBlock;
  p->sharedMemPerBlockOptin = ce::kSharedPerBlockOptin;
  p->sharedMemPerMultiprocessor = ce::kSharedPerSm;
  p->regsPerBlock = ce::kRegsPerBlock;
  p->regsPerMultiprocessor = 65536;
  p->warpSize = 32;
  p->maxThreadsPerBlock = ce::kMaxThreadsPerBlock;
  p->maxThreadsPerMultiProcessor = 2048;
  for (int i = 0; i < 3; ++i) {
    p->maxThreadsDim[i] = ce::kMaxBlockDim[i];
    p->maxGridSize[i] = ce::kMaxGridDim[i];
  }
  p->major = 9;
  p->minor = 0;
  p->multiProcessorCount = ce::kSms;
  p->l2CacheSize = 50 << 20;
  p->totalConstMem = 64 << 10;
  return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device) {
  if (device != 0) return ce::fail(cudaErrorInvalidDevice, "cudaDeviceGetAttribute: no such device");
  switch (attr) {
    case cudaDevAttrMultiProcessorCount:
      *value = ce::kSms;
      break;
    case cudaDevAttrMaxThreadsPerBlock:
      *value = ce::kMaxThreadsPerBlock;
      break;
    case cudaDevAttrMaxBlockDimX:
      *value = ce::kMaxBlockDim[0];
      break;
    case cudaDevAttrMaxBlockDimY:
      *value = ce::kMaxBlockDim[1];
      break;
    case cudaDevAttrMaxBlockDimZ:
      *value = ce::kMaxBlockDim[2];
      break;
    case cudaDevAttrMaxGridDimX:
      *value = ce::kMaxGridDim[0];
      break;
    case cudaDevAttrMaxGridDimY:
      *value = ce::kMaxGridDim[1];
      break;
    case cudaDevAttrMaxGridDimZ:
      *value = ce::kMaxGridDim[2];
      break;
    case cudaDevAttrMaxSharedMemoryPerBlock:
      *value = ce::kSharedPerBlock;
      break;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin:
      *value = ce::kSharedPerBlockOptin;
      break;
    case cudaDevAttrMaxSharedMemoryPerMultiprocessor:
      *value = ce::kSharedPerSm;
      break;
    case cudaDevAttrMaxRegistersPerBlock:
      *value = ce::kRegsPerBlock;
      break;
    case cudaDevAttrWarpSize:
      *value = 32;
      break;
    case cudaDevAttrComputeCapabilityMajor:
      *value = 9;
      break;
    case cudaDevAttrComputeCapabilityMinor:
      *value = 0;
      break;
    default:
      return ce::fail(cudaErrorInvalidValue,
                      "cudaDeviceGetAttribute: attribute " + std::to_string(int(attr)) + " is not emulated");
  }
  return cudaSuccess;
}

cudaError_t cudaFuncSetAttribute(const void* func, cudaFuncAttribute attr, int value) {
  CUDA_EMU_LOCK;
  if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize)
    return ce::fail(cudaErrorInvalidValue,
                    "cudaFuncSetAttribute: only the dynamic shared memory size is emulated");
  if (value < 0 || value > ce::kSharedPerBlockOptin)
    return ce::fail(cudaErrorInvalidValue, "cudaFuncSetAttribute: " + std::to_string(value) +
                                               " bytes of dynamic shared memory (at most " +
                                               std::to_string(ce::kSharedPerBlockOptin) + ")");
  st().max_dynamic_smem[func] = value;
  return cudaSuccess;
}

cudaError_t cudaFuncGetAttributes(cudaFuncAttributes* a, const void* func) {
  CUDA_EMU_LOCK;
  *a = cudaFuncAttributes{};
  auto it = st().max_dynamic_smem.find(func);
  a->maxDynamicSharedSizeBytes = it == st().max_dynamic_smem.end() ? ce::kSharedPerBlock : it->second;
  a->maxThreadsPerBlock = ce::kMaxThreadsPerBlock;
  return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize(void) {
  CUDA_EMU_LOCK;
  if (!st().captures.empty()) {
    for (auto& c : st().captures) ce::invalidate(c.get(), "cudaDeviceSynchronize during capture");
    return ce::fail(cudaErrorStreamCaptureUnsupported,
                    "operation not permitted when stream is capturing: cudaDeviceSynchronize");
  }
  ce::drain_all();
  return st().sticky;
}

// ---- memory ----

cudaError_t cudaMalloc(void** p, size_t bytes) {
  CUDA_EMU_LOCK;
  *p = nullptr;
  if (cudaError_t e = ce::check_unsafe("cudaMalloc")) return e;
  if (bytes == 0) return cudaSuccess;
  ce::State& s = st();
  if (bytes > ce::memory_cap() || s.device_bytes > ce::memory_cap() - bytes)
    return ce::fail(cudaErrorMemoryAllocation, "out of memory: cudaMalloc of " + std::to_string(bytes) +
                                                   " bytes with " + std::to_string(s.device_bytes) + " of " +
                                                   std::to_string(ce::memory_cap()) + " in use");
  if (posix_memalign(p, 256, bytes) != 0 || !*p) {
    *p = nullptr;
    return ce::fail(cudaErrorMemoryAllocation,
                    "out of memory: the host has no " + std::to_string(bytes) + " bytes");
  }
  s.device_allocs[reinterpret_cast<uintptr_t>(*p)] = bytes;
  s.device_bytes += bytes;
  return cudaSuccess;
}

cudaError_t cudaFree(void* p) {
  CUDA_EMU_LOCK;
  if (!p) return cudaSuccess;
  if (cudaError_t e = ce::check_unsafe("cudaFree")) return e;
  ce::State& s = st();
  auto it = s.device_allocs.find(reinterpret_cast<uintptr_t>(p));
  if (it == s.device_allocs.end())
    return ce::fail(cudaErrorInvalidValue, "cudaFree of a pointer cudaMalloc did not return");
  ce::drain_all();  // cudaFree waits for the device: queued work may still use the memory
  s.device_bytes -= it->second;
  s.device_allocs.erase(it);
  std::free(p);
  return s.sticky;
}

cudaError_t cudaMallocHost(void** p, size_t bytes) {
  CUDA_EMU_LOCK;
  *p = nullptr;
  if (cudaError_t e = ce::check_unsafe("cudaMallocHost")) return e;
  if (posix_memalign(p, 256, std::max<size_t>(bytes, 1)) != 0)
    return ce::fail(cudaErrorMemoryAllocation, "cudaMallocHost: out of host memory");
  st().pinned_allocs[reinterpret_cast<uintptr_t>(*p)] = bytes;
  return cudaSuccess;
}

cudaError_t cudaHostAlloc(void** p, size_t bytes, unsigned int) { return cudaMallocHost(p, bytes); }

cudaError_t cudaFreeHost(void* p) {
  CUDA_EMU_LOCK;
  if (!p) return cudaSuccess;
  if (cudaError_t e = ce::check_unsafe("cudaFreeHost")) return e;
  auto it = st().pinned_allocs.find(reinterpret_cast<uintptr_t>(p));
  if (it == st().pinned_allocs.end())
    return ce::fail(cudaErrorInvalidValue, "cudaFreeHost of a pointer cudaMallocHost did not return");
  ce::drain_all();
  st().pinned_allocs.erase(it);
  std::free(p);
  return st().sticky;
}

cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total) {
  CUDA_EMU_LOCK;
  *total = ce::memory_cap();
  *free_bytes = ce::memory_cap() - st().device_bytes;
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t n, cudaMemcpyKind kind) {
  CUDA_EMU_LOCK;
  return ce::copy_2d(dst, n, src, n, n, 1, kind, nullptr, true, "cudaMemcpy");
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t n, cudaMemcpyKind kind, cudaStream_t s) {
  CUDA_EMU_LOCK;
  return ce::copy_2d(dst, n, src, n, n, 1, kind, s, false, "cudaMemcpyAsync");
}

cudaError_t cudaMemcpy2D(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width,
                         size_t height, cudaMemcpyKind kind) {
  CUDA_EMU_LOCK;
  return ce::copy_2d(dst, dpitch, src, spitch, width, height, kind, nullptr, true, "cudaMemcpy2D");
}

cudaError_t cudaMemcpy2DAsync(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width,
                              size_t height, cudaMemcpyKind kind, cudaStream_t s) {
  CUDA_EMU_LOCK;
  return ce::copy_2d(dst, dpitch, src, spitch, width, height, kind, s, false, "cudaMemcpy2DAsync");
}

cudaError_t cudaMemset(void* p, int value, size_t n) {
  CUDA_EMU_LOCK;
  return ce::memset_call(p, value, n, nullptr, true, "cudaMemset");
}

cudaError_t cudaMemsetAsync(void* p, int value, size_t n, cudaStream_t s) {
  CUDA_EMU_LOCK;
  return ce::memset_call(p, value, n, s, false, "cudaMemsetAsync");
}

// ---- streams ----

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* out, unsigned int flags) {
  CUDA_EMU_LOCK;
  auto x = std::make_unique<ce::Stream>();
  x->flags = flags;
  // The handle is the record's address: unique while the record lives, and records are never freed.
  *out = reinterpret_cast<cudaStream_t>(x.get());
  st().streams[*out] = std::move(x);
  return cudaSuccess;
}

cudaError_t cudaStreamCreate(cudaStream_t* out) { return cudaStreamCreateWithFlags(out, cudaStreamDefault); }

cudaError_t cudaStreamDestroy(cudaStream_t h) {
  CUDA_EMU_LOCK;
  ce::Stream* x = ce::stream_of(h);
  if (!x || x->legacy) return ce::fail(cudaErrorInvalidResourceHandle, "cudaStreamDestroy: invalid stream");
  if (x->capture)
    return ce::fail(cudaErrorStreamCaptureUnsupported, "cudaStreamDestroy of a capturing stream");
  ce::drain(x, UINT64_MAX);  // its work completes (the resources go when it has)
  x->destroyed = true;
  return st().sticky;
}

cudaError_t cudaStreamSynchronize(cudaStream_t h) {
  CUDA_EMU_LOCK;
  ce::Stream* x = ce::stream_of(h);
  if (!x) return ce::fail(cudaErrorInvalidResourceHandle, "cudaStreamSynchronize: invalid stream");
  if (cudaError_t e = ce::check_not_capturing(x, "cudaStreamSynchronize")) return e;
  ce::drain(x, UINT64_MAX);
  return st().sticky;
}

cudaError_t cudaStreamQuery(cudaStream_t h) {
  CUDA_EMU_LOCK;
  ce::Stream* x = ce::stream_of(h);
  if (!x) return ce::fail(cudaErrorInvalidResourceHandle, "cudaStreamQuery: invalid stream");
  if (cudaError_t e = ce::check_not_capturing(x, "cudaStreamQuery")) return e;
  ce::drain(x, UINT64_MAX);  // the emulated device finishes whatever is asked about
  return st().sticky;
}

cudaError_t cudaStreamWaitEvent(cudaStream_t h, cudaEvent_t ev, unsigned int) {
  CUDA_EMU_LOCK;
  ce::State& s = st();
  ce::Stream* x = ce::stream_of(h);
  auto it = s.events.find(ev);
  if (!x || it == s.events.end())
    return ce::fail(cudaErrorInvalidResourceHandle, "cudaStreamWaitEvent: invalid handle");
  ce::Event& e = *it->second;
  if (e.capture) {  // an event of a capture: x joins it (fork), or the origin waits for a joined stream
                    // (join)
    if (x->capture && x->capture != e.capture)
      return ce::fail(cudaErrorStreamCaptureIsolation, "cudaStreamWaitEvent across two captures");
    if (!x->capture) {
      x->capture = e.capture;
      x->captured = 0;
      x->unjoined = false;
      e.capture->members.push_back(x);
    }
    if (e.stream != x && e.capture_pos == e.stream->captured) e.stream->unjoined = false;
    return cudaSuccess;
  }
  if (x->capture) {
    ce::invalidate(x->capture, "a captured stream waits on an event recorded outside the capture");
    return ce::fail(cudaErrorStreamCaptureIsolation,
                    "cudaStreamWaitEvent: a capturing stream waits on an event recorded outside the capture");
  }
  if (!e.stream || e.stream == x) return cudaSuccess;  // never recorded, or stream order already implies it
  return ce::enqueue_op(x, ce::wait_op(e.stream, e.pos));
}

cudaError_t cudaStreamBeginCapture(cudaStream_t h, cudaStreamCaptureMode mode) {
  CUDA_EMU_LOCK;
  ce::Stream* x = ce::stream_of(h);
  if (!x || x->legacy)
    return ce::fail(cudaErrorStreamCaptureUnsupported, "cudaStreamBeginCapture on the legacy stream");
  if (x->capture)
    return ce::fail(cudaErrorIllegalState, "cudaStreamBeginCapture: the stream already captures");
  auto c = std::make_unique<ce::Capture>();
  c->mode = mode;
  c->thread = std::this_thread::get_id();
  c->origin = x;
  c->members.push_back(x);
  x->capture = c.get();
  x->captured = 0;
  st().captures.push_back(std::move(c));
  return cudaSuccess;
}

cudaError_t cudaStreamEndCapture(cudaStream_t h, cudaGraph_t* graph) {
  CUDA_EMU_LOCK;
  ce::State& s = st();
  *graph = nullptr;
  ce::Stream* x = ce::stream_of(h);
  if (!x || !x->capture)
    return ce::fail(cudaErrorIllegalState, "cudaStreamEndCapture: the stream does not capture");
  ce::Capture* c = x->capture;
  if (c->origin != x)
    return ce::fail(cudaErrorStreamCaptureUnmatched, "cudaStreamEndCapture on a joined stream");
  if (c->mode != cudaStreamCaptureModeRelaxed && c->thread != std::this_thread::get_id())
    return ce::fail(cudaErrorStreamCaptureWrongThread, "cudaStreamEndCapture from another thread");
  bool unjoined = false;
  for (ce::Stream* m : c->members) {
    unjoined = unjoined || (m != x && m->unjoined);
    m->capture = nullptr;
    m->unjoined = false;
  }
  for (auto& [h2, ev] : s.events)
    if (ev->capture == c) ev->capture = nullptr;
  std::unique_ptr<ce::Capture> owned;
  for (auto it = s.captures.begin(); it != s.captures.end(); ++it)
    if (it->get() == c) {
      owned = std::move(*it);
      s.captures.erase(it);
      break;
    }
  if (owned->invalid)
    return ce::fail(cudaErrorStreamCaptureInvalidated, "the capture was invalidated: " + owned->why);
  if (unjoined)
    return ce::fail(
        cudaErrorStreamCaptureUnjoined,
        "cudaStreamEndCapture: a stream joined the capture and the origin stream did not wait for it");
  auto* g = new ce::GraphRec{std::make_shared<const std::vector<ce::Op>>(std::move(owned->nodes))};
  *graph = reinterpret_cast<cudaGraph_t>(g);
  return cudaSuccess;
}

cudaError_t cudaStreamIsCapturing(cudaStream_t h, cudaStreamCaptureStatus* status) {
  CUDA_EMU_LOCK;
  ce::Stream* x = ce::stream_of(h);
  if (!x) return ce::fail(cudaErrorInvalidResourceHandle, "cudaStreamIsCapturing: invalid stream");
  *status = !x->capture
                ? cudaStreamCaptureStatusNone
                : (x->capture->invalid ? cudaStreamCaptureStatusInvalidated : cudaStreamCaptureStatusActive);
  return cudaSuccess;
}

// ---- events ----

cudaError_t cudaEventCreateWithFlags(cudaEvent_t* out, unsigned int flags) {
  CUDA_EMU_LOCK;
  auto e = std::make_shared<ce::Event>();
  e->flags = flags;
  *out = reinterpret_cast<cudaEvent_t>(e.get());
  st().events[*out] = std::move(e);
  return cudaSuccess;
}

cudaError_t cudaEventCreate(cudaEvent_t* out) { return cudaEventCreateWithFlags(out, cudaEventDefault); }

cudaError_t cudaEventDestroy(cudaEvent_t ev) {
  CUDA_EMU_LOCK;
  if (st().events.erase(ev) == 0)
    return ce::fail(cudaErrorInvalidResourceHandle, "cudaEventDestroy: invalid event");
  return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t ev, cudaStream_t h) {
  CUDA_EMU_LOCK;
  ce::State& s = st();
  ce::Stream* x = ce::stream_of(h);
  auto it = s.events.find(ev);
  if (!x || it == s.events.end())
    return ce::fail(cudaErrorInvalidResourceHandle, "cudaEventRecord: invalid handle");
  std::shared_ptr<ce::Event> e = it->second;
  if (x->capture) {
    if (x->capture->invalid)
      return ce::fail(cudaErrorStreamCaptureInvalidated, "the capture was invalidated: " + x->capture->why);
    e->capture = x->capture;
    e->capture_pos = x->captured;
    e->stream = x;
    return cudaSuccess;
  }
  e->capture = nullptr;
  const uint64_t id = ++e->record_id;
  e->timed = false;
  std::weak_ptr<ce::Event> w = e;
  if (cudaError_t err = ce::enqueue_op(x, ce::Op{[w, id] {
                                                   if (auto p = w.lock(); p && p->record_id == id) {
                                                     p->time = ce::Clock::now();
                                                     p->timed = true;
                                                   }
                                                 },
                                                 "cudaEventRecord"}))
    return err;
  e->stream = x;
  e->pos = x->enqueued;
  return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t ev) {
  CUDA_EMU_LOCK;
  auto it = st().events.find(ev);
  if (it == st().events.end())
    return ce::fail(cudaErrorInvalidResourceHandle, "cudaEventSynchronize: invalid event");
  ce::Event& e = *it->second;
  if (e.capture) {
    ce::invalidate(e.capture, "cudaEventSynchronize on an event recorded in the capture");
    return ce::fail(
        cudaErrorStreamCaptureUnsupported,
        "operation not permitted when stream is capturing: cudaEventSynchronize on a captured event");
  }
  if (e.stream) ce::drain(e.stream, e.pos);
  return st().sticky;
}

cudaError_t cudaEventQuery(cudaEvent_t ev) {
  CUDA_EMU_LOCK;
  auto it = st().events.find(ev);
  if (it == st().events.end())
    return ce::fail(cudaErrorInvalidResourceHandle, "cudaEventQuery: invalid event");
  if (it->second->capture) {
    ce::invalidate(it->second->capture, "cudaEventQuery on an event recorded in the capture");
    return ce::fail(cudaErrorStreamCaptureUnsupported,
                    "operation not permitted when stream is capturing: cudaEventQuery on a captured event");
  }
  return cudaEventSynchronize(ev);
}

cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t a, cudaEvent_t b) {
  CUDA_EMU_LOCK;
  auto ia = st().events.find(a), ib = st().events.find(b);
  if (ia == st().events.end() || ib == st().events.end())
    return ce::fail(cudaErrorInvalidResourceHandle, "cudaEventElapsedTime: invalid event");
  if ((ia->second->flags | ib->second->flags) & cudaEventDisableTiming)
    return ce::fail(cudaErrorInvalidResourceHandle, "cudaEventElapsedTime: an event without timing");
  if (!ia->second->timed || !ib->second->timed)
    return ce::fail(cudaErrorNotReady, "cudaEventElapsedTime: an event has not completed");
  *ms = std::chrono::duration<float, std::milli>(ib->second->time - ia->second->time).count();
  return cudaSuccess;
}

// ---- graphs ----

cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long) {
  CUDA_EMU_LOCK;
  if (!graph) return ce::fail(cudaErrorInvalidValue, "cudaGraphInstantiate: null graph");
  auto* g = reinterpret_cast<ce::GraphRec*>(graph);
  *exec = reinterpret_cast<cudaGraphExec_t>(new ce::GraphRec{g->nodes});
  return cudaSuccess;
}

cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t h) {
  CUDA_EMU_LOCK;
  ce::Stream* x = ce::stream_of(h);
  if (!exec || !x) return ce::fail(cudaErrorInvalidResourceHandle, "cudaGraphLaunch: invalid handle");
  std::shared_ptr<const std::vector<ce::Op>> nodes = reinterpret_cast<ce::GraphRec*>(exec)->nodes;
  return ce::enqueue_op(x, ce::Op{[nodes] {
                                    for (const ce::Op& op : *nodes) {
                                      if (st().sticky) return;
                                      op.run();
                                    }
                                  },
                                  "cudaGraphLaunch"});
}

cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
  delete reinterpret_cast<ce::GraphRec*>(exec);
  return cudaSuccess;
}

cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
  delete reinterpret_cast<ce::GraphRec*>(graph);
  return cudaSuccess;
}

}  // extern "C"
