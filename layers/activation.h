// Activation functions as modules (no parameters), printing as PyTorch's do.
#pragma once

#include "galen/layers/module.h"

namespace galen::nn {

class ReLU : public Module {
 public:
  std::string name() const override { return "ReLU"; }
  Tensor forward(const Tensor &x) override;
};

class LeakyReLU : public Module {
 public:
  explicit LeakyReLU(double negative_slope = 0.01) : negative_slope(negative_slope) {}
  std::string name() const override { return "LeakyReLU"; }
  Tensor forward(const Tensor &x) override;
  double negative_slope;

 protected:
  std::string extra_repr() const override;
};

class ELU : public Module {
 public:
  explicit ELU(double alpha = 1.0) : alpha(alpha) {}
  std::string name() const override { return "ELU"; }
  Tensor forward(const Tensor &x) override;
  double alpha;

 protected:
  std::string extra_repr() const override;
};

// Exact GELU, x * Phi(x) (PyTorch's approximate='none').
class GELU : public Module {
 public:
  std::string name() const override { return "GELU"; }
  Tensor forward(const Tensor &x) override;

 protected:
  std::string extra_repr() const override { return "approximate='none'"; }
};

class Sigmoid : public Module {
 public:
  std::string name() const override { return "Sigmoid"; }
  Tensor forward(const Tensor &x) override;
};

class Tanh : public Module {
 public:
  std::string name() const override { return "Tanh"; }
  Tensor forward(const Tensor &x) override;
};

class Softmax : public Module {
 public:
  explicit Softmax(int64_t dim) : dim(dim) {}
  std::string name() const override { return "Softmax"; }
  Tensor forward(const Tensor &x) override;
  int64_t dim;

 protected:
  std::string extra_repr() const override { return "dim=" + std::to_string(dim); }
};

class LogSoftmax : public Module {
 public:
  explicit LogSoftmax(int64_t dim) : dim(dim) {}
  std::string name() const override { return "LogSoftmax"; }
  Tensor forward(const Tensor &x) override;
  int64_t dim;

 protected:
  std::string extra_repr() const override { return "dim=" + std::to_string(dim); }
};

}  // namespace galen::nn
