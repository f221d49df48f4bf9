// Loss functions as compositions of public ops (autograd follows from them).
// Each matches PyTorch 1.13's formula, including the weighted-mean denominator
// of nll_loss / cross_entropy and label smoothing with class weights.
#include <cmath>
#include <string>

#include "galen/core/autograd.h"
#include "galen/core/internal.h"
#include "galen/core/ops.h"

namespace galen {

namespace {

Tensor reduce(const Tensor& loss, Reduction r) {
  switch (r) {
    case Reduction::None: return loss;
    case Reduction::Sum: return sum(loss);
    case Reduction::Mean: return mean(loss);
  }
  GALEN_FAIL("loss: unknown reduction");
}

void check_pair(const char* op, const Tensor& input, const Tensor& target) {
  detail::check_defined(op, input);
  detail::check_defined(op, target, "target");
  detail::check_same_device(op, {&input, &target});
  GALEN_CHECK(is_floating(input.dtype()), op, ": input must be floating, got ", dtype_name(input.dtype()));
  broadcast_shapes(input.sizes(), target.sizes(), op);
}

// True when `s` broadcasts to exactly `to`.
bool broadcasts_to(const Shape& s, const Shape& to) {
  if (s.size() > to.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const int64_t a = s[s.size() - 1 - i], b = to[to.size() - 1 - i];
    if (a != b && a != 1) return false;
  }
  return true;
}

// Shape (1, C, 1, ...) with `ndim` dims, for broadcasting a class weight over dim 1.
Shape class_shape(int64_t c, int64_t ndim) {
  Shape s(static_cast<size_t>(ndim), 1);
  s[1] = c;
  return s;
}

void check_weight(const char* op, const Tensor& weight, int64_t c, const Tensor& input) {
  if (!weight.defined()) return;
  detail::check_same_device(op, {&input, &weight});
  GALEN_CHECK(weight.dim() == 1 && weight.size(0) == c, op, ": weight must be 1-D with one entry per class (",
              c, "), got shape ", weight.sizes());
  GALEN_CHECK(is_floating(weight.dtype()), op, ": weight must be floating, got ", dtype_name(weight.dtype()));
}

// Index-target checks shared by nll_loss and cross_entropy: input (N, C, d...)
// and target (N, d...) of an integer dtype.
void check_index_target(const char* op, const Tensor& input, const Tensor& target) {
  GALEN_CHECK(target.dtype() == DType::i64 || target.dtype() == DType::i32, op,
              ": class-index target must be i64 (or i32), got ", dtype_name(target.dtype()));
  Shape expect = input.sizes();
  expect.erase(expect.begin() + 1);
  GALEN_CHECK(target.sizes() == expect, op, ": input of shape ", input.sizes(),
              " needs a class-index target of shape ", expect, ", got ", target.sizes());
}

struct NllParts {
  Tensor loss;    // per element, (N, d...): -w[t] * logp[t], 0 where ignored
  Tensor weight;  // per element, (N, d...): w[t] (1 without weights), 0 where ignored
  Tensor valid;   // bool (N, d...)
};

// logp (N, C, d...) batched, target (N, d...) checked.
NllParts nll_parts(const Tensor& logp, const Tensor& target_in, const Tensor& weight, int64_t ignore_index) {
  Tensor target = target_in.to(DType::i64);
  NllParts p;
  p.valid = ne(target, static_cast<double>(ignore_index));
  Tensor safe = where(p.valid, target, 0.0);
  Tensor picked = gather(logp, 1, safe.unsqueeze(1)).squeeze(1);
  Tensor w;
  if (weight.defined()) {
    Tensor idx = safe.reshape({-1});
    // Out-of-range classes are reported by index_select / gather above.
    w = index_select(weight.to(logp.dtype()), 0, idx).reshape(safe.sizes());
    w = where(p.valid, w, 0.0);
  } else {
    w = p.valid.to(logp.dtype());
  }
  p.weight = w;
  p.loss = neg(picked * w);
  return p;
}

Tensor nll_reduce(const NllParts& p, Reduction r) {
  switch (r) {
    case Reduction::None: return p.loss;
    case Reduction::Sum: return sum(p.loss);
    case Reduction::Mean: return div(sum(p.loss), sum(p.weight));
  }
  GALEN_FAIL("loss: unknown reduction");
}

}  // namespace

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  check_pair("mse_loss", input, target);
  return reduce(square(input - target), reduction);
}

Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  check_pair("l1_loss", input, target);
  return reduce(abs(input - target), reduction);
}

Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, Reduction reduction, double beta) {
  check_pair("smooth_l1_loss", input, target);
  GALEN_CHECK(beta >= 0, "smooth_l1_loss: beta must be >= 0, got ", beta);
  if (beta == 0.0) return l1_loss(input, target, reduction);
  Tensor d = input - target;
  Tensor a = abs(d);
  return reduce(where(lt(a, beta), square(d) * (0.5 / beta), a - 0.5 * beta), reduction);
}

Tensor huber_loss(const Tensor& input, const Tensor& target, Reduction reduction, double delta) {
  check_pair("huber_loss", input, target);
  GALEN_CHECK(delta > 0, "huber_loss: delta must be > 0, got ", delta);
  Tensor d = input - target;
  Tensor a = abs(d);
  return reduce(where(lt(a, delta), square(d) * 0.5, (a - 0.5 * delta) * delta), reduction);
}

Tensor nll_loss(const Tensor& log_probs, const Tensor& target, const Tensor& weight, int64_t ignore_index,
                Reduction reduction) {
  detail::check_defined("nll_loss", log_probs);
  detail::check_defined("nll_loss", target, "target");
  detail::check_same_device("nll_loss", {&log_probs, &target});
  GALEN_CHECK(log_probs.dim() >= 1, "nll_loss: input must have a class dimension, got a 0-d tensor");
  GALEN_CHECK(is_floating(log_probs.dtype()), "nll_loss: input must be floating, got ",
              dtype_name(log_probs.dtype()));
  if (log_probs.dim() == 1) {  // unbatched (C) with a 0-d target
    GALEN_CHECK(target.dim() == 0, "nll_loss: input of shape ", log_probs.sizes(),
                " needs a 0-d target, got ", target.sizes());
    Tensor out = nll_loss(log_probs.unsqueeze(0), target.unsqueeze(0), weight, ignore_index, reduction);
    return reduction == Reduction::None ? out.squeeze(0) : out;
  }
  check_weight("nll_loss", weight, log_probs.size(1), log_probs);
  check_index_target("nll_loss", log_probs, target);
  return nll_reduce(nll_parts(log_probs, target, weight, ignore_index), reduction);
}

Tensor cross_entropy(const Tensor& logits, const Tensor& target, const Tensor& weight, int64_t ignore_index,
                     double label_smoothing, Reduction reduction) {
  const char* op = "cross_entropy";
  detail::check_defined(op, logits);
  detail::check_defined(op, target, "target");
  detail::check_same_device(op, {&logits, &target});
  GALEN_CHECK(logits.dim() >= 1, "cross_entropy: input must have a class dimension, got a 0-d tensor");
  GALEN_CHECK(is_floating(logits.dtype()), "cross_entropy: input must be floating, got ",
              dtype_name(logits.dtype()));
  GALEN_CHECK(label_smoothing >= 0.0 && label_smoothing <= 1.0,
              "cross_entropy: label_smoothing must be in [0, 1], got ", label_smoothing);
  const bool prob_target = is_floating(target.dtype());
  if (logits.dim() == 1) {  // unbatched (C): target 0-d indices or (C) probabilities
    GALEN_CHECK(prob_target ? target.sizes() == logits.sizes() : target.dim() == 0,
                "cross_entropy: input of shape ", logits.sizes(), " needs a 0-d class index or (C) probabilities, got ",
                target.sizes());
    Tensor out = cross_entropy(logits.unsqueeze(0), target.unsqueeze(0), weight, ignore_index, label_smoothing,
                               reduction);
    return reduction == Reduction::None ? out.squeeze(0) : out;
  }
  const int64_t c = logits.size(1);
  check_weight(op, weight, c, logits);
  Tensor logp = log_softmax(logits, 1);
  Tensor wview = weight.defined() ? weight.to(logp.dtype()).reshape(class_shape(c, logits.dim())) : Tensor();

  if (prob_target) {
    GALEN_CHECK(target.sizes() == logits.sizes(), "cross_entropy: probability targets must have the input's shape ",
                logits.sizes(), ", got ", target.sizes());
    Tensor t = label_smoothing > 0 ? target * (1.0 - label_smoothing) + label_smoothing / static_cast<double>(c)
                                   : target;
    Tensor prod = logp * t;
    if (wview.defined()) prod = prod * wview;
    switch (reduction) {
      case Reduction::None: return neg(sum(prod, {1}));
      case Reduction::Sum: return neg(sum(prod));
      case Reduction::Mean:
        return neg(sum(prod)) / static_cast<double>(logits.numel() / c);
    }
    GALEN_FAIL("cross_entropy: unknown reduction");
  }

  check_index_target(op, logits, target);
  NllParts parts = nll_parts(logp, target, weight, ignore_index);
  Tensor nll = nll_reduce(parts, reduction);
  if (label_smoothing <= 0) return nll;
  // Smoothing term: -sum_c w_c logp_c per element, zero where ignored, reduced
  // like the nll term (Mean: divided by the summed weights of valid targets).
  Tensor smooth = wview.defined() ? neg(sum(logp * wview, {1})) : neg(sum(logp, {1}));
  smooth = where(parts.valid, smooth, 0.0);
  Tensor ret;
  switch (reduction) {
    case Reduction::None: ret = smooth; break;
    case Reduction::Sum: ret = sum(smooth); break;
    case Reduction::Mean: ret = div(sum(smooth), sum(parts.weight)); break;
  }
  return nll * (1.0 - label_smoothing) + ret * (label_smoothing / static_cast<double>(c));
}

Tensor binary_cross_entropy(const Tensor& p, const Tensor& target, const Tensor& weight, Reduction reduction) {
  const char* op = "binary_cross_entropy";
  check_pair(op, p, target);
  GALEN_CHECK(p.sizes() == target.sizes(), op, ": target shape ", target.sizes(), " must equal the input shape ",
              p.sizes());
  if (p.numel() > 0) {
    NoGradGuard ng;
    const double lo = amin(p.detach()).item(), hi = amax(p.detach()).item();
    GALEN_CHECK(lo >= 0.0 && hi <= 1.0, op, ": input values must be probabilities in [0, 1], got range [", lo,
                ", ", hi, "]");
  }
  // Forward as PyTorch (log terms clamped at -100), backward with PyTorch's
  // formula d/dp = w (p - y) / max(p (1 - p), eps): the clamps must not zero
  // the gradient at p = 0 or 1, so the node is recorded by hand. PyTorch's eps
  // is 1e-12 rounded to float (measured: its gradients at p = 0 and 1 carry
  // that factor), so ours is too.
  constexpr double kBceEps = static_cast<double>(1e-12f);
  Tensor w = weight;
  if (w.defined()) {
    detail::check_same_device(op, {&p, &w});
    GALEN_CHECK(broadcasts_to(w.sizes(), p.sizes()), op, ": weight of shape ", w.sizes(),
                " does not broadcast to the input shape ", p.sizes());
  }
  Tensor loss, log_p, log_1mp;
  {
    NoGradGuard ng;
    log_p = clamp(log(p.detach()), -100.0, std::nullopt);
    log_1mp = clamp(log(1.0 - p.detach()), -100.0, std::nullopt);
    loss = neg(target.detach() * log_p + (1.0 - target.detach()) * log_1mp);
    if (w.defined()) loss = loss * w.detach();
  }
  std::vector<Tensor> inputs = {p, target};
  if (w.defined()) inputs.push_back(w);
  std::vector<Tensor> saved = {p.detach(), target.detach(), log_p, log_1mp};
  if (w.defined()) saved.push_back(w.detach());
  const bool has_w = w.defined();
  loss = autograd::record("binary_cross_entropy", loss, inputs, saved,
                          [has_w](const Tensor& g, const std::vector<Tensor>& s) {
                            const Tensor &pp = s[0], &y = s[1], &lp = s[2], &l1p = s[3];
                            Tensor gw = has_w ? g * s[4] : g;
                            Tensor prod = pp * (1.0 - pp);
                            Tensor denom = maximum(prod, full_like(prod, kBceEps));
                            std::vector<Tensor> grads = {gw * (pp - y) / denom, gw * (l1p - lp)};
                            if (has_w) grads.push_back(g * neg(y * lp + (1.0 - y) * l1p));
                            return grads;
                          });
  return reduce(loss, reduction);
}

Tensor binary_cross_entropy_with_logits(const Tensor& x, const Tensor& target, const Tensor& weight,
                                        const Tensor& pos_weight, Reduction reduction) {
  const char* op = "binary_cross_entropy_with_logits";
  check_pair(op, x, target);
  GALEN_CHECK(x.sizes() == target.sizes(), op, ": target shape ", target.sizes(), " must equal the input shape ",
              x.sizes());
  // log(1 + exp(-x)) = m + log(exp(-m) + exp(-x - m)) with m = max(-x, 0): no overflow.
  Tensor m = clamp(neg(x), 0.0, std::nullopt);
  Tensor softplus_neg = m + log(exp(neg(m)) + exp(neg(x) - m));
  Tensor loss;
  if (pos_weight.defined()) {
    detail::check_same_device(op, {&x, &pos_weight});
    GALEN_CHECK(broadcasts_to(pos_weight.sizes(), x.sizes()), op, ": pos_weight of shape ",
                pos_weight.sizes(), " does not broadcast to the input shape ", x.sizes());
    Tensor log_weight = (pos_weight - 1.0) * target + 1.0;
    loss = (1.0 - target) * x + log_weight * softplus_neg;
  } else {
    loss = (1.0 - target) * x + softplus_neg;
  }
  if (weight.defined()) {
    detail::check_same_device(op, {&x, &weight});
    GALEN_CHECK(broadcasts_to(weight.sizes(), x.sizes()), op, ": weight of shape ",
                weight.sizes(), " does not broadcast to the input shape ", x.sizes());
    loss = loss * weight;
  }
  return reduce(loss, reduction);
}

}  // namespace galen
