// Linear, Identity, Flatten.
#include "galen/layers/linear.h"

#include <cmath>

#include "galen/core/ops.h"
#include "galen/layers/init.h"

namespace galen::nn {

Linear::Linear(int64_t in, int64_t out, bool with_bias) : in_features(in), out_features(out) {
  GALEN_CHECK(in >= 0 && out >= 0, "Linear: in_features and out_features must be >= 0, got ", in, " and ", out);
  weight = register_parameter("weight", empty({out, in}));
  if (with_bias) bias = register_parameter("bias", empty({out}));
  reset_parameters();
}

void Linear::reset_parameters() {
  // kaiming_uniform with a = sqrt(5): gain sqrt(1/3), bound gain*sqrt(3/fan_in) = 1/sqrt(fan_in).
  if (in_features > 0) init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    const double bound = in_features > 0 ? 1.0 / std::sqrt(static_cast<double>(in_features)) : 0.0;
    init::uniform_(bias, -bound, bound);
  }
}

Tensor Linear::forward(const Tensor &x) {
  GALEN_CHECK(x.dim() >= 1 && x.size(-1) == in_features, "Linear(", in_features, ", ", out_features,
              "): input's last dim must be ", in_features, ", got shape ", x.sizes());
  return linear(x, weight, bias);
}

std::string Linear::extra_repr() const {
  return "in_features=" + std::to_string(in_features) + ", out_features=" + std::to_string(out_features) +
         ", bias=" + (bias.defined() ? "True" : "False");
}

std::string Flatten::extra_repr() const {
  return "start_dim=" + std::to_string(start_dim) + ", end_dim=" + std::to_string(end_dim);
}

}  // namespace galen::nn
