// LayerNorm module over galen::layer_norm.
#include "galen/layers/normalization.h"

#include "galen/core/ops.h"
#include "galen/layers/init.h"

namespace galen::nn {

LayerNorm::LayerNorm(Shape shape, double eps, bool affine)
    : normalized_shape(std::move(shape)), eps(eps), elementwise_affine(affine) {
  GALEN_CHECK(!normalized_shape.empty(), "LayerNorm: normalized_shape must not be empty");
  if (affine) {
    weight = register_parameter("weight", empty(normalized_shape));
    bias = register_parameter("bias", empty(normalized_shape));
  }
  reset_parameters();
}

void LayerNorm::reset_parameters() {
  if (!elementwise_affine) return;
  init::ones_(weight);
  init::zeros_(bias);
}

Tensor LayerNorm::forward(const Tensor &x) { return layer_norm(x, normalized_shape, weight, bias, eps); }

std::string LayerNorm::extra_repr() const {
  // A Python tuple: "(10,)" or "(3, 4)".
  std::string t = "(";
  for (size_t i = 0; i < normalized_shape.size(); ++i) t += (i ? ", " : "") + std::to_string(normalized_shape[i]);
  t += normalized_shape.size() == 1 ? ",)" : ")";
  return t + ", eps=" + py_float(eps) + ", elementwise_affine=" + (elementwise_affine ? "True" : "False");
}

}  // namespace galen::nn
