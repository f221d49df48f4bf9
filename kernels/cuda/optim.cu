// Fused optimizer steps on CUDA: one grid-stride pass per parameter tensor,
// with the element formula shared with the CPU (kernels/optim_math.h).
#include <cuda_runtime.h>

#include "galen/kernels/cuda/cuda_common.cuh"
#include "galen/kernels/cuda/cuda_internal.h"
#include "galen/kernels/optim_math.h"

namespace galen::kernels::cuda {

namespace {
template <typename T>
__global__ void __launch_bounds__(kThreads)
    adam_kernel(T* p, const T* g, T* m, T* v, T* vmax, int64_t n, AdamParams a) {
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step)
    adam_element<T>(p[i], g[i], m[i], v[i], a.amsgrad ? vmax + i : nullptr, a);
}
}  // namespace

void CudaBackend::adam_step(DType dt, void* p, const void* g, void* m, void* v, void* vmax, int64_t n,
                            const AdamParams& a) {
  if (n == 0) return;
  const unsigned grid = grid_for(n);
  switch (dt) {
    case DType::f32:
      adam_kernel<float><<<grid, kThreads>>>(static_cast<float*>(p), static_cast<const float*>(g),
                                             static_cast<float*>(m), static_cast<float*>(v),
                                             static_cast<float*>(vmax), n, a);
      break;
    case DType::f64:
      adam_kernel<double><<<grid, kThreads>>>(static_cast<double*>(p), static_cast<const double*>(g),
                                              static_cast<double*>(m), static_cast<double*>(v),
                                              static_cast<double*>(vmax), n, a);
      break;
    default:
      no_kernel("adam_step", DeviceType::CUDA, dt);
  }
  GALEN_CUDA_LAUNCH_CHECK("adam_step");
}

}  // namespace galen::kernels::cuda
