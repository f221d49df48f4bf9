// The list of differentiable ops. tests/core/test_gradcheck.cpp and
// tests/core/test_parity.cpp each fail if a name here has no case, so adding an
// op without tests breaks the build's tests rather than silently shrinking coverage.
#include "galen/core/ops.h"

namespace galen {

const std::vector<std::string>& differentiable_ops() {
  static const std::vector<std::string> ops = {
      // unary
      "neg", "abs", "exp", "log", "sqrt", "rsqrt", "pow_scalar", "sigmoid", "tanh", "relu", "gelu",
      "square",
      // binary (broadcasting)
      "add", "sub", "mul", "div", "pow", "maximum", "minimum", "where", "clamp", "masked_fill",
      // reductions
      "sum", "mean", "prod", "amax", "amin", "max_dim", "min_dim", "max_all", "min_all", "var",
      "std", "logsumexp", "norm",
      // linear algebra
      "matmul", "mm", "bmm", "linear",
      // shape / indexing
      "cat", "stack", "split", "chunk", "index_select", "gather", "scatter_add", "index_add",
      "softmax", "log_softmax",
      // views and copies
      "view", "reshape", "permute", "transpose", "squeeze", "unsqueeze", "flatten", "expand",
      "narrow", "slice", "select", "contiguous", "clone", "to_dtype"};
  return ops;
}

}  // namespace galen
