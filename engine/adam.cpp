#include "engine/adam.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <utility>

#include "engine/autograd.h"
#include "engine/ops/dispatch.h"
#include "engine/parallel.h"

namespace biascka {

namespace cpu {
// Twin of kernels::adam_step for one tensor, torch.optim.Adam's arithmetic in its order.
void adam_update(float* p, const float* g, float* m, float* v, int64_t n, int64_t t, const AdamOptions& o) {
  const double bc1 = 1.0 - std::pow(double(o.beta1), double(t));
  const double bc2 = 1.0 - std::pow(double(o.beta2), double(t));
  const float step_size = static_cast<float>(o.lr / bc1);
  const float bc2_sqrt = static_cast<float>(std::sqrt(bc2));
  const float b1 = o.beta1, b2 = o.beta2, wd = o.weight_decay, eps = o.eps;
  // Captured by value: through references the loop does not vectorise.
  parallel_for(n, 1 << 14, [=](int64_t b, int64_t e) {
#pragma omp simd
    for (int64_t i = b; i < e; ++i) {
      const float gi = g[i] + wd * p[i];
      m[i] = m[i] * b1 + gi * (1.f - b1);
      v[i] = v[i] * b2 + (1.f - b2) * gi * gi;
      const float denom = std::sqrt(v[i]) / bc2_sqrt + eps;
      p[i] = p[i] + (-step_size) * (m[i] / denom);
    }
  });
}
}  // namespace cpu

#ifdef BIASCKA_WITH_CUDA
struct Adam::DeviceList {
  Tensor table;                    // bytes of kernels::AdamTensor[count] on the device
  std::vector<const void*> grads;  // the grad pointers the table was built with
  int64_t max_numel = 0;
};
#else
struct Adam::DeviceList {};
#endif

Adam::Adam(NamedTensors params, AdamOptions opt) : params_(std::move(params)), opt_(opt) {
  for (const auto& [name, p] : params_) {
    BIASCKA_CHECK(p.dtype() == DType::F32, "Adam: parameter ", name, " is not F32");
    BIASCKA_CHECK(p.device() == params_.front().second.device(), "Adam: parameters on different devices");
  }
  const Device dev = params_.empty() ? Device::cpu() : params_.front().second.device();
  step_ = Tensor::zeros({}, DType::I64, dev);
}

Adam::~Adam() { delete device_list_; }

void Adam::ensure_state() {
  if (!exp_avg_.empty()) return;
  for (const auto& [name, p] : params_) {
    exp_avg_.push_back(Tensor::zeros(p.shape(), DType::F32, p.device()));
    exp_avg_sq_.push_back(Tensor::zeros(p.shape(), DType::F32, p.device()));
  }
}

int64_t Adam::steps() const { return static_cast<int64_t>(step_.item()); }

void Adam::step() {
  NoGrad no_grad;
  ensure_state();
  if (params_.empty()) return;
  const Device dev = params_.front().second.device();
  if (dev.is_cuda()) {
#ifdef BIASCKA_WITH_CUDA
    std::vector<const void*> grads;
    for (const auto& [name, p] : params_) grads.push_back(p.grad().defined() ? p.grad().raw_data() : nullptr);
    if (!device_list_ || device_list_->grads != grads) {  // (re)build the pointer table when grads moved
      delete device_list_;
      device_list_ = new DeviceList;
      std::vector<kernels::AdamTensor> list;
      for (size_t i = 0; i < params_.size(); ++i) {
        const Tensor& p = params_[i].second;
        if (!grads[i]) continue;
        list.push_back({p.data<float>(), static_cast<const float*>(grads[i]), exp_avg_[i].data<float>(),
                        exp_avg_sq_[i].data<float>(), p.numel()});
        device_list_->max_numel = std::max(device_list_->max_numel, p.numel());
      }
      const size_t bytes = list.size() * sizeof(kernels::AdamTensor);
      device_list_->table = Tensor::empty({static_cast<int64_t>(bytes)}, DType::U8, dev);
      device_copy(device_list_->table.raw_data(), dev, list.data(), Device::cpu(), bytes);
      device_list_->grads = grads;
    }
    const int count = static_cast<int>(device_list_->table.numel() / sizeof(kernels::AdamTensor));
    kernels::adam_step(static_cast<const kernels::AdamTensor*>(device_list_->table.raw_data()), count,
                       device_list_->max_numel, step_.data<int64_t>(), opt_.lr, opt_.beta1, opt_.beta2,
                       opt_.eps, opt_.weight_decay, BIASCKA_STREAM(step_));
#endif
    return;
  }
  const int64_t t = ++step_.data<int64_t>()[0];
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor& p = params_[i].second;
    const Tensor g = p.grad();
    if (!g.defined()) continue;
    cpu::adam_update(p.data<float>(), g.data<float>(), exp_avg_[i].data<float>(),
                     exp_avg_sq_[i].data<float>(), p.numel(), t, opt_);
  }
}

void Adam::zero_grad() {
  for (auto& [name, p] : params_) {
    if (p.device().is_cuda() && p.grad().defined()) {
      Tensor g = p.grad();
      g.fill(0.0);
    } else {
      p.zero_grad();
    }
  }
}

NamedTensors Adam::state() const {
  const_cast<Adam*>(this)->ensure_state();
  NamedTensors out;
  for (size_t i = 0; i < params_.size(); ++i) {
    out.emplace_back("optim.exp_avg." + params_[i].first, exp_avg_[i]);
    out.emplace_back("optim.exp_avg_sq." + params_[i].first, exp_avg_sq_[i]);
  }
  out.emplace_back("optim.step", step_);
  return out;
}

void Adam::load_state(const TensorFile& file) {
  ensure_state();
  for (size_t i = 0; i < params_.size(); ++i) {
    for (auto [prefix, dst] :
         {std::pair{"optim.exp_avg.", &exp_avg_[i]}, std::pair{"optim.exp_avg_sq.", &exp_avg_sq_[i]}}) {
      const std::string name = prefix + params_[i].first;
      const Tensor& src = file.at(name);
      BIASCKA_CHECK(src.shape() == dst->shape() && src.dtype() == DType::F32, file.path, ": tensor '", name,
                    "' has shape ", shape_str(src.shape()), " ", dtype_name(src.dtype()), ", expected ",
                    shape_str(dst->shape()), " F32");
      dst->copy_from(src);
    }
  }
  const Tensor& s = file.at("optim.step");
  BIASCKA_CHECK(s.dtype() == DType::I64 && s.numel() == 1, file.path,
                ": tensor 'optim.step' must be one I64");
  step_.copy_from(s.reshape({}));
}

}  // namespace biascka
