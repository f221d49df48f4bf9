// Activation modules: thin wrappers over the functional ops.
#include "galen/layers/activation.h"

#include "galen/core/ops.h"

namespace galen::nn {

Tensor ReLU::forward(const Tensor &x) { return relu(x); }
Tensor LeakyReLU::forward(const Tensor &x) { return leaky_relu(x, negative_slope); }
std::string LeakyReLU::extra_repr() const { return "negative_slope=" + py_float(negative_slope); }
Tensor ELU::forward(const Tensor &x) { return elu(x, alpha); }
std::string ELU::extra_repr() const { return "alpha=" + py_float(alpha); }
Tensor GELU::forward(const Tensor &x) { return gelu(x); }
Tensor Sigmoid::forward(const Tensor &x) { return sigmoid(x); }
Tensor Tanh::forward(const Tensor &x) { return tanh(x); }
Tensor Softmax::forward(const Tensor &x) { return softmax(x, dim); }
Tensor LogSoftmax::forward(const Tensor &x) { return log_softmax(x, dim); }

}  // namespace galen::nn
