#include "engine/tensor.h"

#include <cstring>
#include <sstream>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops/elementwise.h"

namespace biascka {

const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32:
      return "F32";
    case DType::F64:
      return "F64";
    case DType::I64:
      return "I64";
    case DType::I32:
      return "I32";
    case DType::U8:
      return "U8";
  }
  return "?";
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

std::string shape_str(const Shape& s) {
  std::ostringstream os;
  os << '[';
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << ']';
  return os.str();
}

Storage::Storage(size_t bytes, Device device) : bytes_(bytes), device_(device) {
  ptr_ = device_allocate(device, bytes);
}

Storage::~Storage() { device_free(device_, ptr_); }

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  for (int64_t d : shape) BIASCKA_CHECK(d >= 0, "negative dimension in shape ", shape_str(shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = shape;
  impl->dtype = dtype;
  impl->storage =
      std::make_shared<Storage>(static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype), device);
  return Tensor(std::move(impl));
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  return full(shape, 0.0, dtype, device);
}

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.fill(value);
  return t;
}

namespace {
template <class T>
Tensor from_host(const std::vector<T>& v, const Shape& shape, Device device) {
  BIASCKA_CHECK(static_cast<int64_t>(v.size()) == shape_numel(shape), "from_vector: ", v.size(),
                " values for shape ", shape_str(shape));
  Tensor t = Tensor::empty(shape, dtype_of<T>(), device);
  device_copy(t.raw_data(), device, v.data(), Device::cpu(), v.size() * sizeof(T));
  return t;
}
}  // namespace

Tensor Tensor::from_vector(const std::vector<float>& v, const Shape& s, Device d) {
  return from_host(v, s, d);
}
Tensor Tensor::from_vector(const std::vector<int64_t>& v, const Shape& s, Device d) {
  return from_host(v, s, d);
}
Tensor Tensor::from_vector(const std::vector<double>& v, const Shape& s, Device d) {
  return from_host(v, s, d);
}

const Shape& Tensor::shape() const {
  BIASCKA_CHECK(impl_, "use of an undefined tensor");
  return impl_->shape;
}

int64_t Tensor::size(int64_t d) const {
  const int64_t n = dim();
  if (d < 0) d += n;
  BIASCKA_CHECK(d >= 0 && d < n, "dimension ", d, " out of range for shape ", shape_str(shape()));
  return impl_->shape[d];
}

DType Tensor::dtype() const {
  BIASCKA_CHECK(impl_, "use of an undefined tensor");
  return impl_->dtype;
}

Device Tensor::device() const {
  BIASCKA_CHECK(impl_, "use of an undefined tensor");
  return impl_->storage->device();
}

void* Tensor::raw_data() const {
  BIASCKA_CHECK(impl_, "use of an undefined tensor");
  return impl_->storage->data();
}

void Tensor::check_dtype(DType want) const {
  BIASCKA_CHECK(dtype() == want, "tensor of dtype ", dtype_name(dtype()), " accessed as ", dtype_name(want));
}

Tensor Tensor::reshape(const Shape& new_shape) const {
  Shape s = new_shape;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      BIASCKA_CHECK(infer < 0, "reshape: more than one -1 in ", shape_str(new_shape));
      infer = static_cast<int64_t>(i);
    } else {
      known *= s[i];
    }
  }
  if (infer >= 0) {
    BIASCKA_CHECK(known > 0 && numel() % known == 0, "reshape ", shape_str(shape()), " to ",
                  shape_str(new_shape));
    s[infer] = numel() / known;
  }
  BIASCKA_CHECK(shape_numel(s) == numel(), "reshape: ", shape_str(shape()), " has ", numel(), " elements, ",
                shape_str(new_shape), " needs ", shape_numel(s));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = impl_->storage;
  impl->shape = s;
  impl->dtype = impl_->dtype;
  Tensor out(std::move(impl));
  const Shape old = shape();
  return record("reshape", out, {*this},
                [old](const Tensor& g, const Node&) { return std::vector<Tensor>{g.reshape(old)}; });
}

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = impl_->storage;
  impl->shape = impl_->shape;
  impl->dtype = impl_->dtype;
  return Tensor(std::move(impl));
}

Tensor Tensor::to(Device device) const {
  if (this->device() == device) return *this;
  Tensor out = empty(shape(), dtype(), device);
  out.copy_from(*this);
  return out;
}

Tensor Tensor::clone() const {
  Tensor out = empty(shape(), dtype(), device());
  out.copy_from(*this);
  return out;
}

void Tensor::copy_from(const Tensor& src) {
  BIASCKA_CHECK(src.numel() == numel() && src.dtype() == dtype(), "copy_from: ", shape_str(src.shape()), " ",
                dtype_name(src.dtype()), " into ", shape_str(shape()), " ", dtype_name(dtype()));
  device_copy(raw_data(), device(), src.raw_data(), src.device(), nbytes());
}

namespace {
template <class To, class From>
void convert(To* dst, const From* src, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<To>(src[i]);
}
template <class To>
void convert_from(To* dst, const Tensor& src) {
  const int64_t n = src.numel();
  switch (src.dtype()) {
    case DType::F32:
      convert(dst, src.data<float>(), n);
      break;
    case DType::F64:
      convert(dst, src.data<double>(), n);
      break;
    case DType::I64:
      convert(dst, src.data<int64_t>(), n);
      break;
    case DType::I32:
      convert(dst, src.data<int32_t>(), n);
      break;
    case DType::U8:
      convert(dst, src.data<uint8_t>(), n);
      break;
  }
}
}  // namespace

Tensor Tensor::to_dtype(DType t) const {
  if (t == dtype()) return *this;
  Tensor src = to(Device::cpu());
  Tensor out = empty(shape(), t, Device::cpu());
  switch (t) {
    case DType::F32:
      convert_from(out.data<float>(), src);
      break;
    case DType::F64:
      convert_from(out.data<double>(), src);
      break;
    case DType::I64:
      convert_from(out.data<int64_t>(), src);
      break;
    case DType::I32:
      convert_from(out.data<int32_t>(), src);
      break;
    case DType::U8:
      convert_from(out.data<uint8_t>(), src);
      break;
  }
  return out.to(device());
}

void Tensor::fill(double value) { fill_(*this, value); }

std::vector<float> Tensor::to_vector() const {
  Tensor c = to(Device::cpu()).to_dtype(DType::F32);
  const float* p = c.data<float>();
  return std::vector<float>(p, p + numel());
}

double Tensor::item() const {
  BIASCKA_CHECK(numel() == 1, "item() of a tensor of shape ", shape_str(shape()));
  Tensor c = to(Device::cpu()).to_dtype(DType::F64);
  return c.data<double>()[0];
}

bool Tensor::requires_grad() const { return impl_ && impl_->requires_grad; }

Tensor& Tensor::set_requires_grad(bool r) {
  BIASCKA_CHECK(impl_, "set_requires_grad on an undefined tensor");
  impl_->requires_grad = r;
  return *this;
}

Tensor Tensor::grad() const { return impl_ && impl_->grad ? Tensor(impl_->grad) : Tensor(); }

void Tensor::set_grad(const Tensor& g) { impl_->grad = g.impl_ptr(); }

void Tensor::zero_grad() {
  if (impl_) impl_->grad.reset();
}

const std::shared_ptr<Node>& Tensor::grad_fn() const {
  static const std::shared_ptr<Node> none;
  return impl_ ? impl_->grad_fn : none;
}

}  // namespace biascka
