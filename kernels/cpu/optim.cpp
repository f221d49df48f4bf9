// Fused optimizer steps on CPU: one pass over parameter, gradient and state
// instead of a dozen elementwise ops (the composite form allocated and wrote
// every intermediate; on the MNIST tutorial the optimizer dominated the step).
#include <cmath>

#include "galen/kernels/backend.h"
#include "galen/kernels/cpu/common.h"
#include "galen/kernels/cpu/cpu_kernels.h"

namespace galen::kernels::cpu {

namespace {
template <typename T>
void adam_loop(T* p, const T* g, T* m, T* v, T* vmax, int64_t n, const AdamParams& a) {
  if (a.amsgrad || a.decoupled) {
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
    for (int64_t i = 0; i < n; ++i) adam_element<T>(p[i], g[i], m[i], v[i], a.amsgrad ? vmax + i : nullptr, a);
    return;
  }
  // The common case (Adam, optional L2 weight decay) with the constants hoisted
  // so the loop vectorises; the operations and their order are exactly
  // adam_element's (the kernel test checks bit equality with the reference).
  const T wd = static_cast<T>(a.weight_decay), b1 = static_cast<T>(a.beta1), c1 = static_cast<T>(1.0 - a.beta1);
  const T b2 = static_cast<T>(a.beta2), c2 = static_cast<T>(1.0 - a.beta2);
  const T bc2 = static_cast<T>(a.bias_correction2_sqrt), eps = static_cast<T>(a.eps);
  const T step = static_cast<T>(-(a.lr / a.bias_correction1));
  const bool decay = a.weight_decay != 0;
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (int64_t i = 0; i < n; ++i) {
    T gi = g[i];
    if (decay) gi = gi + p[i] * wd;
    const T mi = m[i] * b1 + gi * c1;
    const T vi = v[i] * b2 + (gi * gi) * c2;
    m[i] = mi;
    v[i] = vi;
    const T denom = sqrt_t(vi) / bc2 + eps;
    p[i] = p[i] + (mi / denom) * step;
  }
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
