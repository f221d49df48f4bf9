// Gradient clipping: the norm is computed per gradient, then over those norms
// (PyTorch's order), and every gradient is scaled by the clamped coefficient.
#include "galen/optim/clip.h"

#include <cmath>

#include "galen/core/autograd.h"
#include "galen/core/ops.h"

namespace galen::optim {

Tensor clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type) {
  NoGradGuard ng;
  GALEN_CHECK(norm_type > 0, "clip_grad_norm_: norm_type must be positive (or inf), got ", norm_type);
  std::vector<Tensor> grads;
  for (const Tensor& p : params) {
    GALEN_CHECK(p.defined(), "clip_grad_norm_: undefined parameter");
    Tensor g = p.grad();
    if (g.defined()) grads.push_back(g);
  }
  if (grads.empty()) return scalar_tensor(0.0);
  const Device dev = grads[0].device();
  std::vector<Tensor> norms;
  for (const Tensor& g : grads) {
    GALEN_CHECK(g.device() == dev, "clip_grad_norm_: gradients on different devices (", dev, " and ", g.device(),
                ")");
    norms.push_back(std::isinf(norm_type) ? amax(abs(g)) : norm(g, norm_type));
  }
  Tensor total = norms.size() == 1 ? norms[0]
                 : std::isinf(norm_type) ? amax(stack(norms)) : norm(stack(norms), norm_type);
  Tensor coef = clamp(div(scalar_tensor(max_norm, TensorOptions(total.dtype(), dev)), add(total, 1e-6)),
                      std::nullopt, 1.0);
  for (Tensor& g : grads) g.copy_(mul(g, coef));
  return total;
}

void clip_grad_value_(const std::vector<Tensor>& params, double clip_value) {
  NoGradGuard ng;
  GALEN_CHECK(clip_value >= 0, "clip_grad_value_: clip_value must be >= 0, got ", clip_value);
  for (const Tensor& p : params) {
    GALEN_CHECK(p.defined(), "clip_grad_value_: undefined parameter");
    Tensor g = p.grad();
    if (g.defined()) g.copy_(clamp(g, -clip_value, clip_value));
  }
}

}  // namespace galen::optim
