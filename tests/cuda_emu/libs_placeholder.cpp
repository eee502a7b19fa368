// TEMPORARY (deleted when the cuBLAS/cuDNN test doubles, tests/cuda_emu/cublas_double.cpp and
// cudnn_double.cpp, are merged): the cuBLAS and cuDNN entry points the engine calls, so that the emulation
// build links. Handles and descriptors are created and configured (so device contexts come up); every call
// that would compute returns CUBLAS_STATUS_NOT_SUPPORTED / CUDNN_STATUS_NOT_SUPPORTED.
#include <cublas_v2.h>
#include <cudnn.h>

namespace {
int g_token;  // handles and descriptors point here: non-null, never dereferenced
template <class H>
H token() {
  return reinterpret_cast<H>(&g_token);
}
}  // namespace

extern "C" {

cublasStatus_t cublasCreate_v2(cublasHandle_t* h) {
  *h = token<cublasHandle_t>();
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasDestroy_v2(cublasHandle_t) { return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasSetStream_v2(cublasHandle_t, cudaStream_t) { return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasSetWorkspace_v2(cublasHandle_t, void*, size_t) { return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasGetProperty(libraryPropertyType, int* value) {
  *value = 0;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasGemmEx(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int, const void*,
                            const void*, cudaDataType, int, const void*, cudaDataType, int, const void*,
                            void*, cudaDataType, int, cublasComputeType_t, cublasGemmAlgo_t) {
  return CUBLAS_STATUS_NOT_SUPPORTED;
}
cublasStatus_t cublasGemmStridedBatchedEx(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
                                          const void*, const void*, cudaDataType, int, long long int,
                                          const void*, cudaDataType, int, long long int, const void*, void*,
                                          cudaDataType, int, long long int, int, cublasComputeType_t,
                                          cublasGemmAlgo_t) {
  return CUBLAS_STATUS_NOT_SUPPORTED;
}

size_t cudnnGetVersion(void) { return 0; }
const char* cudnnGetErrorString(cudnnStatus_t s) {
  return s == CUDNN_STATUS_SUCCESS ? "CUDNN_STATUS_SUCCESS" : "CUDNN_STATUS_NOT_SUPPORTED (placeholder)";
}
cudnnStatus_t cudnnCreate(cudnnHandle_t* h) {
  *h = token<cudnnHandle_t>();
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetStream(cudnnHandle_t, cudaStream_t) { return CUDNN_STATUS_SUCCESS; }
cudnnStatus_t cudnnCreateTensorDescriptor(cudnnTensorDescriptor_t* d) {
  *d = token<cudnnTensorDescriptor_t>();
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnCreateFilterDescriptor(cudnnFilterDescriptor_t* d) {
  *d = token<cudnnFilterDescriptor_t>();
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnCreateConvolutionDescriptor(cudnnConvolutionDescriptor_t* d) {
  *d = token<cudnnConvolutionDescriptor_t>();
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetTensor4dDescriptor(cudnnTensorDescriptor_t, cudnnTensorFormat_t, cudnnDataType_t, int,
                                         int, int, int) {
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetFilter4dDescriptor(cudnnFilterDescriptor_t, cudnnDataType_t, cudnnTensorFormat_t, int,
                                         int, int, int) {
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetConvolution2dDescriptor(cudnnConvolutionDescriptor_t, int, int, int, int, int, int,
                                              cudnnConvolutionMode_t, cudnnDataType_t) {
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnSetConvolutionMathType(cudnnConvolutionDescriptor_t, cudnnMathType_t) {
  return CUDNN_STATUS_SUCCESS;
}
cudnnStatus_t cudnnFindConvolutionForwardAlgorithmEx(cudnnHandle_t, const cudnnTensorDescriptor_t,
                                                     const void*, const cudnnFilterDescriptor_t, const void*,
                                                     const cudnnConvolutionDescriptor_t,
                                                     const cudnnTensorDescriptor_t, void*, const int, int*,
                                                     cudnnConvolutionFwdAlgoPerf_t*, void*, size_t) {
  return CUDNN_STATUS_NOT_SUPPORTED;
}
cudnnStatus_t cudnnFindConvolutionBackwardDataAlgorithmEx(cudnnHandle_t, const cudnnFilterDescriptor_t,
                                                          const void*, const cudnnTensorDescriptor_t,
                                                          const void*, const cudnnConvolutionDescriptor_t,
                                                          const cudnnTensorDescriptor_t, void*, const int,
                                                          int*, cudnnConvolutionBwdDataAlgoPerf_t*, void*,
                                                          size_t) {
  return CUDNN_STATUS_NOT_SUPPORTED;
}
cudnnStatus_t cudnnFindConvolutionBackwardFilterAlgorithmEx(cudnnHandle_t, const cudnnTensorDescriptor_t,
                                                            const void*, const cudnnTensorDescriptor_t,
                                                            const void*, const cudnnConvolutionDescriptor_t,
                                                            const cudnnFilterDescriptor_t, void*, const int,
                                                            int*, cudnnConvolutionBwdFilterAlgoPerf_t*, void*,
                                                            size_t) {
  return CUDNN_STATUS_NOT_SUPPORTED;
}
cudnnStatus_t cudnnConvolutionForward(cudnnHandle_t, const void*, const cudnnTensorDescriptor_t, const void*,
                                      const cudnnFilterDescriptor_t, const void*,
                                      const cudnnConvolutionDescriptor_t, cudnnConvolutionFwdAlgo_t, void*,
                                      size_t, const void*, const cudnnTensorDescriptor_t, void*) {
  return CUDNN_STATUS_NOT_SUPPORTED;
}
cudnnStatus_t cudnnConvolutionBackwardData(cudnnHandle_t, const void*, const cudnnFilterDescriptor_t,
                                           const void*, const cudnnTensorDescriptor_t, const void*,
                                           const cudnnConvolutionDescriptor_t, cudnnConvolutionBwdDataAlgo_t,
                                           void*, size_t, const void*, const cudnnTensorDescriptor_t, void*) {
  return CUDNN_STATUS_NOT_SUPPORTED;
}
cudnnStatus_t cudnnConvolutionBackwardFilter(cudnnHandle_t, const void*, const cudnnTensorDescriptor_t,
                                             const void*, const cudnnTensorDescriptor_t, const void*,
                                             const cudnnConvolutionDescriptor_t,
                                             cudnnConvolutionBwdFilterAlgo_t, void*, size_t, const void*,
                                             const cudnnFilterDescriptor_t, void*) {
  return CUDNN_STATUS_NOT_SUPPORTED;
}

}  // extern "C"
