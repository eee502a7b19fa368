#include "engine/device.h"

#include <cstddef>
#include <string>
#include <string_view>

#include "engine/backend.h"
#include "engine/error.h"
#include "engine/parse.h"

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

void require_device(const Device& d) {
  if (d.is_cpu()) return;
  BIASCKA_CHECK(cuda_compiled(), "--device ", d.str(),
                ": this biascka was built without the CUDA backend (rebuild with nvcc and cuDNN present, "
                "-DBIASCKA_CUDA=ON)");
  const int n = cuda_device_count();
  BIASCKA_CHECK(n > 0, "--device ", d.str(), ": no CUDA GPU found on this machine (use --device cpu)");
  BIASCKA_CHECK(d.index < n, "--device ", d.str(), ": only ", n, " GPU(s) found");
}

// Memory and copies go to the device's table (engine/backend.h); a copy involving a GPU to that GPU's.
void* device_allocate(Device d, size_t bytes) { return backend(d).allocate(bytes); }
void device_free(Device d, void* p) { backend(d).deallocate(p); }

void device_copy(void* dst, Device dst_dev, const void* src, Device src_dev, size_t bytes) {
  if (bytes == 0) return;
  backend(dst_dev.is_cpu() ? src_dev : dst_dev).copy(dst, dst_dev, src, src_dev, bytes);
}

void device_synchronize(Device d) { backend(d).synchronize(); }

}  // namespace biascka
