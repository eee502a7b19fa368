#pragma once
// The GPU engine of MinibatchCka (accumulator.h): used when CkaOptions::device is a GPU and the kernel is
// linear. Per batch, on a stream of its own:
// - each group of layers' packed centred Grams as float rows of G (gram_cuda.h), straight from the
//   activations where they lie on the device;
// - G_a G_b^T over column chunks of the rows, one strided-batched cuBLAS product (exact FP32 always), the
//   chunk results summed in float64 with the batch's 2/(n(n-3)) or 2/(n-1)^2 into the batch's HSIC matrix;
//   with one model the diagonal block is made exactly symmetric, with two each row's product with itself
//   (float64) gives the self terms;
// - at the end of the batch, float64 sums on the device (a batch that throws half-way is not added).
// The layer groups are the CPU accumulator's, under the smaller of CkaOptions::gram_memory and half the
// device memory available, a Gram row being padded_row_length floats.
// Overlap: add_batch makes its stream wait (on the device) for the work queued so far on the device's main
// stream, which produced the activations, queues the batch and returns. The batch's activations are kept
// until the main stream has been made to wait for the batch's end: the next forward pass overlaps this
// batch's CKA, and the allocator never hands out their memory while the CKA stream reads it.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cka/accumulator.h"

namespace biascka::cka {

class CudaCka {
 public:
  // layers_b 0: one model's layers against themselves.
  CudaCka(int64_t layers_a, int64_t layers_b, const CkaOptions& options);
  ~CudaCka();
  CudaCka(const CudaCka&) = delete;
  CudaCka& operator=(const CudaCka&) = delete;

  // One batch of n >= min_batch samples; names only for error messages.
  void add_batch(int64_t n, const LayerSource& a, const LayerSource* b,
                 const std::vector<std::string>& names_a, const std::vector<std::string>& names_b);
  // Waits for the queued batches, copies the device sums into the host vectors and adds the GPU times and
  // flops since the last call to `timing`.
  void download(std::vector<double>& sum, std::vector<double>& self_a, std::vector<double>& self_b,
                CkaTiming& timing);

  // Floats per Gram row on the GPU: packed_size(n, e) rounded up to whole column chunks of the pair product.
  static int64_t padded_row_length(int64_t n, Estimator e);

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace biascka::cka
