// Basic neural-network building blocks: leaky_relu, elu, dropout, embedding, layer_norm. Activations run their
// forward without recording and record one node each (so a graph shows "leaky_relu", not where/mul); embedding and
// layer_norm are compositions of existing ops (see DESIGN.md: a fused kernel only when a benchmark says it pays).
#include <cmath>

#include "galen/core/autograd.h"
#include "galen/core/internal.h"
#include "galen/core/ops.h"

namespace galen {

using autograd::record;

namespace {
using Saved = std::vector<Tensor>;
using Grads = std::vector<Tensor>;

void check_floating(const char *op, const Tensor &x) {
  detail::check_defined(op, x);
  GALEN_CHECK(is_floating(x.dtype()), op, ": input must be a floating tensor, got ", dtype_name(x.dtype()));
}
}  // namespace

// x (any shape): x if x > 0 else slope * x.
Tensor leaky_relu(const Tensor &x, double negative_slope) {
  check_floating("leaky_relu", x);
  Tensor out;
  {
    NoGradGuard ng;
    out = where(gt(x, 0.0), x, mul(x, negative_slope));
  }
  return record("leaky_relu", out, {x}, {x}, [negative_slope](const Tensor &g, const Saved &s) {
    // d/dx: 1 where x > 0, slope elsewhere (PyTorch's choice at 0).
    return Grads{mul(g, where(gt(s[0], 0.0), ones_like(s[0]), negative_slope))};
  });
}

// x (any shape): x if x > 0 else alpha * (exp(x) - 1).
Tensor elu(const Tensor &x, double alpha) {
  check_floating("elu", x);
  Tensor out;
  {
    NoGradGuard ng;
    out = where(gt(x, 0.0), x, mul(sub(exp(x), 1.0), alpha));
  }
  return record("elu", out, {x}, {x}, [alpha](const Tensor &g, const Saved &s) {
    // d/dx: 1 where x > 0, alpha * exp(x) elsewhere.
    return Grads{mul(g, where(gt(s[0], 0.0), ones_like(s[0]), mul(exp(s[0]), alpha)))};
  });
}

// Inverted dropout: keeps each element with probability 1-p and scales kept elements by 1/(1-p), so eval mode is the
// identity. The mask comes from galen::rand (Philox), so manual_seed makes it reproducible on any device.
Tensor dropout(const Tensor &x, double p, bool training) {
  check_floating("dropout", x);
  GALEN_CHECK(p >= 0.0 && p <= 1.0, "dropout: probability must be in [0, 1], got ", p);
  if (!training || p == 0.0) return x;
  Tensor mask;  // 0 or 1/(1-p), in x's dtype
  if (p == 1.0) {
    mask = zeros_like(x);
  } else {
    NoGradGuard ng;
    Tensor u = rand(x.sizes(), TensorOptions(x.dtype(), x.device()));
    mask = where(ge(u, p), full({}, 1.0 / (1.0 - p), TensorOptions(x.dtype(), x.device())), 0.0);
  }
  Tensor out;
  {
    NoGradGuard ng;
    out = mul(x, mask);
  }
  return record("dropout", out, {x}, {mask}, [](const Tensor &g, const Saved &s) { return Grads{mul(g, s[0])}; });
}

// weight (num_embeddings, dim), indices (any shape, i64/i32) -> (*indices.shape, dim). The gradient w.r.t. weight
// sums rows selected more than once (index_select's backward is an index_add).
Tensor embedding(const Tensor &weight, const Tensor &indices) {
  detail::check_defined("embedding", weight, "weight");
  GALEN_CHECK(weight.dim() == 2,
              "embedding: weight must be 2-D (num_embeddings, embedding_dim), "
              "got shape ",
              weight.sizes());
  detail::check_same_device("embedding", {&weight, &indices});
  Tensor idx = detail::checked_index("embedding", indices, weight.size(0), "indices");
  Shape out_shape = indices.sizes();
  out_shape.push_back(weight.size(1));
  return index_select(weight, 0, idx.reshape({-1})).reshape(out_shape);
}

// Normalises over the trailing dims named by normalized_shape (biased variance, as PyTorch), then scales by weight
// and shifts by bias (each of shape normalized_shape; either may be undefined).
Tensor layer_norm(const Tensor &x, const Shape &normalized_shape, const Tensor &weight, const Tensor &bias,
                  double eps) {
  check_floating("layer_norm", x);
  const int64_t k = static_cast<int64_t>(normalized_shape.size());
  GALEN_CHECK(k >= 1, "layer_norm: normalized_shape must not be empty");
  bool ok = x.dim() >= k;
  for (int64_t i = 0; ok && i < k; ++i) ok = x.size(x.dim() - k + i) == normalized_shape[static_cast<size_t>(i)];
  GALEN_CHECK(ok, "layer_norm: input shape ", x.sizes(), " does not end with normalized_shape ", normalized_shape);
  if (weight.defined())
    GALEN_CHECK(weight.sizes() == normalized_shape, "layer_norm: weight shape ", weight.sizes(),
                " != normalized_shape ", normalized_shape);
  if (bias.defined())
    GALEN_CHECK(bias.sizes() == normalized_shape, "layer_norm: bias shape ", bias.sizes(), " != normalized_shape ",
                normalized_shape);
  std::vector<int64_t> dims;
  for (int64_t i = x.dim() - k; i < x.dim(); ++i) dims.push_back(i);
  Tensor mu = mean(x, dims, true);
  Tensor centered = sub(x, mu);
  Tensor v = mean(square(centered), dims, true);
  Tensor y = mul(centered, rsqrt(add(v, eps)));
  if (weight.defined()) y = mul(y, weight);
  if (bias.defined()) y = add(y, bias);
  return y;
}

}  // namespace galen
