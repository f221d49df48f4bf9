// Elementwise ops: unary, binary with NumPy broadcasting and dtype promotion,
// comparisons, where, clamp, masked_fill — forward kernels via the backend and
// backward formulas built from the same ops.
#include <cmath>
#include <limits>

#include "galen/core/autograd.h"
#include "galen/core/internal.h"
#include "galen/core/ops.h"

namespace galen {

using autograd::record;
using detail::backend_of;
using detail::make_empty;
using kernels::BinaryOp;
using kernels::UnaryOp;

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    GALEN_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", a, " and ", b,
                " cannot be broadcast together (dim ", i, ": ", da, " vs ", db, ")");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.sizes() == shape) return x;
  const int64_t lead = x.dim() - static_cast<int64_t>(shape.size());
  GALEN_CHECK(lead >= 0, "sum_to: cannot reduce shape ", x.sizes(), " to ", shape);
  std::vector<int64_t> dims;
  for (int64_t i = 0; i < lead; ++i) dims.push_back(i);
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 1 && x.size(lead + static_cast<int64_t>(i)) != 1) dims.push_back(lead + static_cast<int64_t>(i));
    else GALEN_CHECK(shape[i] == x.size(lead + static_cast<int64_t>(i)), "sum_to: cannot reduce shape ",
                     x.sizes(), " to ", shape);
  }
  Tensor r = dims.empty() ? x : sum(x, dims, true);
  return r.reshape(shape);
}

namespace {

bool is_float_only(UnaryOp op) {
  return !(op == UnaryOp::Neg || op == UnaryOp::Abs || op == UnaryOp::Sign || op == UnaryOp::Square);
}

Tensor unary_kernel(UnaryOp op, const Tensor& x_in, double scalar = 0.0) {
  const char* name = kernels::unary_name(op);
  detail::check_defined(name, x_in);
  Tensor x = x_in;
  if (is_float_only(op) && is_integral(x.dtype()) && op != UnaryOp::Relu) x = x.to(DType::f32);
  if (op == UnaryOp::Relu && x.dtype() == DType::boolean) x = x.to(DType::f32);
  Tensor out = make_empty(x.sizes(), x.dtype(), x.device());
  if (out.numel() > 0) backend_of(x).unary(op, x.dtype(), x.data_ptr(), detail::layout_of(x), out.data_ptr(), scalar);
  return out;
}

using Saved = std::vector<Tensor>;
using Grads = std::vector<Tensor>;

}  // namespace

// ---- unary ------------------------------------------------------------------------

Tensor neg(const Tensor& x) {
  return record("neg", unary_kernel(UnaryOp::Neg, x), {x}, {}, [](const Tensor& g, const Saved&) {
    return Grads{neg(g)};
  });
}
Tensor abs(const Tensor& x) {
  return record("abs", unary_kernel(UnaryOp::Abs, x), {x}, {x}, [](const Tensor& g, const Saved& s) {
    return Grads{mul(g, sign(s[0]))};
  });
}
Tensor sign(const Tensor& x) { return unary_kernel(UnaryOp::Sign, x); }
Tensor exp(const Tensor& x) {
  Tensor out = unary_kernel(UnaryOp::Exp, x);
  return record("exp", out, {x}, {out.detach()}, [](const Tensor& g, const Saved& s) {
    return Grads{mul(g, s[0])};
  });
}
Tensor log(const Tensor& x) {
  return record("log", unary_kernel(UnaryOp::Log, x), {x}, {x}, [](const Tensor& g, const Saved& s) {
    return Grads{div(g, s[0])};
  });
}
Tensor sqrt(const Tensor& x) {
  Tensor out = unary_kernel(UnaryOp::Sqrt, x);
  return record("sqrt", out, {x}, {out.detach()}, [](const Tensor& g, const Saved& s) {
    return Grads{div(g, mul(s[0], 2.0))};
  });
}
Tensor rsqrt(const Tensor& x) {
  Tensor out = unary_kernel(UnaryOp::Rsqrt, x);
  return record("rsqrt", out, {x}, {out.detach()}, [](const Tensor& g, const Saved& s) {
    // d/dx x^-1/2 = -1/2 x^-3/2 = -1/2 out^3
    return Grads{mul(g, mul(pow(s[0], 3.0), -0.5))};
  });
}
Tensor pow(const Tensor& x, double e) {
  return record("pow_scalar", unary_kernel(UnaryOp::PowScalar, x, e), {x}, {x}, [e](const Tensor& g, const Saved& s) {
    if (e == 0.0) return Grads{zeros_like(g)};
    return Grads{mul(g, mul(pow(s[0], e - 1.0), e))};
  });
}
Tensor square(const Tensor& x) {
  return record("square", unary_kernel(UnaryOp::Square, x), {x}, {x}, [](const Tensor& g, const Saved& s) {
    return Grads{mul(g, mul(s[0], 2.0))};
  });
}
Tensor sigmoid(const Tensor& x) {
  Tensor out = unary_kernel(UnaryOp::Sigmoid, x);
  return record("sigmoid", out, {x}, {out.detach()}, [](const Tensor& g, const Saved& s) {
    return Grads{mul(g, mul(s[0], (1.0 - s[0])))};
  });
}
Tensor tanh(const Tensor& x) {
  Tensor out = unary_kernel(UnaryOp::Tanh, x);
  return record("tanh", out, {x}, {out.detach()}, [](const Tensor& g, const Saved& s) {
    return Grads{mul(g, (1.0 - square(s[0])))};
  });
}
// relu keeps its output, not its input (out > 0 exactly where x > 0): the input is usually a
// batch norm's output that nothing else keeps, so this frees one activation per conv-BN-ReLU
// during training (DenseNet-121 / ResNet-50 peak memory), as PyTorch's threshold_backward does.
Tensor relu(const Tensor& x) {
  Tensor out = unary_kernel(UnaryOp::Relu, x);
  return record("relu", out, {x}, {out.detach()}, [](const Tensor& g, const Saved& s) {
    return Grads{mul(g, unary_kernel(UnaryOp::Step, s[0]))};
  });
}
Tensor gelu(const Tensor& x) {
  return record("gelu", unary_kernel(UnaryOp::Gelu, x), {x}, {x}, [](const Tensor& g, const Saved& s) {
    return Grads{mul(g, unary_kernel(UnaryOp::GeluGrad, s[0]))};
  });
}

// ---- binary ---------------------------------------------------------------------------

namespace {

// Brings a 0-d CPU tensor to the other operand's device (as PyTorch does for scalars).
void align_devices(const char* op, Tensor& a, Tensor& b) {
  if (a.device() == b.device()) return;
  if (a.dim() == 0 && a.device().is_cpu()) a = a.to(b.device());
  else if (b.dim() == 0 && b.device().is_cpu()) b = b.to(a.device());
  detail::check_same_device(op, {&a, &b});
}

Tensor binary_kernel(BinaryOp op, Tensor a, Tensor b) {
  const char* name = kernels::binary_name(op);
  detail::check_defined(name, a, "first input");
  detail::check_defined(name, b, "second input");
  align_devices(name, a, b);
  const Shape shape = broadcast_shapes(a.sizes(), b.sizes(), name);
  DType dt = promote_types(a.dtype(), b.dtype());
  if ((op == BinaryOp::Div || op == BinaryOp::Pow) && is_integral(dt)) dt = DType::f32;
  if (a.dtype() != dt) a = a.to(dt);
  if (b.dtype() != dt) b = b.to(dt);
  Tensor out = make_empty(shape, kernels::is_comparison(op) ? DType::boolean : dt, a.device());
  if (out.numel() > 0)
    backend_of(a).binary(op, dt, a.data_ptr(), detail::broadcast_layout(a, shape), b.data_ptr(),
                         detail::broadcast_layout(b, shape), out.data_ptr());
  return out;
}

// A 0-d tensor holding `v` suitable for combining with `like`.
Tensor scalar_like(const Tensor& like, double v) {
  detail::check_defined("scalar op", like);
  DType dt = like.dtype();
  if (is_integral(dt) && v != std::floor(v)) dt = DType::f32;
  if (dt == DType::boolean && v != 0.0 && v != 1.0) dt = DType::i64;
  return full({}, v, TensorOptions(dt, like.device()));
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b, double alpha) {
  Tensor out = alpha == 1.0 ? binary_kernel(BinaryOp::Add, a, b)
                            : binary_kernel(BinaryOp::Add, a, binary_kernel(BinaryOp::Mul, b, scalar_like(b, alpha)));
  return record("add", out, {a, b}, {}, [alpha](const Tensor& g, const Saved&) {
    return Grads{g, alpha == 1.0 ? g : mul(g, alpha)};
  });
}
Tensor sub(const Tensor& a, const Tensor& b, double alpha) {
  Tensor out = alpha == 1.0 ? binary_kernel(BinaryOp::Sub, a, b)
                            : binary_kernel(BinaryOp::Sub, a, binary_kernel(BinaryOp::Mul, b, scalar_like(b, alpha)));
  return record("sub", out, {a, b}, {}, [alpha](const Tensor& g, const Saved&) {
    return Grads{g, mul(g, -alpha)};
  });
}
Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = binary_kernel(BinaryOp::Mul, a, b);
  return record("mul", out, {a, b}, {a, b}, [](const Tensor& g, const Saved& s) {
    return Grads{mul(g, s[1]), mul(g, s[0])};
  });
}
Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = binary_kernel(BinaryOp::Div, a, b);
  return record("div", out, {a, b}, {a, b}, [](const Tensor& g, const Saved& s) {
    Tensor ga = div(g, s[1]);
    return Grads{ga, neg(mul(ga, div(s[0], s[1])))};
  });
}
Tensor pow(const Tensor& a, const Tensor& b) {
  Tensor out = binary_kernel(BinaryOp::Pow, a, b);
  return record("pow", out, {a, b}, {a, b, out.detach()}, [](const Tensor& g, const Saved& s) {
    const Tensor &x = s[0], &e = s[1], &y = s[2];
    // d/dx = e * x^(e-1); d/de = x^e * log(x), defined as 0 where x == 0 and e >= 0.
    Tensor gx = mul(g, mul(e, pow(x, sub(e, 1.0))));
    Tensor ge_ = mul(g, mul(y, log(x)));
    Tensor mask = mul(eq(x, 0.0).to(ge_.dtype()), ge(e, 0.0).to(ge_.dtype()));
    ge_ = where(gt(mask, 0.0), zeros({}, TensorOptions(ge_.dtype(), ge_.device())), ge_);
    return Grads{gx, ge_};
  });
}
Tensor maximum(const Tensor& a, const Tensor& b) {
  Tensor out = binary_kernel(BinaryOp::Maximum, a, b);
  return record("maximum", out, {a, b}, {a, b}, [](const Tensor& g, const Saved& s) {
    const Tensor wa = add(gt(s[0], s[1]).to(g.dtype()), mul(eq(s[0], s[1]).to(g.dtype()), 0.5));
    return Grads{mul(g, wa), mul(g, (1.0 - wa))};
  });
}
Tensor minimum(const Tensor& a, const Tensor& b) {
  Tensor out = binary_kernel(BinaryOp::Minimum, a, b);
  return record("minimum", out, {a, b}, {a, b}, [](const Tensor& g, const Saved& s) {
    const Tensor wa = add(lt(s[0], s[1]).to(g.dtype()), mul(eq(s[0], s[1]).to(g.dtype()), 0.5));
    return Grads{mul(g, wa), mul(g, (1.0 - wa))};
  });
}

Tensor eq(const Tensor& a, const Tensor& b) { return binary_kernel(BinaryOp::Eq, a, b); }
Tensor ne(const Tensor& a, const Tensor& b) { return binary_kernel(BinaryOp::Ne, a, b); }
Tensor lt(const Tensor& a, const Tensor& b) { return binary_kernel(BinaryOp::Lt, a, b); }
Tensor le(const Tensor& a, const Tensor& b) { return binary_kernel(BinaryOp::Le, a, b); }
Tensor gt(const Tensor& a, const Tensor& b) { return binary_kernel(BinaryOp::Gt, a, b); }
Tensor ge(const Tensor& a, const Tensor& b) { return binary_kernel(BinaryOp::Ge, a, b); }

Tensor add(const Tensor& a, double b) { return add(a, scalar_like(a, b)); }
Tensor sub(const Tensor& a, double b) { return sub(a, scalar_like(a, b)); }
Tensor mul(const Tensor& a, double b) { return mul(a, scalar_like(a, b)); }
Tensor div(const Tensor& a, double b) { return div(a, scalar_like(a, b)); }
Tensor eq(const Tensor& a, double b) { return eq(a, scalar_like(a, b)); }
Tensor ne(const Tensor& a, double b) { return ne(a, scalar_like(a, b)); }
Tensor lt(const Tensor& a, double b) { return lt(a, scalar_like(a, b)); }
Tensor le(const Tensor& a, double b) { return le(a, scalar_like(a, b)); }
Tensor gt(const Tensor& a, double b) { return gt(a, scalar_like(a, b)); }
Tensor ge(const Tensor& a, double b) { return ge(a, scalar_like(a, b)); }

// ---- where / clamp / masked_fill -----------------------------------------------------------

Tensor where(const Tensor& cond, const Tensor& a_in, const Tensor& b_in) {
  detail::check_defined("where", cond, "condition");
  detail::check_defined("where", a_in, "first input");
  detail::check_defined("where", b_in, "second input");
  GALEN_CHECK(cond.dtype() == DType::boolean, "where: condition must be bool, got ", dtype_name(cond.dtype()));
  Tensor a = a_in, b = b_in, c = cond;
  align_devices("where", a, b);
  align_devices("where", c, a);
  const Shape shape = broadcast_shapes(c.sizes(), broadcast_shapes(a.sizes(), b.sizes(), "where"), "where");
  const DType dt = promote_types(a.dtype(), b.dtype());
  if (a.dtype() != dt) a = a.to(dt);
  if (b.dtype() != dt) b = b.to(dt);
  Tensor out = make_empty(shape, dt, a.device());
  if (out.numel() > 0)
    backend_of(a).where(dt, c.data_ptr(), detail::broadcast_layout(c, shape), a.data_ptr(),
                        detail::broadcast_layout(a, shape), b.data_ptr(), detail::broadcast_layout(b, shape),
                        out.data_ptr());
  return record("where", out, {a_in, b_in}, {c}, [](const Tensor& g, const Saved& s) {
    Tensor z = zeros({}, TensorOptions(g.dtype(), g.device()));
    return Grads{where(s[0], g, z), where(s[0], z, g)};
  });
}

Tensor where(const Tensor& cond, const Tensor& a, double b) { return where(cond, a, scalar_like(a, b)); }

Tensor clamp(const Tensor& x_in, std::optional<double> lo, std::optional<double> hi) {
  detail::check_defined("clamp", x_in);
  GALEN_CHECK(lo.has_value() || hi.has_value(), "clamp: at least one of min and max must be given");
  Tensor x = x_in.contiguous();
  const double l = lo.value_or(-std::numeric_limits<double>::infinity());
  const double h = hi.value_or(std::numeric_limits<double>::infinity());
  Tensor out = make_empty(x.sizes(), x.dtype(), x.device());
  if (out.numel() > 0) backend_of(x).clamp(x.dtype(), x.data_ptr(), x.numel(), l, h, out.data_ptr());
  return record("clamp", out, {x_in}, {x_in}, [l, h](const Tensor& g, const Saved& s) {
    Tensor inside = mul(ge(s[0], l).to(g.dtype()), le(s[0], h).to(g.dtype()));
    return Grads{mul(g, inside)};
  });
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) {
  detail::check_defined("masked_fill", x);
  detail::check_defined("masked_fill", mask, "mask");
  GALEN_CHECK(mask.dtype() == DType::boolean, "masked_fill: mask must be bool, got ", dtype_name(mask.dtype()));
  const Shape shape = broadcast_shapes(x.sizes(), mask.sizes(), "masked_fill");
  GALEN_CHECK(shape == x.sizes(), "masked_fill: mask of shape ", mask.sizes(),
              " does not broadcast to the input's shape ", x.sizes());
  return where(mask, full({}, value, TensorOptions(x.dtype(), x.device())), x);
}

// ---- whole-tensor comparisons ---------------------------------------------------------------

bool allclose(const Tensor& a, const Tensor& b, double rtol, double atol) {
  if (a.sizes() != b.sizes()) return false;
  const auto va = a.to_vector<double>(), vb = b.to_vector<double>();
  for (size_t i = 0; i < va.size(); ++i) {
    if (std::isnan(va[i]) || std::isnan(vb[i])) return false;
    if (std::fabs(va[i] - vb[i]) > atol + rtol * std::fabs(vb[i])) return false;
  }
  return true;
}

bool equal(const Tensor& a, const Tensor& b) {
  if (a.sizes() != b.sizes()) return false;
  return a.to_vector<double>() == b.to_vector<double>();
}

// ---- operators ----------------------------------------------------------------------------------

Tensor operator-(const Tensor& x) { return neg(x); }
Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator+(const Tensor& a, double b) { return add(a, b); }
Tensor operator-(const Tensor& a, double b) { return sub(a, b); }
Tensor operator*(const Tensor& a, double b) { return mul(a, b); }
Tensor operator/(const Tensor& a, double b) { return div(a, b); }
Tensor operator+(double a, const Tensor& b) { return add(b, a); }
Tensor operator-(double a, const Tensor& b) { return sub(scalar_like(b, a), b); }
Tensor operator*(double a, const Tensor& b) { return mul(b, a); }
Tensor operator/(double a, const Tensor& b) { return div(scalar_like(b, a), b); }

}  // namespace galen
