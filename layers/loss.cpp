// Loss modules: forward to the functional losses (core/ops_loss.cpp).
#include "galen/layers/loss.h"

namespace galen::nn {

Tensor Loss::optional_buffer(const std::string& n) const {
  for (const auto& [k, t] : named_buffers(false))
    if (k == n) return t;
  return Tensor();
}

Tensor MSELoss::forward(const Tensor& input, const Tensor& target) { return mse_loss(input, target, reduction); }

Tensor L1Loss::forward(const Tensor& input, const Tensor& target) { return l1_loss(input, target, reduction); }

Tensor SmoothL1Loss::forward(const Tensor& input, const Tensor& target) {
  return smooth_l1_loss(input, target, reduction, beta);
}

Tensor HuberLoss::forward(const Tensor& input, const Tensor& target) {
  return huber_loss(input, target, reduction, delta);
}

NLLLoss::NLLLoss(Tensor weight, int64_t ignore_index, Reduction reduction)
    : Loss(reduction), ignore_index(ignore_index) {
  if (weight.defined()) register_buffer("weight", std::move(weight));
}

Tensor NLLLoss::forward(const Tensor& input, const Tensor& target) {
  return nll_loss(input, target, optional_buffer("weight"), ignore_index, reduction);
}

CrossEntropyLoss::CrossEntropyLoss(Tensor weight, int64_t ignore_index, Reduction reduction, double label_smoothing)
    : Loss(reduction), ignore_index(ignore_index), label_smoothing(label_smoothing) {
  if (weight.defined()) register_buffer("weight", std::move(weight));
}

Tensor CrossEntropyLoss::forward(const Tensor& input, const Tensor& target) {
  return cross_entropy(input, target, optional_buffer("weight"), ignore_index, label_smoothing, reduction);
}

BCELoss::BCELoss(Tensor weight, Reduction reduction) : Loss(reduction) {
  if (weight.defined()) register_buffer("weight", std::move(weight));
}

Tensor BCELoss::forward(const Tensor& input, const Tensor& target) {
  return binary_cross_entropy(input, target, optional_buffer("weight"), reduction);
}

BCEWithLogitsLoss::BCEWithLogitsLoss(Tensor weight, Reduction reduction, Tensor pos_weight) : Loss(reduction) {
  if (weight.defined()) register_buffer("weight", std::move(weight));
  if (pos_weight.defined()) register_buffer("pos_weight", std::move(pos_weight));
}

Tensor BCEWithLogitsLoss::forward(const Tensor& input, const Tensor& target) {
  return binary_cross_entropy_with_logits(input, target, optional_buffer("weight"), optional_buffer("pos_weight"),
                                          reduction);
}

}  // namespace galen::nn
