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
      "narrow", "slice", "select", "contiguous", "clone", "to_dtype",
      // convolution, pooling, normalization (core/ops_nn.cpp; tests in
      // tests/kernels/test_kernels_nn.cpp and tests/layers/test_conv_pool_bn.cpp)
      "conv2d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "batch_norm",
      // losses (core/ops_loss.cpp)
      "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "nll_loss", "cross_entropy",
      "binary_cross_entropy", "binary_cross_entropy_with_logits",
      // neural-network building blocks, basic (core/ops_nn_basic.cpp; tests in tests/layers/)
      "leaky_relu", "elu", "dropout", "embedding", "layer_norm",
      // attention (layers/attention.cpp; tests in tests/layers/test_attention.cpp)
      "scaled_dot_product_attention",
      // gradient checkpointing (core/checkpoint.cpp; tests in tests/core/test_grad_checkpoint.cpp)
      "checkpoint"};
  return ops;
}

}  // namespace galen
