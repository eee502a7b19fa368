#include "engine/device.h"

#include <cstring>
#include <string>

#include "engine/allocator.h"
#include "engine/error.h"
#include "engine/parse.h"
#ifdef BIASCKA_WITH_CUDA
#include "engine/cuda/runtime.h"
#endif

namespace biascka {

std::string Device::str() const { return is_cpu() ? "cpu" : "cuda:" + std::to_string(index); }

Device Device::parse(std::string_view s) {
  if (s == "cpu") return cpu();
  if (s == "cuda" || s == "gpu") return cuda(0);
  if (s.starts_with("cuda:")) {
    std::string rest(s.substr(5));
    if (!rest.empty() && rest.find_first_not_of("0123456789") == std::string::npos)
      return cuda(parse_int(rest, "device '" + std::string(s) + "'"));
  }
  fail("unknown device '", s, "' (expected cpu, cuda or cuda:N)");
}

bool cuda_compiled() {
#ifdef BIASCKA_WITH_CUDA
  return true;
#else
  return false;
#endif
}

int cuda_device_count() {
#ifdef BIASCKA_WITH_CUDA
  return cuda::device_count();
#else
  return 0;
#endif
}

void require_device(const Device& d) {
  if (d.is_cpu()) return;
  BIASCKA_CHECK(cuda_compiled(), "--device ", d.str(),
                ": this biascka was built without the CUDA backend (rebuild with nvcc and cuDNN present, "
                "-DBIASCKA_CUDA=ON)");
  const int n = cuda_device_count();
  BIASCKA_CHECK(n > 0, "--device ", d.str(), ": no CUDA GPU found on this machine (use --device cpu)");
  BIASCKA_CHECK(d.index < n, "--device ", d.str(), ": only ", n, " GPU(s) found");
}

void* device_allocate(Device d, size_t bytes) {
  if (d.is_cpu()) return cpu_allocator().allocate(bytes);
#ifdef BIASCKA_WITH_CUDA
  return cuda::allocator(d.index).allocate(bytes);
#else
  fail("device ", d.str(), " requested but biascka was built without CUDA");
#endif
}

void device_free(Device d, void* p) {
  if (d.is_cpu()) return cpu_allocator().deallocate(p);
#ifdef BIASCKA_WITH_CUDA
  cuda::allocator(d.index).deallocate(p);
#endif
}

void device_copy(void* dst, Device dst_dev, const void* src, Device src_dev, size_t bytes) {
  if (bytes == 0) return;
  if (dst_dev.is_cpu() && src_dev.is_cpu()) {
    std::memcpy(dst, src, bytes);
    return;
  }
#ifdef BIASCKA_WITH_CUDA
  cuda::copy(dst, dst_dev, src, src_dev, bytes);
#else
  fail("copy between ", src_dev.str(), " and ", dst_dev.str(), " needs the CUDA backend");
#endif
}

void device_synchronize(Device d) {
  if (d.is_cpu()) return;
#ifdef BIASCKA_WITH_CUDA
  cuda::synchronize(d.index);
#endif
}

}  // namespace biascka
