#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace biascka {

enum class DeviceType : uint8_t { CPU, CUDA };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;

  static Device cpu() { return {}; }
  static Device cuda(int i = 0) { return {DeviceType::CUDA, i}; }
  bool is_cpu() const { return type == DeviceType::CPU; }
  bool is_cuda() const { return type == DeviceType::CUDA; }
  bool operator==(const Device&) const = default;
  std::string str() const;  // "cpu", "cuda:0"

  // "cpu", "cuda", "cuda:1". Throws on anything else. Does not check that the GPU exists.
  static Device parse(std::string_view s);
};

// True when this binary was built with the CUDA backend.
bool cuda_compiled();
// Number of usable GPUs (0 when not compiled with CUDA or no driver/GPU).
int cuda_device_count();
// "CUDA runtime 13.0, driver 13.0, cuDNN 9.x, cuBLAS 13.x" ("" without CUDA), and a GPU's name.
std::string cuda_versions();
std::string cuda_device_name(int index);
// Throws a one-line error when `d` is a CUDA device that this build or machine cannot use.
void require_device(const Device& d);

}  // namespace biascka

namespace biascka {
// Raw memory on a device, through that device's caching allocator.
void* device_allocate(Device d, size_t bytes);
void device_free(Device d, void* p);
// Copies between any two devices; synchronous with respect to the host for device->host copies.
void device_copy(void* dst, Device dst_dev, const void* src, Device src_dev, size_t bytes);
// Waits for all queued work on `d` (no-op on CPU).
void device_synchronize(Device d);

// The math of a device's convolutions and matrix products (cuDNN, cuBLAS, the CUDA CKA): TF32 tensor
// cores (the default on a GPU, as PyTorch's cuDNN) or exact FP32. Owned by the device's context; the CPU
// always computes exact FP32 and ignores the setting.
enum class MathMode { Tf32, Exact };
void set_math_mode(Device d, MathMode mode);
MathMode math_mode(Device d);
// True when reading a result of `d` back to the host waits for queued work (a GPU), false when the work is
// done when the call returns (the CPU): callers use it to read running totals only when that is free.
bool device_is_asynchronous(Device d);
// The device allocator's statistics (engine/allocator.h; the CPU's pool allocator's on the CPU) and the
// reset of its peaks.
struct AllocatorStats;
AllocatorStats device_memory_stats(Device d);
void reset_peak_memory(Device d);
}  // namespace biascka
