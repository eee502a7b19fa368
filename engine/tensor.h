#pragma once
// Tensor: a contiguous, row-major array on one device, shared by reference, with the autograd fields
// (requires_grad, grad, the node that made it). Feature maps are stored channels-last, [N, H, W, C]:
// oneDNN's and cuDNN's fast convolution paths want it, and images decode in that order. Conv weights keep
// PyTorch's [O, I, kH, kW] so checkpoints are torchvision's byte for byte. Conversions to and from PyTorch's
// NCHW happen only at the edges (npy/safetensors inputs, `biascka forward` dumps).
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/device.h"
#include "engine/dtype.h"

namespace biascka {

using Shape = std::vector<int64_t>;
int64_t shape_numel(const Shape& s);
std::string shape_str(const Shape& s);  // "[4, 3, 28, 28]"

// Bytes on one device, from that device's caching allocator.
class Storage {
 public:
  Storage(size_t bytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  void* data() const { return ptr_; }
  size_t bytes() const { return bytes_; }
  Device device() const { return device_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
  Device device_;
};

struct Node;
class Tensor;

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  DType dtype = DType::F32;
  // autograd
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;  // accumulated gradient of a leaf
  std::shared_ptr<Node> grad_fn;     // the op that produced this tensor (null for leaves)
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // Factories. `empty` leaves the memory uninitialised.
  static Tensor empty(const Shape& shape, DType dtype = DType::F32, Device device = Device::cpu());
  static Tensor zeros(const Shape& shape, DType dtype = DType::F32, Device device = Device::cpu());
  static Tensor full(const Shape& shape, double value, DType dtype = DType::F32,
                     Device device = Device::cpu());
  static Tensor from_vector(const std::vector<float>& v, const Shape& shape, Device device = Device::cpu());
  static Tensor from_vector(const std::vector<int64_t>& v, const Shape& shape, Device device = Device::cpu());
  static Tensor from_vector(const std::vector<double>& v, const Shape& shape, Device device = Device::cpu());

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  int64_t dim() const { return static_cast<int64_t>(shape().size()); }
  int64_t size(int64_t d) const;  // negative d counts from the end
  int64_t numel() const { return shape_numel(shape()); }
  DType dtype() const;
  Device device() const;
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype()); }

  template <class T>
  T* data() const {
    check_dtype(dtype_of<T>());
    return static_cast<T*>(raw_data());
  }
  void* raw_data() const;

  // Same storage, new shape (numel must match). Differentiable.
  Tensor reshape(const Shape& shape) const;
  // Copies. `to` returns *this when already on `device`. Neither records autograd.
  Tensor to(Device device) const;
  Tensor clone() const;
  Tensor to_dtype(DType dtype) const;  // CPU only; converts element by element
  // Same storage and shape, no autograd history.
  Tensor detach() const;
  // Copies `src` (same numel and dtype, any device) into this tensor's memory.
  void copy_from(const Tensor& src);
  void fill(double value);

  // Host-side helpers (copy to CPU when needed).
  std::vector<float> to_vector() const;
  double item() const;  // the only element, as double

  // --- autograd ---
  bool requires_grad() const;
  Tensor& set_requires_grad(bool r = true);
  Tensor grad() const;  // undefined until a backward pass reached this leaf
  void set_grad(const Tensor& g);
  void zero_grad();  // drops the gradient (the next backward writes a fresh one)
  const std::shared_ptr<Node>& grad_fn() const;
  // Backpropagates from this tensor; `grad_output` defaults to ones for a single-element tensor.
  void backward(const Tensor& grad_output = Tensor()) const;

  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool same(const Tensor& o) const { return impl_ == o.impl_; }

 private:
  void check_dtype(DType want) const;
  std::shared_ptr<TensorImpl> impl_;
};

}  // namespace biascka
