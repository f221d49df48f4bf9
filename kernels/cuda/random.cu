// CUDA random numbers: element i of a call uses Philox block (offset + i, 0)
// under key `seed`, mapped to a value exactly as kernels/philox.h specifies, so
// the GPU reproduces the CPU stream.
//
// Bit-exactness: nvcc contracts a + (b - a) * u into one FMA by default, which
// can round differently from the separately rounded multiply and add of the
// host code; the uniform mapping therefore spells the two roundings out with
// __dmul_rn / __dadd_rn (never contracted). Normal goes through log/cos/sqrt,
// whose CUDA versions differ from glibc's by an ulp or so: close, not identical.
#include <cuda_runtime.h>

#include "galen/kernels/cuda/cuda_common.cuh"
#include "galen/kernels/philox.h"

namespace galen::kernels::cuda {

namespace {

template <typename T>
__global__ void __launch_bounds__(kThreads)
    uniform_kernel(T* out, int64_t n, uint64_t seed, uint64_t offset, double a, double b) {
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  const double width = __dsub_rn(b, a);
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    const philox::U4 r = philox::block(offset + static_cast<uint64_t>(i), 0, seed);
    const double u = std::is_same_v<T, double> ? philox::u01d(r.x, r.y)
                                               : static_cast<double>(philox::u01f(r.x));
    out[i] = static_cast<T>(__dadd_rn(a, __dmul_rn(width, u)));
  }
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    normal_kernel(T* out, int64_t n, uint64_t seed, uint64_t offset, double mean, double stdv) {
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step)
    out[i] = static_cast<T>(philox::normal(seed, offset, i, mean, stdv));
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    randint_kernel(T* out, int64_t n, uint64_t seed, uint64_t offset, int64_t lo, int64_t hi) {
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step)
    out[i] = static_cast<T>(philox::randint(seed, offset, i, lo, hi));
}

}  // namespace

void CudaBackend::random(RandomDist dist, DType dtype, void* out, int64_t n, uint64_t seed,
                         uint64_t offset, double a, double b) {
  switch (dist) {
    case RandomDist::Uniform:
      dispatch_float(dtype, "uniform", [&](auto tag) {
        using T = decltype(tag);
        if (n <= 0) return;
        uniform_kernel<T><<<grid_for(n), kThreads>>>(static_cast<T*>(out), n, seed, offset, a, b);
        GALEN_CUDA_LAUNCH_CHECK("uniform");
      });
      return;
    case RandomDist::Normal:
      dispatch_float(dtype, "normal", [&](auto tag) {
        using T = decltype(tag);
        if (n <= 0) return;
        normal_kernel<T><<<grid_for(n), kThreads>>>(static_cast<T*>(out), n, seed, offset, a, b);
        GALEN_CUDA_LAUNCH_CHECK("normal");
      });
      return;
    case RandomDist::RandInt:
      dispatch_numeric(dtype, "randint", [&](auto tag) {
        using T = decltype(tag);
        const int64_t lo = static_cast<int64_t>(a), hi = static_cast<int64_t>(b);
        GALEN_CHECK(lo < hi, "randint: needs low < high, got [", lo, ", ", hi, ")");
        if (n <= 0) return;
        randint_kernel<T><<<grid_for(n), kThreads>>>(static_cast<T*>(out), n, seed, offset, lo, hi);
        GALEN_CUDA_LAUNCH_CHECK("randint");
      });
      return;
  }
  GALEN_FAIL("random: unknown distribution ", static_cast<int>(dist));
}

}  // namespace galen::kernels::cuda
