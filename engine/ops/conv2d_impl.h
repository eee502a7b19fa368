#pragma once
// The three implementations behind conv2d, each with forward, backward-data and backward-weights on
// raw pointers. Internal to engine/ops and engine/cuda; tests reach them through conv2d and the path switch.
#include <cstdint>

namespace biascka::conv {

struct Geometry {
  int64_t n, h, w, c;  // input, channels-last
  int64_t o, kh, kw;   // filters
  int64_t stride, pad;
  int64_t oh, ow;  // output spatial size
};

// Reference: im2col + GEMM (engine/ops/cpu/conv2d.cpp). backward_weights accumulates when `accumulate`.
void reference_forward(const Geometry& g, const float* x, const float* w, float* y);
void reference_backward_data(const Geometry& g, const float* dy, const float* w, float* dx);
void reference_backward_weights(const Geometry& g, const float* x, const float* dy, float* dw);

// oneDNN (engine/ops/conv2d_onednn.cpp); only called when onednn_available().
void onednn_forward(const Geometry& g, const float* x, const float* w, float* y);
void onednn_backward_data(const Geometry& g, const float* dy, const float* w, float* dx);
void onednn_backward_weights(const Geometry& g, const float* x, const float* dy, float* dw);

// cuDNN (engine/ops/conv2d_cudnn.cpp); pointers on `device`.
void cudnn_forward(int device, const Geometry& g, const float* x, const float* w, float* y);
void cudnn_backward_data(int device, const Geometry& g, const float* dy, const float* w, float* dx);
void cudnn_backward_weights(int device, const Geometry& g, const float* x, const float* dy, float* dw);

}  // namespace biascka::conv
