#include "engine/staging.h"

#include "engine/error.h"

namespace biascka {

BatchStager::BatchStager(Device device) : device_(device), uploader_(backend(device).make_uploader()) {}

Tensor BatchStager::stage(const Tensor& host) {
  if (!uploader_) return host.to(device_);
  Tensor dst = Tensor::empty(host.shape(), host.dtype(), device_);
  stage_into(host, dst);
  return dst;
}

void BatchStager::stage_into(const Tensor& host, Tensor& dst) {
  BIASCKA_CHECK(host.device().is_cpu() && dst.device() == device_ && dst.shape() == host.shape() &&
                    dst.dtype() == host.dtype(),
                "BatchStager: ", shape_str(host.shape()), " into ", shape_str(dst.shape()), " on ",
                dst.device().str());
  if (uploader_)
    uploader_->upload(dst.raw_data(), host.raw_data(), host.nbytes());
  else
    dst.copy_from(host);
}

}  // namespace biascka
