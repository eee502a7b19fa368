// The CPU's device context: host memory is device memory (no staging, no graphs), work is done when a call
// returns, products are exact FP32.
#include <cstddef>
#include <cstring>
#include <memory>

#include "engine/allocator.h"
#include "engine/ops/cpu/cpu_backend.h"

namespace biascka {

const CpuBackend& cpu_backend() {
  static const CpuBackend table;
  return table;
}

Device CpuBackend::device() const { return Device::cpu(); }
void CpuBackend::set_math_mode(MathMode) const {}
MathMode CpuBackend::math_mode() const { return MathMode::Exact; }
void* CpuBackend::allocate(size_t bytes) const { return cpu_allocator().allocate(bytes); }
void CpuBackend::deallocate(void* p) const { cpu_allocator().deallocate(p); }
void CpuBackend::synchronize() const {}
void CpuBackend::copy(void* dst, Device, const void* src, Device, size_t bytes) const {
  std::memcpy(dst, src, bytes);
}
bool CpuBackend::asynchronous() const { return false; }
std::unique_ptr<DeviceGraph> CpuBackend::make_graph() const { return nullptr; }
std::unique_ptr<DeviceUploader> CpuBackend::make_uploader() const { return nullptr; }
AllocatorStats CpuBackend::memory_stats() const { return cpu_allocator().stats(); }
void CpuBackend::reset_peak_memory() const { cpu_allocator().reset_peak(); }
void CpuBackend::release_cached_memory() const { cpu_allocator().empty_cache(); }

}  // namespace biascka
