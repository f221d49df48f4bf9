// CUDA indexing: index_select / gather (pure data movement, dispatched on the
// element width) and index_add / scatter_add (atomic adds; u8 through a
// compare-and-swap on the enclosing 32-bit word). Indices are i64 and already
// range-checked by core.
#include <cuda_runtime.h>

#include "galen/kernels/cuda/cuda_common.cuh"

namespace galen::kernels::cuda {

namespace {

__device__ __forceinline__ void atomic_add(float* p, float v) { atomicAdd(p, v); }
__device__ __forceinline__ void atomic_add(double* p, double v) { atomicAdd(p, v); }  // sm_60+
__device__ __forceinline__ void atomic_add(int32_t* p, int32_t v) {
  atomicAdd(reinterpret_cast<int*>(p), static_cast<int>(v));
}
__device__ __forceinline__ void atomic_add(int64_t* p, int64_t v) {
  // Two's complement: unsigned wrap-around addition is signed addition.
  atomicAdd(reinterpret_cast<unsigned long long*>(p), static_cast<unsigned long long>(v));
}
__device__ __forceinline__ void atomic_add(uint8_t* p, uint8_t v) {
  // The aligned 4-byte word holding the byte lies inside the same allocation:
  // every block of the caching allocator is 512-byte aligned and sized.
  const uintptr_t addr = reinterpret_cast<uintptr_t>(p);
  unsigned int* word = reinterpret_cast<unsigned int*>(addr & ~uintptr_t(3));
  const unsigned int shift = static_cast<unsigned int>(addr & 3) * 8u;
  unsigned int old = *word, assumed;
  do {
    assumed = old;
    const unsigned int byte = ((assumed >> shift) + v) & 0xffu;
    const unsigned int next = (assumed & ~(0xffu << shift)) | (byte << shift);
    old = atomicCAS(word, assumed, next);
  } while (old != assumed);
}

// out (outer, n, inner)[o, j, i] = x (outer, dim, inner)[o, idx[j], i]
template <typename E>
__global__ void __launch_bounds__(kThreads)
    index_select_kernel(const E* x, int64_t dim, int64_t inner, const int64_t* idx, int64_t n,
                        int64_t total, E* out) {
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < total;
       e += step) {
    const int64_t i = e % inner;
    const int64_t t = e / inner;
    const int64_t j = t % n, o = t / n;
    out[e] = x[(o * dim + idx[j]) * inner + i];
  }
}

// dst (outer, dim, inner)[o, idx[j], i] += src (outer, n, inner)[o, j, i]
template <typename T>
__global__ void __launch_bounds__(kThreads)
    index_add_kernel(T* dst, int64_t dim, int64_t inner, const int64_t* idx, int64_t n,
                     int64_t total, const T* src) {
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < total;
       e += step) {
    const int64_t i = e % inner;
    const int64_t t = e / inner;
    const int64_t j = t % n, o = t / n;
    atomic_add(dst + (o * dim + idx[j]) * inner + i, src[e]);
  }
}

// Operands: 0 = out (contiguous), 1 = index, 2 = x with its `axis` stride zeroed;
// the axis contribution comes from the index value.
template <typename E>
struct GatherOp {
  E* out;
  const int64_t* index;
  const E* x;
  int64_t x_axis_stride;
  template <typename I>
  __device__ __forceinline__ void operator()(const I (&off)[3]) const {
    out[off[0]] = x[static_cast<int64_t>(off[2]) + index[off[1]] * x_axis_stride];
  }
};

// Operands: 0 = index, 1 = src, 2 = dst with its `axis` stride zeroed.
template <typename T>
struct ScatterAddOp {
  T* dst;
  const int64_t* index;
  const T* src;
  int64_t dst_axis_stride;
  template <typename I>
  __device__ __forceinline__ void operator()(const I (&off)[3]) const {
    atomic_add(dst + static_cast<int64_t>(off[2]) + index[off[0]] * dst_axis_stride, src[off[1]]);
  }
};

}  // namespace

void CudaBackend::index_select(DType dtype, const void* x, int64_t outer, int64_t dim,
                               int64_t inner, const int64_t* idx, int64_t n, void* out) {
  const int64_t total = outer * n * inner;
  dispatch_by_size(dtype, "index_select", [&](auto tag) {
    using E = decltype(tag);
    if (total <= 0) return;
    index_select_kernel<E><<<grid_for(total), kThreads>>>(static_cast<const E*>(x), dim, inner, idx,
                                                          n, total, static_cast<E*>(out));
    GALEN_CUDA_LAUNCH_CHECK("index_select");
  });
}

void CudaBackend::index_add(DType dtype, void* dst, int64_t outer, int64_t dim, int64_t inner,
                            const int64_t* idx, int64_t n, const void* src) {
  const int64_t total = outer * n * inner;
  dispatch_numeric(dtype, "index_add", [&](auto tag) {
    using T = decltype(tag);
    if (total <= 0) return;
    index_add_kernel<T><<<grid_for(total), kThreads>>>(static_cast<T*>(dst), dim, inner, idx, n,
                                                       total, static_cast<const T*>(src));
    GALEN_CUDA_LAUNCH_CHECK("index_add");
  });
}

void CudaBackend::gather(DType dtype, const void* x, const Layout& xl, int axis,
                         const int64_t* index, const Layout& il, void* out) {
  GALEN_CHECK(xl.ndim == il.ndim, "gather: input and index must have the same ndim, got ", xl.ndim,
              " and ", il.ndim);
  GALEN_CHECK(axis >= 0 && axis < il.ndim, "gather: axis ", axis, " out of range for ", il.ndim,
              " dims");
  int64_t out_strides[kMaxDims], x_strides[kMaxDims];
  contiguous_strides(il.ndim, il.sizes, out_strides);
  for (int d = 0; d < il.ndim; ++d) x_strides[d] = d == axis ? 0 : xl.strides[d];
  const int64_t* const strides[3] = {out_strides, il.strides, x_strides};
  const DimPlan<3> plan = plan_dims<3>(il.ndim, il.sizes, strides);
  if (plan.numel == 0) return;
  dispatch_by_size(dtype, "gather", [&](auto tag) {
    using E = decltype(tag);
    launch_strided(plan,
                   GatherOp<E>{static_cast<E*>(out), index, static_cast<const E*>(x),
                               xl.strides[axis]},
                   "gather");
  });
}

void CudaBackend::scatter_add(DType dtype, void* dst, const Layout& dl, int axis,
                              const int64_t* index, const Layout& il, const void* src,
                              const Layout& sl) {
  GALEN_CHECK(dl.ndim == il.ndim && sl.ndim == il.ndim,
              "scatter_add: dst, index and src must have the same ndim, got ", dl.ndim, ", ",
              il.ndim, ", ", sl.ndim);
  GALEN_CHECK(axis >= 0 && axis < il.ndim, "scatter_add: axis ", axis, " out of range for ",
              il.ndim, " dims");
  int64_t d_strides[kMaxDims], s_strides[kMaxDims];
  for (int d = 0; d < il.ndim; ++d) {
    d_strides[d] = d == axis ? 0 : dl.strides[d];
    s_strides[d] = sl.sizes[d] == 1 ? 0 : sl.strides[d];
  }
  const int64_t* const strides[3] = {il.strides, s_strides, d_strides};
  const DimPlan<3> plan = plan_dims<3>(il.ndim, il.sizes, strides);
  if (plan.numel == 0) return;
  dispatch_numeric(dtype, "scatter_add", [&](auto tag) {
    using T = decltype(tag);
    launch_strided(plan,
                   ScatterAddOp<T>{static_cast<T*>(dst), index, static_cast<const T*>(src),
                                   dl.strides[axis]},
                   "scatter_add");
  });
}

}  // namespace galen::kernels::cuda
