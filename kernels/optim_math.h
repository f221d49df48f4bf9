// Per-element optimizer updates shared by every backend (host and device), so
// the fused kernels of ref/, cpu/ and cuda/ compute bit-identical results. The
// order of operations follows torch.optim's single-tensor Adam (1.13).
#pragma once

#include <cmath>
#include <cstdint>

#include "galen/kernels/philox.h"  // GALEN_HD

namespace galen::kernels {

struct AdamParams {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
  double bias_correction1 = 1.0;       // 1 - beta1^step
  double bias_correction2_sqrt = 1.0;  // sqrt(1 - beta2^step)
  bool decoupled = false;              // AdamW: p *= 1 - lr*wd before the update
  bool amsgrad = false;
};

// sqrt in the element type (float math for f32, as torch computes it).
GALEN_HD float sqrt_t(float x) { return ::sqrtf(x); }
GALEN_HD double sqrt_t(double x) { return ::sqrt(x); }

// One element: p, m, v (and vmax with amsgrad) are updated in place.
template <typename T>
GALEN_HD void adam_element(T& p, T g, T& m, T& v, T* vmax, const AdamParams& a) {
  if (a.decoupled) p = p * static_cast<T>(1.0 - a.lr * a.weight_decay);
  else if (a.weight_decay != 0) g = g + p * static_cast<T>(a.weight_decay);
  m = m * static_cast<T>(a.beta1) + g * static_cast<T>(1.0 - a.beta1);
  v = v * static_cast<T>(a.beta2) + (g * g) * static_cast<T>(1.0 - a.beta2);
  T vv = v;
  if (a.amsgrad) {
    if (!(*vmax >= v)) *vmax = v;
    vv = *vmax;
  }
  const T denom = sqrt_t(vv) / static_cast<T>(a.bias_correction2_sqrt) + static_cast<T>(a.eps);
  p = p + (m / denom) * static_cast<T>(-(a.lr / a.bias_correction1));
}

}  // namespace galen::kernels
