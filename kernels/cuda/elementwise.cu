// CUDA copy (strided -> strided with any dtype cast), fill, where and clamp.
// Everything strided goes through StridedIndexer (cuda_common.cuh).
#include <cuda_runtime.h>

#include "galen/kernels/cuda/cuda_common.cuh"

namespace galen::kernels::cuda {

namespace {

// The value conversion of copy/to(dtype): bool is "!= 0"; a float going to u8
// passes through i64 so negative values wrap (as the host does) instead of
// saturating.
template <typename D, typename S>
__host__ __device__ __forceinline__ D cast_to(S v) {
  if constexpr (std::is_same_v<D, bool>) {
    return v != S(0);
  } else if constexpr (std::is_same_v<D, uint8_t> && std::is_floating_point_v<S>) {
    return static_cast<D>(static_cast<int64_t>(v));
  } else {
    return static_cast<D>(v);
  }
}

template <typename S, typename D>
struct CastCopy {
  const S* src;
  D* dst;
  template <typename I>
  __device__ __forceinline__ void operator()(const I (&off)[2]) const {
    dst[off[0]] = cast_to<D>(src[off[1]]);
  }
};

template <typename T>
__global__ void __launch_bounds__(kThreads) fill_kernel(T* dst, int64_t n, T value) {
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step)
    dst[i] = value;
}

template <typename T>
struct WhereOp {
  T* out;
  const bool* cond;
  const T* a;
  const T* b;
  template <typename I>
  __device__ __forceinline__ void operator()(const I (&off)[4]) const {
    out[off[0]] = cond[off[1]] ? a[off[2]] : b[off[3]];
  }
};

template <typename T>
__global__ void __launch_bounds__(kThreads)
    clamp_kernel(const T* x, int64_t n, T lo, T hi, T* out) {
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += step) {
    // NaN stays NaN; a NaN bound compares false and so bounds nothing.
    T v = x[i];
    if (!is_nan(v)) {
      if (v < lo) v = lo;
      if (v > hi) v = hi;
    }
    out[i] = v;
  }
}

// A double bound as T: integers saturate to T's range (so +-inf mean "no
// bound"), floats convert as usual. Same rule as the reference backend.
template <typename T>
T bound_as(double v) {
  if constexpr (std::is_floating_point_v<T>) {
    return static_cast<T>(v);
  } else {
    const double lo = static_cast<double>(std::numeric_limits<T>::lowest());
    const double hi = static_cast<double>(std::numeric_limits<T>::max());
    if (!(v > lo)) return std::numeric_limits<T>::lowest();
    if (!(v < hi)) return std::numeric_limits<T>::max();
    return static_cast<T>(v);
  }
}

// fill's value as T (integers saturate rather than overflow).
template <typename T>
T value_as(double v) {
  if constexpr (std::is_same_v<T, bool>) return v != 0.0;
  else return bound_as<T>(v);
}

}  // namespace

void CudaBackend::copy(DType src_dtype, const void* src, const Layout& sl, DType dst_dtype,
                       void* dst, const Layout& dl) {
  GALEN_CHECK(sl.ndim == dl.ndim, "copy: source and destination layouts differ in ndim (",
              sl.ndim, " vs ", dl.ndim, ")");
  int64_t src_strides[kMaxDims];
  for (int d = 0; d < sl.ndim; ++d) {
    GALEN_CHECK(sl.sizes[d] == dl.sizes[d] || sl.sizes[d] == 1, "copy: source size ", sl.sizes[d],
                " does not match destination size ", dl.sizes[d], " in dim ", d);
    src_strides[d] = sl.sizes[d] == 1 ? 0 : sl.strides[d];
  }
  const int64_t* const strides[2] = {dl.strides, src_strides};
  const DimPlan<2> plan = plan_dims<2>(dl.ndim, dl.sizes, strides);
  if (plan.numel == 0) return;
  // Same dtype, both dense in the same order: a plain device memcpy.
  if (src_dtype == dst_dtype && plan.ndim == 1 && plan.strides[0][0] == 1 &&
      plan.strides[1][0] == 1) {
    if (dst != src)
      GALEN_CUDA_CHECK(cudaMemcpy(dst, src, static_cast<size_t>(plan.numel) * element_size(dst_dtype),
                                  cudaMemcpyDeviceToDevice));
    return;
  }
  dispatch_all(src_dtype, "copy", [&](auto s_tag) {
    using S = decltype(s_tag);
    dispatch_all(dst_dtype, "copy", [&](auto d_tag) {
      using D = decltype(d_tag);
      launch_strided(plan, CastCopy<S, D>{static_cast<const S*>(src), static_cast<D*>(dst)},
                     "copy");
    });
  });
}

void CudaBackend::fill(DType dtype, void* dst, int64_t n, double value) {
  if (n <= 0) return;
  dispatch_all(dtype, "fill", [&](auto tag) {
    using T = decltype(tag);
    fill_kernel<T><<<grid_for(n), kThreads>>>(static_cast<T*>(dst), n, value_as<T>(value));
    GALEN_CUDA_LAUNCH_CHECK("fill");
  });
}

void CudaBackend::where(DType dtype, const void* cond, const Layout& cl, const void* a,
                        const Layout& al, const void* b, const Layout& bl, void* out) {
  const Layout* const ls[3] = {&cl, &al, &bl};
  const BroadcastShape<3> bs = broadcast_layouts<3>("where", ls);
  int64_t out_strides[kMaxDims];
  contiguous_strides(bs.ndim, bs.sizes, out_strides);
  const int64_t* const strides[4] = {out_strides, bs.strides[0], bs.strides[1], bs.strides[2]};
  const DimPlan<4> plan = plan_dims<4>(bs.ndim, bs.sizes, strides);
  if (plan.numel == 0) return;
  dispatch_all(dtype, "where", [&](auto tag) {
    using T = decltype(tag);
    launch_strided(plan,
                   WhereOp<T>{static_cast<T*>(out), static_cast<const bool*>(cond),
                              static_cast<const T*>(a), static_cast<const T*>(b)},
                   "where");
  });
}

void CudaBackend::clamp(DType dtype, const void* x, int64_t n, double lo, double hi, void* out) {
  dispatch_numeric(dtype, "clamp", [&](auto tag) {
    using T = decltype(tag);
    if (n <= 0) return;
    clamp_kernel<T><<<grid_for(n), kThreads>>>(static_cast<const T*>(x), n, bound_as<T>(lo),
                                                bound_as<T>(hi), static_cast<T*>(out));
    GALEN_CUDA_LAUNCH_CHECK("clamp");
  });
}

}  // namespace galen::kernels::cuda
