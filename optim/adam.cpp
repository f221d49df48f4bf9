// Adam / AdamW update, as torch.optim (1.13):
//   Adam: g += wd * p;  AdamW: p *= 1 - lr * wd
//   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;  (amsgrad: vmax = max(vmax, v), used for v)
//   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
#include "galen/optim/adam.h"

#include <cmath>

#include "galen/core/ops.h"
#include "galen/kernels/backend.h"

namespace galen::optim {

Options AdamOptions::to_map() const {
  return {{"lr", lr},   {"beta1", beta1}, {"beta2", beta2}, {"eps", eps}, {"weight_decay", weight_decay},
          {"amsgrad", amsgrad ? 1.0 : 0.0}};
}

Adam::Adam(std::vector<Tensor> params, AdamOptions opts)
    : Adam(std::vector<ParamGroup>{ParamGroup(std::move(params))}, opts, false) {}
Adam::Adam(std::vector<ParamGroup> groups, AdamOptions opts) : Adam(std::move(groups), opts, false) {}
Adam::Adam(std::vector<ParamGroup> groups, AdamOptions opts, bool decoupled)
    : Optimizer(opts.to_map()), decoupled_(decoupled) {
  init_groups(std::move(groups));
}

AdamW::AdamW(std::vector<Tensor> params, AdamOptions opts)
    : Adam(std::vector<ParamGroup>{ParamGroup(std::move(params))}, opts, true) {}
AdamW::AdamW(std::vector<ParamGroup> groups, AdamOptions opts) : Adam(std::move(groups), opts, true) {}

void Adam::check_options(const Options& o) const {
  GALEN_CHECK(o.at("lr") >= 0, name(), ": invalid learning rate ", o.at("lr"));
  GALEN_CHECK(o.at("eps") >= 0, name(), ": invalid epsilon ", o.at("eps"));
  GALEN_CHECK(o.at("beta1") >= 0 && o.at("beta1") < 1, name(), ": invalid beta1 ", o.at("beta1"));
  GALEN_CHECK(o.at("beta2") >= 0 && o.at("beta2") < 1, name(), ": invalid beta2 ", o.at("beta2"));
  GALEN_CHECK(o.at("weight_decay") >= 0, name(), ": invalid weight_decay ", o.at("weight_decay"));
}

std::vector<std::string> Adam::state_names(const ParamGroup& g) const {
  if (g.get("amsgrad") != 0) return {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
  return {"step", "exp_avg", "exp_avg_sq"};
}

void Adam::update(const ParamGroup& g, Tensor& p, const Tensor& grad_in, std::map<std::string, Tensor>& st) {
  const double lr = g.get("lr"), b1 = g.get("beta1"), b2 = g.get("beta2"), eps = g.get("eps");
  const double wd = g.get("weight_decay");
  const bool amsgrad = g.get("amsgrad") != 0;
  if (!st.count("exp_avg")) {
    st["exp_avg"] = zeros_like(p);
    st["exp_avg_sq"] = zeros_like(p);
    if (amsgrad) st["max_exp_avg_sq"] = zeros_like(p);
  }
  const double step = increment_step(st);
  const double bc1 = 1.0 - std::pow(b1, step);
  const double bc2_sqrt = std::sqrt(1.0 - std::pow(b2, step));
  // Fused path: one backend kernel reads p, grad and state once (same formula,
  // kernels/optim_math.h). Needs contiguous tensors of one floating dtype.
  const Tensor g_c = grad_in.dtype() == p.dtype() ? grad_in.contiguous() : grad_in.to(p.dtype()).contiguous();
  Tensor& m0 = st["exp_avg"];
  Tensor& v0 = st["exp_avg_sq"];
  if (p.is_contiguous() && m0.is_contiguous() && v0.is_contiguous() &&
      (p.dtype() == DType::f32 || p.dtype() == DType::f64) && m0.dtype() == p.dtype() && v0.dtype() == p.dtype() &&
      (!amsgrad || st["max_exp_avg_sq"].is_contiguous())) {
    kernels::AdamParams a;
    a.lr = lr;
    a.beta1 = b1;
    a.beta2 = b2;
    a.eps = eps;
    a.weight_decay = wd;
    a.bias_correction1 = bc1;
    a.bias_correction2_sqrt = bc2_sqrt;
    a.decoupled = decoupled_;
    a.amsgrad = amsgrad;
    kernels::backend(p.device().type)
        .adam_step(p.dtype(), p.data_ptr(), g_c.data_ptr(), m0.data_ptr(), v0.data_ptr(),
                   amsgrad ? st["max_exp_avg_sq"].data_ptr() : nullptr, p.numel(), a);
    return;
  }
  Tensor grad = grad_in;
  if (decoupled_) {
    p.mul_(1.0 - lr * wd);
  } else if (wd != 0) {
    grad = add(grad, p, wd);
  }
  Tensor& m = st["exp_avg"];
  Tensor& v = st["exp_avg_sq"];
  m.mul_(b1).add_(grad, 1.0 - b1);
  v.mul_(b2).add_(grad * grad, 1.0 - b2);
  Tensor denom;
  if (amsgrad) {
    Tensor& vmax = st["max_exp_avg_sq"];
    vmax.copy_(maximum(vmax, v));
    denom = sqrt(vmax) / bc2_sqrt + eps;
  } else {
    denom = sqrt(v) / bc2_sqrt + eps;
  }
  p.add_(m / denom, -(lr / bc1));
}

}  // namespace galen::optim
