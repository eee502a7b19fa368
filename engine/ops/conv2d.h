#pragma once
// 2-D convolution without bias: x [N, H, W, C] (channels-last), w [O, C, kH, kW] (PyTorch's layout),
// y [N, OH, OW, O]. CPU: oneDNN when built with it, else (or when asked) the reference im2col + GEMM
// path; CUDA: cuDNN (engine/ops/conv2d_cudnn.cpp). Each device's entries of engine/backend.h.
#include <string>

#include "engine/tensor.h"

namespace biascka {

struct Conv2dOptions {
  int stride = 1;
  int padding = 0;
};

Tensor conv2d(const Tensor& x, const Tensor& w, Conv2dOptions opt);

enum class CpuConvPath { Auto, Reference, OneDnn };
void set_cpu_conv_path(CpuConvPath p);  // Auto: oneDNN when available
CpuConvPath cpu_conv_path();
bool onednn_available();
std::string onednn_version();  // "" when not built with oneDNN

}  // namespace biascka
