#pragma once
// Elementwise ops. `add` and `relu` are differentiable; the trailing-underscore forms work in place and
// never record autograd (gradient accumulation, optimizers, initialisation).
#include <cstdint>

#include "engine/tensor.h"

namespace biascka {

Tensor add(const Tensor& a, const Tensor& b);  // same shape
Tensor relu(const Tensor& x);
Tensor scale(const Tensor& x, float alpha);  // alpha * x

void add_(Tensor& y, const Tensor& x, float alpha);  // y += alpha * x
void fill_(Tensor& t, double value);                 // any dtype, any device
void increment_(Tensor& counter, int64_t by);        // an I64 [] counter += by, on its device

}  // namespace biascka
