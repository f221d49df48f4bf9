// Fused optimizer steps on CPU: one pass over parameter, gradient and state
// instead of a dozen elementwise ops (the composite form allocated and wrote
// every intermediate; on the MNIST tutorial the optimizer dominated the step).
#include "galen/kernels/backend.h"
#include "galen/kernels/cpu/common.h"
#include "galen/kernels/cpu/cpu_kernels.h"

namespace galen::kernels::cpu {

namespace {
template <typename T>
void adam_loop(T* p, const T* g, T* m, T* v, T* vmax, int64_t n, const AdamParams& a) {
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (int64_t i = 0; i < n; ++i) adam_element<T>(p[i], g[i], m[i], v[i], a.amsgrad ? vmax + i : nullptr, a);
}
}  // namespace

void adam_step(DType dt, void* p, const void* g, void* m, void* v, void* vmax, int64_t n, const AdamParams& a) {
  switch (dt) {
    case DType::f32:
      adam_loop(static_cast<float*>(p), static_cast<const float*>(g), static_cast<float*>(m), static_cast<float*>(v),
                static_cast<float*>(vmax), n, a);
      return;
    case DType::f64:
      adam_loop(static_cast<double*>(p), static_cast<const double*>(g), static_cast<double*>(m),
                static_cast<double*>(v), static_cast<double*>(vmax), n, a);
      return;
    default:
      no_kernel("adam_step", DeviceType::CPU, dt);
  }
}

}  // namespace galen::kernels::cpu
