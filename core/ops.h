// The public functional API. Each op checks its arguments (throwing
// galen::Error naming the op, shapes, dtypes and devices), picks the kernel for
// (op, device, dtype) through kernels::backend(), and records its backward when
// an input requires grad. Semantics follow PyTorch unless noted.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "galen/core/tensor.h"

namespace galen {

// ---- unary -------------------------------------------------------------------
Tensor neg(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor rsqrt(const Tensor& x);
Tensor pow(const Tensor& x, double exponent);
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor gelu(const Tensor& x);  // exact: x * Phi(x)
Tensor sign(const Tensor& x);  // not differentiable (zero gradient)
Tensor square(const Tensor& x);

// ---- binary, NumPy broadcasting, dtype promotion -----------------------------
Tensor add(const Tensor& a, const Tensor& b, double alpha = 1.0);  // a + alpha*b
Tensor sub(const Tensor& a, const Tensor& b, double alpha = 1.0);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b);  // gradient split evenly on ties
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
// Scalar forms: the scalar takes the tensor's dtype (f32 if the tensor is integral
// and the scalar is not a whole number).
Tensor add(const Tensor& a, double b);
Tensor sub(const Tensor& a, double b);
Tensor mul(const Tensor& a, double b);
Tensor div(const Tensor& a, double b);
Tensor eq(const Tensor& a, double b);
Tensor ne(const Tensor& a, double b);
Tensor lt(const Tensor& a, double b);
Tensor le(const Tensor& a, double b);
Tensor gt(const Tensor& a, double b);
Tensor ge(const Tensor& a, double b);

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
Tensor where(const Tensor& cond, const Tensor& a, double b);
Tensor clamp(const Tensor& x, std::optional<double> lo, std::optional<double> hi);
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value);

// ---- reductions ----------------------------------------------------------------
// `dims` empty = all dims. Negative dims count from the end.
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor prod(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor amax(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor amin(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
// torch.max(x, dim): values and (i64) indices; gradient flows to the index.
std::pair<Tensor, Tensor> max(const Tensor& x, int64_t dim, bool keepdim = false);
std::pair<Tensor, Tensor> min(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor max(const Tensor& x);  // over all elements
Tensor min(const Tensor& x);
Tensor argmax(const Tensor& x, std::optional<int64_t> dim = std::nullopt, bool keepdim = false);
Tensor argmin(const Tensor& x, std::optional<int64_t> dim = std::nullopt, bool keepdim = false);
Tensor var(const Tensor& x, const std::vector<int64_t>& dims = {}, bool unbiased = true,
           bool keepdim = false);
Tensor std(const Tensor& x, const std::vector<int64_t>& dims = {}, bool unbiased = true,
           bool keepdim = false);
Tensor logsumexp(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
// p-norm over dims (p = 2 default; p = inf supported).
Tensor norm(const Tensor& x, double p = 2.0, const std::vector<int64_t>& dims = {},
            bool keepdim = false);

// ---- linear algebra ------------------------------------------------------------
// torch.matmul semantics: 1-D·1-D dot, 2-D·2-D, 1-D promoted and removed,
// batched with broadcast batch dims.
Tensor matmul(const Tensor& a, const Tensor& b);
Tensor mm(const Tensor& a, const Tensor& b);   // strictly 2-D
Tensor bmm(const Tensor& a, const Tensor& b);  // strictly 3-D, same batch
// x (..., in) · w (out, in)ᵀ + b (out)
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b = Tensor());

// ---- shape and indexing ---------------------------------------------------------
Tensor cat(const std::vector<Tensor>& xs, int64_t dim = 0);
Tensor stack(const std::vector<Tensor>& xs, int64_t dim = 0);
std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim = 0);
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim = 0);
std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim = 0);
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);
// Out-of-place torch.scatter_add: x with src added at index along dim.
Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src);
// Out-of-place torch.index_add: x with src's slices added at index along dim.
Tensor index_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src,
                 double alpha = 1.0);
Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);

// Differentiable view / copy ops also exist as Tensor members (view, reshape,
// permute, transpose, squeeze, unsqueeze, flatten, expand, narrow, slice,
// select, contiguous, clone, to(dtype)). These free functions forward there.
Tensor reshape(const Tensor& x, const Shape& shape);
Tensor permute(const Tensor& x, const std::vector<int64_t>& dims);
Tensor transpose(const Tensor& x, int64_t d0, int64_t d1);
// Sums `x` down to `shape` (the inverse of broadcasting it there).
Tensor sum_to(const Tensor& x, const Shape& shape);
// The broadcast shape of a and b, or an Error naming `op`.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op = "broadcast");

// ---- comparisons of whole tensors (no autograd) -----------------------------------
bool allclose(const Tensor& a, const Tensor& b, double rtol = 1e-5, double atol = 1e-8);
bool equal(const Tensor& a, const Tensor& b);  // same shape and values

// ---- operators -------------------------------------------------------------------
Tensor operator-(const Tensor& x);
Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(double a, const Tensor& b);

// ---- losses (core/ops_loss.cpp) ---------------------------------------------------------
// Compositions of the ops above (autograd follows), numerically stable, with
// PyTorch's semantics and argument order. `input`/`target` broadcast where
// PyTorch allows it; Reduction::Mean averages over elements (cross_entropy /
// nll_loss: weighted mean, see below).
enum class Reduction { None, Mean, Sum };

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);
Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);
// 0.5 d^2 / beta where |d| < beta, |d| - 0.5 beta elsewhere (beta = 0: l1_loss).
Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean,
                      double beta = 1.0);
// 0.5 d^2 where |d| < delta, delta (|d| - 0.5 delta) elsewhere.
Tensor huber_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean,
                  double delta = 1.0);
// log_probs (N, C, d1...) or (C); target: i64 class indices (N, d1...) or 0-d.
// weight (C) optional. Targets equal to ignore_index contribute nothing; Mean
// divides by the summed weight of the non-ignored targets (NaN when all are ignored).
Tensor nll_loss(const Tensor& log_probs, const Tensor& target, const Tensor& weight = Tensor(),
                int64_t ignore_index = -100, Reduction reduction = Reduction::Mean);
// logits (N, C, d1...) or (C). target: class indices as for nll_loss, or class
// probabilities (floating, same shape as logits; Mean then divides by the number
// of samples N*d1*..., as PyTorch does). label_smoothing in [0, 1] mixes the
// target with the uniform distribution (PyTorch's formula incl. weights).
Tensor cross_entropy(const Tensor& logits, const Tensor& target, const Tensor& weight = Tensor(),
                     int64_t ignore_index = -100, double label_smoothing = 0.0,
                     Reduction reduction = Reduction::Mean);
// p in [0, 1] (checked), target same shape; log terms clamped at -100 as PyTorch.
// weight broadcasts to p's shape.
Tensor binary_cross_entropy(const Tensor& p, const Tensor& target, const Tensor& weight = Tensor(),
                            Reduction reduction = Reduction::Mean);
// Sigmoid + BCE in the stable log-sum-exp form. pos_weight broadcasts along the
// last (class) dimension, weight to the input's shape.
Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& target,
                                        const Tensor& weight = Tensor(),
                                        const Tensor& pos_weight = Tensor(),
                                        Reduction reduction = Reduction::Mean);
// ---- end losses

// ---- convolution, pooling, normalization ------------------------------------------
// NCHW throughout; 3-D inputs (C,H,W) are treated as one image and give 3-D results.
// Int2: a 2-D parameter (kernel, stride, padding, dilation, output size); one
// integer means the same value for height and width, as in PyTorch.
struct Int2 {
  int64_t h = 0, w = 0;
  Int2(int v) : h(v), w(v) {}  // NOLINT: implicit, like PyTorch's int-or-tuple
  Int2(int64_t v) : h(v), w(v) {}  // NOLINT
  Int2(int64_t h_, int64_t w_) : h(h_), w(w_) {}
};
// conv2d's padding: explicit sizes, "valid" (= 0) or "same" (stride 1 only; when
// the total padding dilation*(kernel-1) is odd the extra row/column goes to the
// bottom/right, as in PyTorch).
struct Conv2dPadding {
  int64_t h = 0, w = 0;
  bool same = false;
  Conv2dPadding(int v) : h(v), w(v) {}  // NOLINT (int: a literal 0 must not look like a null string)
  Conv2dPadding(int64_t v) : h(v), w(v) {}  // NOLINT
  Conv2dPadding(int64_t h_, int64_t w_) : h(h_), w(w_) {}
  Conv2dPadding(Int2 p) : h(p.h), w(p.w) {}  // NOLINT
  Conv2dPadding(const char* mode);  // NOLINT: "same" or "valid"
  Conv2dPadding(const std::string& mode) : Conv2dPadding(mode.c_str()) {}  // NOLINT
};

// x (N, C, H, W) or (C, H, W), w (OC, C/groups, KH, KW), b (OC) or undefined
// -> (N, OC, OH, OW), OH = (H + 2*ph - dh*(KH-1) - 1) / sh + 1.
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b = Tensor(), Int2 stride = 1,
              Conv2dPadding padding = 0, Int2 dilation = 1, int64_t groups = 1);
// Max pooling over (N, C, H, W) or (C, H, W). stride 0 (the default) = the kernel;
// padding (implicit -inf) at most kernel/2; ceil_mode rounds the output size up
// but a last window must start inside the input or the left padding.
Tensor max_pool2d(const Tensor& x, Int2 kernel, Int2 stride = 0, Int2 padding = 0,
                  Int2 dilation = 1, bool ceil_mode = false);
// The same, also returning the (i64) flat index h*W + w of each maximum in its plane.
std::pair<Tensor, Tensor> max_pool2d_with_indices(const Tensor& x, Int2 kernel,
                                                  Int2 stride = 0,
                                                  Int2 padding = 0, Int2 dilation = 1,
                                                  bool ceil_mode = false);
// Average pooling (stride 0 = the kernel); count_include_pad counts the zero padding in the divisor
// (windows are still clipped to the padded input).
Tensor avg_pool2d(const Tensor& x, Int2 kernel, Int2 stride = 0, Int2 padding = 0,
                  bool ceil_mode = false, bool count_include_pad = true);
// PyTorch's adaptive bins: rows floor(i*H/oh) .. ceil((i+1)*H/oh), likewise columns.
Tensor adaptive_avg_pool2d(const Tensor& x, Int2 output_size);
// x (N, C), (N, C, L) or (N, C, H, W). training: normalise with the batch mean and
// biased variance and, when running_mean / running_var are defined, update them
// in place: running = (1 - momentum) * running + momentum * batch (unbiased var).
// Otherwise normalise with the running statistics. weight / bias may be undefined.
Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight, const Tensor& bias, bool training, double momentum = 0.1,
                  double eps = 1e-5);

// ---- op registry --------------------------------------------------------------------
// Every differentiable op the library defines, by name, so the test suite can
// check each has a gradcheck case and a PyTorch parity case.
const std::vector<std::string>& differentiable_ops();

// ---- neural-network building blocks (basic) ------------------------------------
// (core/ops_nn_basic.cpp) Semantics as torch.nn.functional.
// x if x > 0 else negative_slope * x.
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01);
// x if x > 0 else alpha * (exp(x) - 1).
Tensor elu(const Tensor& x, double alpha = 1.0);
// Inverted dropout: zeroes each element with probability p (mask from galen's
// seeded Philox RNG) and scales the rest by 1/(1-p). Identity when !training or
// p == 0; zeros when p == 1.
Tensor dropout(const Tensor& x, double p = 0.5, bool training = true);
// weight (num_embeddings, dim), indices (any shape, integral) -> (*indices.shape, dim).
Tensor embedding(const Tensor& weight, const Tensor& indices);
// Normalises x over its trailing normalized_shape dims (biased variance), then
// y * weight + bias (each of shape normalized_shape, either may be undefined).
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = Tensor(),
                  const Tensor& bias = Tensor(), double eps = 1e-5);

}  // namespace galen
