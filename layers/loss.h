// Loss functions as modules (torch.nn.MSELoss, CrossEntropyLoss, ...): thin
// wrappers over the functional losses in core/ops.h with a two-argument
// forward(input, target). Class weights / pos_weight are registered buffers, so
// they move with to(device) and appear in state_dict as in PyTorch.
#pragma once

#include "galen/core/ops.h"
#include "galen/layers/module.h"

namespace galen::nn {

using galen::Reduction;

// Base of the losses: forward(input, target) and operator()(input, target).
class Loss : public Module {
 public:
  explicit Loss(Reduction reduction = Reduction::Mean) : reduction(reduction) {}
  using Module::forward;
  using Module::operator();
  virtual Tensor forward(const Tensor& input, const Tensor& target) = 0;
  Tensor operator()(const Tensor& input, const Tensor& target) { return forward(input, target); }
  Reduction reduction;

 protected:
  std::string extra_repr() const override { return ""; }
  // The registered buffer `name`, or an undefined tensor when there is none.
  Tensor optional_buffer(const std::string& name) const;
};

class MSELoss : public Loss {
 public:
  explicit MSELoss(Reduction reduction = Reduction::Mean) : Loss(reduction) {}
  std::string name() const override { return "MSELoss"; }
  Tensor forward(const Tensor& input, const Tensor& target) override;
};

class L1Loss : public Loss {
 public:
  explicit L1Loss(Reduction reduction = Reduction::Mean) : Loss(reduction) {}
  std::string name() const override { return "L1Loss"; }
  Tensor forward(const Tensor& input, const Tensor& target) override;
};

class SmoothL1Loss : public Loss {
 public:
  explicit SmoothL1Loss(Reduction reduction = Reduction::Mean, double beta = 1.0) : Loss(reduction), beta(beta) {}
  std::string name() const override { return "SmoothL1Loss"; }
  Tensor forward(const Tensor& input, const Tensor& target) override;
  double beta;
};

class HuberLoss : public Loss {
 public:
  explicit HuberLoss(Reduction reduction = Reduction::Mean, double delta = 1.0) : Loss(reduction), delta(delta) {}
  std::string name() const override { return "HuberLoss"; }
  Tensor forward(const Tensor& input, const Tensor& target) override;
  double delta;
};

// input: log-probabilities (N, C, d...); target: class indices.
class NLLLoss : public Loss {
 public:
  explicit NLLLoss(Tensor weight = Tensor(), int64_t ignore_index = -100, Reduction reduction = Reduction::Mean);
  std::string name() const override { return "NLLLoss"; }
  Tensor forward(const Tensor& input, const Tensor& target) override;
  int64_t ignore_index;
};

// input: logits (N, C, d...); target: class indices or class probabilities.
class CrossEntropyLoss : public Loss {
 public:
  explicit CrossEntropyLoss(Tensor weight = Tensor(), int64_t ignore_index = -100,
                            Reduction reduction = Reduction::Mean, double label_smoothing = 0.0);
  std::string name() const override { return "CrossEntropyLoss"; }
  Tensor forward(const Tensor& input, const Tensor& target) override;
  int64_t ignore_index;
  double label_smoothing;
};

// input: probabilities in [0, 1].
class BCELoss : public Loss {
 public:
  explicit BCELoss(Tensor weight = Tensor(), Reduction reduction = Reduction::Mean);
  std::string name() const override { return "BCELoss"; }
  Tensor forward(const Tensor& input, const Tensor& target) override;
};

// input: logits. pos_weight (C) weights the positive term per class (CheXNet's
// class-balanced BCE); weight rescales each element.
class BCEWithLogitsLoss : public Loss {
 public:
  explicit BCEWithLogitsLoss(Tensor weight = Tensor(), Reduction reduction = Reduction::Mean,
                             Tensor pos_weight = Tensor());
  std::string name() const override { return "BCEWithLogitsLoss"; }
  Tensor forward(const Tensor& input, const Tensor& target) override;
};

}  // namespace galen::nn
