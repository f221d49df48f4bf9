// LayerNorm (BatchNorm lives in batchnorm.h).
#pragma once

#include "galen/layers/module.h"

namespace galen::nn {

// Normalises over the trailing normalized_shape dims; with elementwise_affine, learns weight (ones) and bias (zeros)
// of shape normalized_shape.
class LayerNorm : public Module {
 public:
  explicit LayerNorm(Shape normalized_shape, double eps = 1e-5, bool elementwise_affine = true);
  explicit LayerNorm(int64_t normalized_size, double eps = 1e-5, bool elementwise_affine = true)
      : LayerNorm(Shape{normalized_size}, eps, elementwise_affine) {}
  std::string name() const override { return "LayerNorm"; }
  Tensor forward(const Tensor &x) override;
  void reset_parameters();

  Shape normalized_shape;
  double eps;
  bool elementwise_affine;
  Tensor weight, bias;  // undefined without elementwise_affine

 protected:
  std::string extra_repr() const override;
};

}  // namespace galen::nn
