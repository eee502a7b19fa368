#include "engine/adam.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <utility>
#include <vector>

#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/error.h"

namespace biascka {

Adam::Adam(NamedTensors params, AdamOptions opt) : params_(std::move(params)), opt_(opt) {
  for (const auto& [name, p] : params_) {
    BIASCKA_CHECK(p.dtype() == DType::F32, "Adam: parameter ", name, " is not F32");
    BIASCKA_CHECK(p.device() == params_.front().second.device(), "Adam: parameters on different devices");
    exp_avg_.push_back(Tensor::zeros(p.shape(), DType::F32, p.device()));
    exp_avg_sq_.push_back(Tensor::zeros(p.shape(), DType::F32, p.device()));
  }
  const Device dev = params_.empty() ? Device::cpu() : params_.front().second.device();
  step_ = Tensor::zeros({}, DType::I64, dev);
}

int64_t Adam::steps() const { return static_cast<int64_t>(step_.item()); }

void Adam::rebuild_table() {
  std::vector<const void*> grads;
  for (const auto& [name, p] : params_) grads.push_back(p.grad().defined() ? p.grad().raw_data() : nullptr);
  if (table_.defined() && grads == table_grads_) return;
  std::vector<AdamTensor> list;
  table_max_numel_ = 0;
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i].second;
    if (!grads[i]) continue;
    list.push_back({p.data<float>(), static_cast<const float*>(grads[i]), exp_avg_[i].data<float>(),
                    exp_avg_sq_[i].data<float>(), p.numel()});
    table_max_numel_ = std::max(table_max_numel_, p.numel());
  }
  const Device dev = step_.device();
  const size_t bytes = list.size() * sizeof(AdamTensor);
  table_ = Tensor::empty({static_cast<int64_t>(bytes)}, DType::U8, dev);
  device_copy(table_.raw_data(), dev, list.data(), Device::cpu(), bytes);
  table_count_ = static_cast<int>(list.size());
  table_grads_ = std::move(grads);
}

void Adam::step() {
  NoGrad no_grad;
  if (params_.empty()) return;
  rebuild_table();
  backend(step_.device())
      .adam_step(static_cast<const AdamTensor*>(table_.raw_data()), table_count_, table_max_numel_,
                 step_.data<int64_t>(),
                 AdamHyper{opt_.lr, opt_.beta1, opt_.beta2, opt_.eps, opt_.weight_decay});
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
  NamedTensors out;
  for (size_t i = 0; i < params_.size(); ++i) {
    out.emplace_back("optim.exp_avg." + params_[i].first, exp_avg_[i]);
    out.emplace_back("optim.exp_avg_sq." + params_[i].first, exp_avg_sq_[i]);
  }
  out.emplace_back("optim.step", step_);
  return out;
}

void Adam::load_state(const TensorFile& file) {
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
