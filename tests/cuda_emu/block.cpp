// The grid runner of the CUDA emulation (see cuda_emu.h for what is and is not emulated). Test
// infrastructure only.
//
// A block's threads run as fibers (Boost.Context's fcontext, with the AddressSanitizer fiber-switch
// annotations) on the calling OS thread. A fiber starts thread after thread until one blocks at a barrier or
// a warp collective; the scheduler then resumes the lowest-numbered thread that is ready to go on, and starts
// the next threads on another fiber. So a barrier-free kernel costs a function call per thread, and between
// synchronisation points each warp runs as far ahead of the others as it can: warp 0 reaches the next barrier
// before warp 1 has started, and reads whatever the others have not written yet (the 0xff poison of dynamic
// shared memory). Blocks alternate the direction (ascending thread numbers in one block, descending in the
// next, and the other way round at the next launch), so a missing barrier between a writer and a reader
// shows in either order.
//
// Rules enforced, each a fault (the kernel is abandoned and the runtime reports a sticky launch failure):
// a __syncthreads that not every live thread reaches (deadlock) or that some threads skip by exiting; a warp
// collective whose lanes disagree on the mask or the intrinsic, or whose mask names a lane that exited or
// does not exist; __trap().
#include <sys/mman.h>

#include <algorithm>
#include <boost/context/detail/fcontext.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/cuda_emu/grid.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define CUDA_EMU_ASAN 1
#else
#define CUDA_EMU_ASAN 0
#endif

namespace cuda_emu {

__thread const ThreadState* t_thread = nullptr;
__thread const BlockState* t_block = nullptr;

namespace {

namespace bctx = boost::context::detail;

// Per fiber: the Gram kernel's register tiles and its 4 KB parameter block, with ASan's redzones, need ~40
// KB; BIASCKA_EMU_STACK_KB overrides. Stacks are reserved, not committed: untouched pages cost nothing.
size_t stack_bytes() {
  static const size_t n = [] {
    const char* e = std::getenv("BIASCKA_EMU_STACK_KB");
    const long kb = e ? std::atol(e) : 256;
    return static_cast<size_t>(std::max(64L, kb)) << 10;
  }();
  return n;
}

struct Fiber {
  unsigned char* stack = nullptr;  // usable stack [stack, stack + bytes); a guard page below
  size_t bytes = 0;
  bctx::fcontext_t ctx = nullptr;
  bool fresh = true;       // (re)made before its next resume
  bool abandoned = false;  // left mid-kernel by a fault: its stack's ASan state is stale
  void* fake_stack = nullptr;

  Fiber() {
    const size_t page = 4096;
    bytes = stack_bytes();
    void* p = mmap(nullptr, bytes + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (p == MAP_FAILED) throw std::runtime_error("cuda_emu: cannot map a fiber stack");
    mprotect(p, page, PROT_NONE);
    stack = static_cast<unsigned char*>(p) + page;
  }
  ~Fiber() { munmap(stack - 4096, bytes + 4096); }
  Fiber(const Fiber&) = delete;
  Fiber& operator=(const Fiber&) = delete;
};

enum class Yield : intptr_t { Blocked = 1, Idle = 2, Fault = 3 };
enum class Phase : uint8_t { NotStarted, Running, AtBarrier, InWarp, Ready, Exited };

struct WarpSync {
  unsigned mask = 0, arrived = 0;
  const char* what = nullptr;
  alignas(16) unsigned char in[32][detail::kSlotBytes];
  alignas(16) unsigned char out[32][detail::kSlotBytes];
};

std::string dim_str(uint3 v) {
  std::ostringstream os;
  os << "(" << v.x << "," << v.y << "," << v.z << ")";
  return os.str();
}

std::string mask_str(unsigned m) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", m);
  return buf;
}

// Runs grids on the OS thread it belongs to (one per thread that drains a stream).
class Runner {
 public:
  std::string run(const Grid& g);
  void sync_block();
  void warp_step(unsigned mask, const char* what, const void* in, size_t in_bytes, void* out,
                 size_t out_bytes, detail::Combine combine, const void* ctx);
  [[noreturn]] void fault(const std::string& what);
  bool running() const { return grid_ != nullptr && current_ != nullptr; }

 private:
  static void fiber_main(bctx::transfer_t t);
  [[noreturn]] void worker_loop();
  void switch_to_scheduler(Yield y);
  void resume(Fiber* f);
  Fiber* idle_fiber();
  void run_block(uint3 idx);
  void thread_exit(unsigned t);
  void make_ready(unsigned t);
  int first_ready() const;
  unsigned nth_thread(unsigned k) const { return descending_ ? total_ - 1 - k : k; }
  unsigned current_thread() const { return t_thread->linear; }
  std::string where(unsigned t) const;
  std::string describe_deadlock() const;

  const Grid* grid_ = nullptr;
  BlockState block_{};
  std::vector<ThreadState> threads_;
  std::vector<Phase> phase_;
  std::vector<Fiber*> fiber_of_;
  std::vector<uint64_t> ready_;
  std::vector<WarpSync> warps_;
  unsigned total_ = 0, next_unstarted_ = 0, exited_ = 0, at_barrier_ = 0;
  bool descending_ = false;
  uint64_t launches_ = 0;
  std::string fault_;
  std::unique_ptr<unsigned char[]> smem_;

  std::vector<std::unique_ptr<Fiber>> fibers_;
  std::vector<Fiber*> idle_;
  Fiber* current_ = nullptr;
  bctx::fcontext_t scheduler_ctx_ = nullptr;
  void* scheduler_fake_stack_ = nullptr;
  const void* scheduler_stack_bottom_ = nullptr;
  size_t scheduler_stack_size_ = 0;
};

// Never destroyed: static destructors (the device allocators' cudaFree) may still run queued kernels at exit,
// after thread_local objects are gone.
Runner& runner() {
  thread_local Runner* r = new Runner;
  return *r;
}

// ---- fibers ----

void Runner::fiber_main(bctx::transfer_t t) {
  Runner* r = static_cast<Runner*>(t.data);
  r->scheduler_ctx_ = t.fctx;
#if CUDA_EMU_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &r->scheduler_stack_bottom_, &r->scheduler_stack_size_);
#endif
  r->worker_loop();
}

// A fiber starts threads until none is left unstarted, then parks as idle; when a thread blocks, its fiber
// stays with it and the scheduler starts the next threads on another fiber.
void Runner::worker_loop() {
  for (;;) {
    while (next_unstarted_ < total_) {
      const unsigned t = nth_thread(next_unstarted_++);
      phase_[t] = Phase::Running;
      fiber_of_[t] = current_;
      t_thread = &threads_[t];
      grid_->body(grid_->args.get());
      thread_exit(t);
    }
    switch_to_scheduler(Yield::Idle);
  }
}

void Runner::switch_to_scheduler(Yield y) {
  Fiber* f = current_;
#if CUDA_EMU_ASAN
  __sanitizer_start_switch_fiber(y == Yield::Fault ? nullptr : &f->fake_stack, scheduler_stack_bottom_,
                                 scheduler_stack_size_);
#endif
  const bctx::transfer_t r = bctx::jump_fcontext(scheduler_ctx_, reinterpret_cast<void*>(y));
  scheduler_ctx_ = r.fctx;
#if CUDA_EMU_ASAN
  __sanitizer_finish_switch_fiber(f->fake_stack, &scheduler_stack_bottom_, &scheduler_stack_size_);
#endif
}

void Runner::resume(Fiber* f) {
  if (f->fresh) {
#if CUDA_EMU_ASAN
    if (f->abandoned) __asan_unpoison_memory_region(f->stack, f->bytes);
#endif
    f->ctx = bctx::make_fcontext(f->stack + f->bytes, f->bytes, &Runner::fiber_main);
    f->fresh = false;
    f->abandoned = false;
  }
  current_ = f;
#if CUDA_EMU_ASAN
  __sanitizer_start_switch_fiber(&scheduler_fake_stack_, f->stack, f->bytes);
#endif
  const bctx::transfer_t r = bctx::jump_fcontext(f->ctx, this);
#if CUDA_EMU_ASAN
  __sanitizer_finish_switch_fiber(scheduler_fake_stack_, nullptr, nullptr);
#endif
  current_ = nullptr;
  f->ctx = r.fctx;
  switch (static_cast<Yield>(reinterpret_cast<intptr_t>(r.data))) {
    case Yield::Blocked:
      break;
    case Yield::Idle:
      idle_.push_back(f);
      break;
    case Yield::Fault:
      f->fresh = f->abandoned = true;
      idle_.push_back(f);
      break;
  }
}

Fiber* Runner::idle_fiber() {
  if (idle_.empty()) {
    fibers_.push_back(std::make_unique<Fiber>());
    return fibers_.back().get();
  }
  Fiber* f = idle_.back();
  idle_.pop_back();
  return f;
}

// ---- scheduling ----

void Runner::make_ready(unsigned t) {
  phase_[t] = Phase::Ready;
  ready_[t >> 6] |= uint64_t{1} << (t & 63);
}

// The first ready thread in this block's direction.
int Runner::first_ready() const {
  if (descending_) {
    for (size_t w = ready_.size(); w-- > 0;)
      if (ready_[w]) return static_cast<int>(w * 64 + 63 - __builtin_clzll(ready_[w]));
    return -1;
  }
  for (size_t w = 0; w < ready_.size(); ++w)
    if (ready_[w]) return static_cast<int>(w * 64 + __builtin_ctzll(ready_[w]));
  return -1;
}

std::string Runner::where(unsigned t) const {
  return "kernel " + grid_->name + ", block " + dim_str(block_.block_idx) + ", thread " +
         dim_str(threads_[t].thread_idx);
}

std::string Runner::describe_deadlock() const {
  std::ostringstream os;
  os << "deadlock in kernel " << grid_->name << ", block " << dim_str(block_.block_idx) << ": " << at_barrier_
     << " of " << total_ << " threads wait at __syncthreads() (" << exited_ << " exited)";
  for (size_t w = 0; w < warps_.size(); ++w)
    if (warps_[w].arrived)
      os << "; warp " << w << " waits in " << warps_[w].what << " with lanes " << mask_str(warps_[w].arrived)
         << " of mask " << mask_str(warps_[w].mask);
  return os.str();
}

void Runner::fault(const std::string& what) {
  if (!running()) {  // device code called outside a kernel: a bug in the emulation's user
    std::fprintf(stderr, "cuda_emu: %s outside a kernel\n", what.c_str());
    std::abort();
  }
  fault_ = what + " (" + where(current_thread()) + ")";
  switch_to_scheduler(Yield::Fault);
  std::abort();  // never resumed
}

void Runner::thread_exit(unsigned t) {
  phase_[t] = Phase::Exited;
  ++exited_;
  if (at_barrier_ > 0)
    fault("a thread exited while " + std::to_string(at_barrier_) +
          " threads wait at __syncthreads() (a barrier in divergent code)");
  const WarpSync& w = warps_[t >> 5];
  if (w.arrived && (w.mask >> (t & 31) & 1u))
    fault(std::string("a lane exited while its warp waits for it in ") + w.what);
}

void Runner::sync_block() {
  if (!running()) fault("__syncthreads()");
  const unsigned t = current_thread();
  if (exited_ > 0) fault("__syncthreads() after " + std::to_string(exited_) + " threads of the block exited");
  if (++at_barrier_ == total_) {
    at_barrier_ = 0;
    for (unsigned u = 0; u < total_; ++u)
      if (phase_[u] == Phase::AtBarrier) make_ready(u);
    return;
  }
  phase_[t] = Phase::AtBarrier;
  switch_to_scheduler(Yield::Blocked);
}

void Runner::warp_step(unsigned mask, const char* what, const void* in, size_t in_bytes, void* out,
                       size_t out_bytes, detail::Combine combine, const void* ctx) {
  if (!running()) fault(what);
  const unsigned t = current_thread(), lane = t & 31, warp = t >> 5;
  WarpSync& w = warps_[warp];
  if (!(mask >> lane & 1u))
    fault(std::string(what) + " with mask " + mask_str(mask) + " that omits the calling lane");
  const unsigned base = warp * 32;
  for (unsigned l = 0; l < 32; ++l) {
    if (!(mask >> l & 1u)) continue;
    if (base + l >= total_)
      fault(std::string(what) + ": mask " + mask_str(mask) + " names lane " + std::to_string(l) +
            ", which this block does not have");
    if (phase_[base + l] == Phase::Exited)
      fault(std::string(what) + ": mask " + mask_str(mask) + " names lane " + std::to_string(l) +
            ", which exited");
  }
  if (w.arrived == 0) {
    w.mask = mask;
    w.what = what;
    for (unsigned l = 0; l < 32; ++l)
      if (!(mask >> l & 1u)) std::memset(w.in[l], 0, detail::kSlotBytes);
  } else if (w.mask != mask || std::strcmp(w.what, what) != 0) {
    fault(std::string("divergent warp collective: ") + what + " with mask " + mask_str(mask) +
          " while lanes " + mask_str(w.arrived) + " wait in " + w.what + " with mask " + mask_str(w.mask));
  }
  std::memcpy(w.in[lane], in, in_bytes);
  w.arrived |= 1u << lane;
  if (w.arrived == mask) {
    combine(w.in, w.out, mask, ctx);
    w.arrived = 0;
    for (unsigned l = 0; l < 32; ++l)
      if ((mask >> l & 1u) && l != lane) make_ready(base + l);
  } else {
    phase_[t] = Phase::InWarp;
    switch_to_scheduler(Yield::Blocked);
  }
  std::memcpy(out, w.out[lane], out_bytes);
}

void Runner::run_block(uint3 idx) {
  block_.block_idx = idx;
  if (grid_->dynamic_smem) std::memset(smem_.get(), 0xff, grid_->dynamic_smem);
  std::fill(phase_.begin(), phase_.end(), Phase::NotStarted);
  std::fill(ready_.begin(), ready_.end(), 0);
  for (WarpSync& w : warps_) w.arrived = w.mask = 0;
  next_unstarted_ = exited_ = at_barrier_ = 0;
  for (;;) {
    if (!fault_.empty()) return;
    const int t = first_ready();
    if (t >= 0) {
      ready_[t >> 6] &= ~(uint64_t{1} << (t & 63));
      phase_[t] = Phase::Running;
      t_thread = &threads_[t];
      resume(fiber_of_[t]);
    } else if (next_unstarted_ < total_) {
      resume(idle_fiber());
    } else if (exited_ == total_) {
      return;
    } else {
      fault_ = describe_deadlock();
    }
  }
}

std::string Runner::run(const Grid& g) {
  if (grid_) return "cuda_emu: a kernel launched from inside a kernel (" + g.name + ")";
  grid_ = &g;
  fault_.clear();
  block_.grid_dim = g.grid;
  block_.block_dim = g.block;
  total_ = g.block.x * g.block.y * g.block.z;
  threads_.resize(total_);
  for (unsigned t = 0; t < total_; ++t) {
    threads_[t].linear = t;
    threads_[t].thread_idx =
        make_uint3(t % g.block.x, t / g.block.x % g.block.y, t / (g.block.x * g.block.y));
  }
  phase_.assign(total_, Phase::NotStarted);
  fiber_of_.assign(total_, nullptr);
  ready_.assign((total_ + 63) / 64, 0);
  warps_.resize((total_ + 31) / 32);
  smem_.reset(g.dynamic_smem ? new unsigned char[g.dynamic_smem] : nullptr);
  block_.dynamic_smem = smem_.get();
  const BlockState* saved_block = t_block;
  const ThreadState* saved_thread = t_thread;
  t_block = &block_;
  // Blocks in a fixed scrambled order (a stride coprime to the block count): a kernel that depends on the
  // order in which blocks run shows it here, reproducibly.
  const uint64_t nx = g.grid.x, ny = g.grid.y, nb = nx * ny * g.grid.z;
  uint64_t stride = nb > 2 ? 0x9E3779B97F4A7C15ull % nb : 1;
  while (stride > 1 && std::gcd(stride, nb) != 1) --stride;
  if (stride == 0) stride = 1;
  ++launches_;
  for (uint64_t i = 0; i < nb && fault_.empty(); ++i) {
    const uint64_t b = (i * stride + nb / 2) % nb;
    descending_ = (i + launches_) & 1;
    run_block(make_uint3(static_cast<unsigned>(b % nx), static_cast<unsigned>(b / nx % ny),
                         static_cast<unsigned>(b / (nx * ny))));
  }
  if (!fault_.empty()) {  // fibers of threads left waiting are abandoned with the kernel
    for (unsigned t = 0; t < total_; ++t)
      if ((phase_[t] == Phase::AtBarrier || phase_[t] == Phase::InWarp || phase_[t] == Phase::Ready) &&
          fiber_of_[t]) {
        fiber_of_[t]->fresh = fiber_of_[t]->abandoned = true;
        idle_.push_back(fiber_of_[t]);
        fiber_of_[t] = nullptr;
      }
  }
  t_block = saved_block;
  t_thread = saved_thread;
  grid_ = nullptr;
  smem_.reset();
  return fault_;
}

}  // namespace

std::string run_grid(const Grid& g) { return runner().run(g); }

void sync_block() { runner().sync_block(); }

void device_fault(const char* what) { runner().fault(what); }

namespace detail {
void warp_step(unsigned mask, const char* what, const void* in, size_t in_bytes, void* out, size_t out_bytes,
               Combine combine, const void* ctx) {
  runner().warp_step(mask, what, in, in_bytes, out, out_bytes, combine, ctx);
}
}  // namespace detail

}  // namespace cuda_emu
