// What the cuDNN variants (conv_cudnn.cu, rnn_cudnn.cu) share: error checks
// with cuDNN's own last-error text, the one cuDNN handle per device, RAII
// descriptors and scratch memory from the backend's caching allocator.
//
// The handle comes from per_device_handle (cuda_common.cuh) called in an inline
// function, so every translation unit gets the same pool (one instance of an
// inline function's statics and lambda type): conv and RNN calls on a device
// share a handle, as in PyTorch. It runs on the legacy default stream, like
// every other galen kernel.
// Not installed (only *.h headers are): it needs cudnn.h.
#pragma once

#include <cuda_runtime.h>
#include <cudnn.h>

#include <cstddef>
#include <string>

#include "galen/kernels/cuda/cuda_common.cuh"

namespace galen::kernels::cuda {

// cuDNN's detail for the last failed call, " (...)", or "" when it has none.
inline std::string cudnn_detail() {
  char buf[512];
  buf[0] = '\0';
  cudnnGetLastErrorString(buf, sizeof(buf));
  buf[sizeof(buf) - 1] = '\0';
  return buf[0] ? std::string(" (") + buf + ")" : std::string();
}

[[noreturn]] inline void cudnn_fail(const char* call, cudnnStatus_t st) {
  GALEN_FAIL("cuDNN error: ", call, " failed: ", cudnnGetErrorString(st), " (status ", static_cast<int>(st), ")",
             cudnn_detail());
}

#define GALEN_CUDNN_CHECK(call)                                                                              \
  do {                                                                                                       \
    const cudnnStatus_t galen_cudnn_st_ = (call);                                                            \
    if (galen_cudnn_st_ != CUDNN_STATUS_SUCCESS) ::galen::kernels::cuda::cudnn_fail(#call, galen_cudnn_st_); \
  } while (0)

// Any status of the NOT_SUPPORTED category (cuDNN 9 has several sub-codes).
inline bool cudnn_not_supported(cudnnStatus_t st) {
  return CUDNN_STATUS_CATEGORY(static_cast<int>(st)) == static_cast<int>(CUDNN_STATUS_NOT_SUPPORTED);
}

inline cudnnHandle_t cudnn_handle() {
  return per_device_handle<cudnnHandle_t>("cuDNN", [] {
    cudnnHandle_t h = nullptr;
    GALEN_CUDNN_CHECK(cudnnCreate(&h));
    const cudnnStatus_t st = cudnnSetStream(h, nullptr);  // the legacy default stream
    if (st != CUDNN_STATUS_SUCCESS) {
      cudnnDestroy(h);
      cudnn_fail("cudnnSetStream(h, nullptr)", st);
    }
    return h;
  });
}

// A descriptor created on construction and destroyed with the object.
template <typename T, cudnnStatus_t (*Create)(T*), cudnnStatus_t (*Destroy)(T)>
struct CudnnDescriptor {
  T d = nullptr;
  CudnnDescriptor() { GALEN_CUDNN_CHECK(Create(&d)); }
  ~CudnnDescriptor() { Destroy(d); }
  CudnnDescriptor(const CudnnDescriptor&) = delete;
  CudnnDescriptor& operator=(const CudnnDescriptor&) = delete;
};
using TensorDesc = CudnnDescriptor<cudnnTensorDescriptor_t, cudnnCreateTensorDescriptor, cudnnDestroyTensorDescriptor>;
using FilterDesc = CudnnDescriptor<cudnnFilterDescriptor_t, cudnnCreateFilterDescriptor, cudnnDestroyFilterDescriptor>;
using ConvDesc =
    CudnnDescriptor<cudnnConvolutionDescriptor_t, cudnnCreateConvolutionDescriptor, cudnnDestroyConvolutionDescriptor>;
using RnnDesc = CudnnDescriptor<cudnnRNNDescriptor_t, cudnnCreateRNNDescriptor, cudnnDestroyRNNDescriptor>;
using RnnDataDesc =
    CudnnDescriptor<cudnnRNNDataDescriptor_t, cudnnCreateRNNDataDescriptor, cudnnDestroyRNNDataDescriptor>;
using DropoutDesc =
    CudnnDescriptor<cudnnDropoutDescriptor_t, cudnnCreateDropoutDescriptor, cudnnDestroyDropoutDescriptor>;

// Device scratch (workspace, weight space) from the caching allocator, freed with the object.
struct CudnnScratch {
  void* p = nullptr;
  size_t bytes = 0;
  CudnnScratch() = default;
  // Allocates `nbytes` (nothing for 0); throws galen::Error when the allocator cannot.
  explicit CudnnScratch(size_t nbytes) {
    if (nbytes) p = scratch_alloc(nbytes);
    bytes = nbytes;
  }
  // The same, but false instead of an error when out of memory (an algorithm's
  // workspace: the caller tries the next algorithm). Only on an empty object.
  bool try_allocate(size_t nbytes) {
    if (nbytes == 0) return true;
    try {
      p = scratch_alloc(nbytes);
    } catch (const Error&) {
      return false;
    }
    bytes = nbytes;
    return true;
  }
  ~CudnnScratch() {
    if (p) scratch_free(p);
  }
  CudnnScratch(const CudnnScratch&) = delete;
  CudnnScratch& operator=(const CudnnScratch&) = delete;
};

}  // namespace galen::kernels::cuda
