// Linear (y = x Wᵀ + b), Identity and Flatten: the layers of an MLP apart from its activations.
#pragma once

#include "galen/layers/module.h"

namespace galen::nn {

// x (..., in_features) -> (..., out_features). weight (out_features, in_features), bias (out_features). Default init
// as PyTorch: kaiming_uniform(a = sqrt(5)), i.e. U(-1/sqrt(in), 1/sqrt(in)) for weight and bias.
class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true);
  std::string name() const override { return "Linear"; }
  Tensor forward(const Tensor &x) override;
  void reset_parameters();

  int64_t in_features, out_features;
  Tensor weight;
  Tensor bias;  // undefined when built with bias = false

 protected:
  std::string extra_repr() const override;
};

// Returns its input.
class Identity : public Module {
 public:
  std::string name() const override { return "Identity"; }
  Tensor forward(const Tensor &x) override { return x; }
};

// Flattens dims start_dim..end_dim into one (default: all but the batch dim).
class Flatten : public Module {
 public:
  explicit Flatten(int64_t start_dim = 1, int64_t end_dim = -1) : start_dim(start_dim), end_dim(end_dim) {}
  std::string name() const override { return "Flatten"; }
  Tensor forward(const Tensor &x) override { return x.flatten(start_dim, end_dim); }

  int64_t start_dim, end_dim;

 protected:
  std::string extra_repr() const override;
};

}  // namespace galen::nn
