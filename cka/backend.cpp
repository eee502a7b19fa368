#include "cka/backend.h"

#include "engine/error.h"

namespace biascka::cka {

Tensor BatchLayers::layer(int64_t i) const {
  const Tensor x = source_(static_cast<size_t>(i));
  BIASCKA_CHECK(x.defined() && x.dim() >= 1 && x.size(0) == samples_, "CKA: layer '", name(i), "' has ",
                x.defined() && x.dim() >= 1 ? x.size(0) : 0, " samples in this batch, the others ", samples_);
  return x;
}

void check_kept_pair(const Tensor& a, const Tensor& b) {
  BIASCKA_CHECK(a.defined() && b.defined() && a.dim() == 2 && b.shape() == a.shape(),
                "CKA: kept Gram rows of different shapes (", a.defined() ? shape_str(a.shape()) : "none",
                " and ", b.defined() ? shape_str(b.shape()) : "none", ")");
}

std::unique_ptr<CkaBackend> make_backend(const CkaOptions& options, int64_t layers_a, int64_t layers_b) {
  switch (options.device.type) {
    case DeviceType::CPU:
      break;
    case DeviceType::CUDA:
      // The GPU computes linear Grams; the RBF kernel's median runs on the CPU.
      if (options.kernel.kind != Kernel::Linear) break;
#ifdef BIASCKA_WITH_CUDA
      return make_cuda_backend(options, layers_a, layers_b);
#else
      fail("CKA on ", options.device.str(), ": this build has no CUDA backend");
#endif
  }
  return make_cpu_backend(options, layers_a, layers_b);
}

}  // namespace biascka::cka
