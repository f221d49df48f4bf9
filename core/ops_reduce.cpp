// Reductions over any set of dims (sum, mean, prod, amax/amin, max/min with
// indices, argmax/argmin, var/std, logsumexp, norm). The reduced dims are moved
// last and made contiguous when they are not already one contiguous block, so
// the backend sees a plain (outer, len, inner) problem.
#include <algorithm>
#include <cmath>
#include <limits>

#include "galen/core/autograd.h"
#include "galen/core/internal.h"
#include "galen/core/ops.h"

namespace galen {

using autograd::record;
using detail::backend_of;
using detail::make_empty;
using kernels::ReduceOp;

namespace {

using Saved = std::vector<Tensor>;
using Grads = std::vector<Tensor>;

struct ReducePlan {
  std::vector<bool> reduced;  // per input dim
  Shape out_keep;             // output shape with keepdim
  Shape out;                  // output shape as requested
  int64_t count = 1;          // elements folded into each output
};

ReducePlan plan(const char* op, const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  ReducePlan p;
  const int64_t nd = x.dim();
  p.reduced.assign(static_cast<size_t>(nd), dims.empty());
  for (int64_t d : dims) {
    const int64_t w = detail::wrap_dim(op, d, nd);
    if (nd == 0) continue;
    GALEN_CHECK(!p.reduced[w] || dims.empty(), op, ": dim ", d, " appears more than once in ", dims);
    p.reduced[w] = true;
  }
  for (int64_t i = 0; i < nd; ++i) {
    if (p.reduced[i]) {
      p.count *= x.size(i);
      p.out_keep.push_back(1);
      if (keepdim) p.out.push_back(1);
    } else {
      p.out_keep.push_back(x.size(i));
      p.out.push_back(x.size(i));
    }
  }
  return p;
}

// Runs the backend reduction; returns (values, indices) in the keepdim shape.
std::pair<Tensor, Tensor> reduce_raw(ReduceOp op, const Tensor& x, const ReducePlan& p, bool want_values,
                                     bool want_indices) {
  const int64_t nd = x.dim();
  Tensor src = x;
  int64_t outer = 1, len = 1, inner = 1;
  // Are the reduced dims one contiguous block of a contiguous tensor?
  int64_t first = -1, last = -1;
  for (int64_t i = 0; i < nd; ++i)
    if (p.reduced[i]) {
      if (first < 0) first = i;
      last = i;
    }
  bool block = first >= 0;
  for (int64_t i = first; block && i <= last; ++i) block = p.reduced[i];
  if (nd == 0 || first < 0) {
    src = x.contiguous();
    outer = x.numel();
  } else if (block && x.is_contiguous()) {
    for (int64_t i = 0; i < first; ++i) outer *= x.size(i);
    for (int64_t i = first; i <= last; ++i) len *= x.size(i);
    for (int64_t i = last + 1; i < nd; ++i) inner *= x.size(i);
  } else {
    std::vector<int64_t> perm;
    for (int64_t i = 0; i < nd; ++i)
      if (!p.reduced[i]) {
        perm.push_back(i);
        outer *= x.size(i);
      }
    for (int64_t i = 0; i < nd; ++i)
      if (p.reduced[i]) {
        perm.push_back(i);
        len *= x.size(i);
      }
    NoGradGuard ng;
    src = x.detach().permute(perm).contiguous();
  }
  Tensor values, indices;
  if (want_values) values = make_empty(p.out_keep, x.dtype(), x.device());
  if (want_indices) indices = make_empty(p.out_keep, DType::i64, x.device());
  if (outer * inner > 0) {
    backend_of(x).reduce(op, x.dtype(), src.data_ptr(), outer, len, inner,
                         want_values ? values.data_ptr() : nullptr,
                         want_indices ? static_cast<int64_t*>(indices.data_ptr()) : nullptr);
  }
  return {values, indices};
}

Tensor keep_to_out(const Tensor& t, const ReducePlan& p) { return t.sizes() == p.out ? t : t.reshape(p.out); }

// The gradient of a reduction (shape p.out) expanded back to the input shape.
Tensor expand_grad(const Tensor& g, const ReducePlan& p, const Shape& in) {
  return g.reshape(p.out_keep).expand(in);
}

DType sum_dtype(DType t) { return is_integral(t) ? DType::i64 : t; }

// amax/amin-style gradient: split evenly among the elements equal to the extreme.
Tensor extreme_grad(const Tensor& g, const Tensor& x, const Tensor& out_keep, const ReducePlan& p,
                    const std::vector<int64_t>& dims) {
  Tensor mask = eq(x, out_keep).to(g.dtype());
  Tensor cnt = sum(mask, dims, true);
  return div(mul(mask, g.reshape(p.out_keep)), cnt);
}

}  // namespace

Tensor sum(const Tensor& x_in, const std::vector<int64_t>& dims, bool keepdim) {
  detail::check_defined("sum", x_in);
  Tensor x = x_in.dtype() == sum_dtype(x_in.dtype()) ? x_in : x_in.to(sum_dtype(x_in.dtype()));
  const ReducePlan p = plan("sum", x, dims, keepdim);
  Tensor out = keep_to_out(reduce_raw(ReduceOp::Sum, x, p, true, false).first, p);
  const Shape in = x_in.sizes();
  return record("sum", out, {x_in}, {}, [p, in](const Tensor& g, const Saved&) {
    return Grads{expand_grad(g, p, in)};
  });
}

Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  detail::check_defined("mean", x);
  GALEN_CHECK(is_floating(x.dtype()), "mean: input dtype ", dtype_name(x.dtype()),
              " is not floating point; convert with to(DType::f32) first");
  const ReducePlan p = plan("mean", x, dims, keepdim);
  Tensor s = keep_to_out(reduce_raw(ReduceOp::Sum, x, p, true, false).first, p);
  Tensor out;
  {
    NoGradGuard ng;
    out = div(s, static_cast<double>(p.count));
  }
  const Shape in = x.sizes();
  const double n = static_cast<double>(p.count);
  return record("mean", out, {x}, {}, [p, in, n](const Tensor& g, const Saved&) {
    return Grads{div(expand_grad(g, p, in), n)};
  });
}

Tensor prod(const Tensor& x_in, int64_t dim, bool keepdim) {
  detail::check_defined("prod", x_in);
  Tensor x = x_in.dtype() == sum_dtype(x_in.dtype()) ? x_in : x_in.to(sum_dtype(x_in.dtype()));
  const ReducePlan p = plan("prod", x, {dim}, keepdim);
  Tensor out_keep = reduce_raw(ReduceOp::Prod, x, p, true, false).first;
  Tensor out = keep_to_out(out_keep, p);
  const int64_t d = detail::wrap_dim("prod", dim, x.dim());
  return record("prod", out, {x_in}, {x_in, out_keep.detach()}, [p, d](const Tensor& g, const Saved& s) {
    // d prod / d x_i = product of the others; handles zeros exactly: with one
    // zero in the slice only that element gets a gradient, with two none do.
    const Tensor& x = s[0];
    Tensor is_zero = eq(x, 0.0);
    Tensor zeros_cnt = sum(is_zero.to(DType::i64), {d}, true);
    Tensor ones_t = ones({}, TensorOptions(x.dtype(), x.device()));
    Tensor prod_nonzero = prod(where(is_zero, ones_t, x), d, true);
    Tensor zero_t = zeros({}, TensorOptions(x.dtype(), x.device()));
    Tensor others_if_zero = where(eq(zeros_cnt, 1.0), prod_nonzero, zero_t);
    Tensor others = where(is_zero, others_if_zero.expand(x.sizes()), div(s[1], where(is_zero, ones_t, x)));
    return Grads{mul(g.reshape(p.out_keep), others)};
  });
}

namespace {
Tensor amax_amin(const char* name, ReduceOp op, const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  detail::check_defined(name, x);
  const ReducePlan p = plan(name, x, dims, keepdim);
  GALEN_CHECK(x.numel() > 0 || p.count > 0, name, ": cannot reduce an empty tensor");
  Tensor out_keep = reduce_raw(op, x, p, true, false).first;
  Tensor out = keep_to_out(out_keep, p);
  std::vector<int64_t> rdims;
  for (size_t i = 0; i < p.reduced.size(); ++i)
    if (p.reduced[i]) rdims.push_back(static_cast<int64_t>(i));
  return record(name, out, {x}, {x, out_keep.detach()}, [p, rdims](const Tensor& g, const Saved& s) {
    return Grads{extreme_grad(g, s[0], s[1], p, rdims)};
  });
}

std::pair<Tensor, Tensor> max_min_dim(const char* name, ReduceOp op, const Tensor& x, int64_t dim, bool keepdim) {
  detail::check_defined(name, x);
  const ReducePlan p = plan(name, x, {dim}, keepdim);
  auto [v, idx] = reduce_raw(op, x, p, true, true);
  Tensor values = keep_to_out(v, p), indices = keep_to_out(idx, p);
  const int64_t d = x.dim() == 0 ? 0 : detail::wrap_dim(name, dim, x.dim());
  const Shape in = x.sizes();
  values = record(name, values, {x}, {idx}, [p, d, in](const Tensor& g, const Saved& s) {
    if (in.empty()) return Grads{g.reshape(in)};
    Tensor z = zeros(in, TensorOptions(g.dtype(), g.device()));
    return Grads{scatter_add(z, d, s[0], g.reshape(p.out_keep))};
  });
  return {values, indices};
}
}  // namespace

Tensor amax(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return amax_amin("amax", ReduceOp::Max, x, dims, keepdim);
}
Tensor amin(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return amax_amin("amin", ReduceOp::Min, x, dims, keepdim);
}
Tensor max(const Tensor& x) { return amax_amin("max", ReduceOp::Max, x, {}, false); }
Tensor min(const Tensor& x) { return amax_amin("min", ReduceOp::Min, x, {}, false); }

std::pair<Tensor, Tensor> max(const Tensor& x, int64_t dim, bool keepdim) {
  return max_min_dim("max", ReduceOp::Max, x, dim, keepdim);
}
std::pair<Tensor, Tensor> min(const Tensor& x, int64_t dim, bool keepdim) {
  return max_min_dim("min", ReduceOp::Min, x, dim, keepdim);
}

namespace {
Tensor arg_extreme(const char* name, ReduceOp op, const Tensor& x, std::optional<int64_t> dim, bool keepdim) {
  detail::check_defined(name, x);
  if (!dim.has_value()) {
    Tensor flat = x.reshape({-1});
    const ReducePlan p = plan(name, flat, {0}, false);
    Tensor idx = reduce_raw(op, flat.detach(), p, false, true).second.reshape({});
    if (keepdim) idx = idx.reshape(Shape(static_cast<size_t>(x.dim()), 1));
    return idx;
  }
  const ReducePlan p = plan(name, x, {*dim}, keepdim);
  return keep_to_out(reduce_raw(op, x.detach(), p, false, true).second, p);
}
}  // namespace

Tensor argmax(const Tensor& x, std::optional<int64_t> dim, bool keepdim) {
  return arg_extreme("argmax", ReduceOp::ArgMax, x, dim, keepdim);
}
Tensor argmin(const Tensor& x, std::optional<int64_t> dim, bool keepdim) {
  return arg_extreme("argmin", ReduceOp::ArgMin, x, dim, keepdim);
}

Tensor var(const Tensor& x, const std::vector<int64_t>& dims, bool unbiased, bool keepdim) {
  detail::check_defined("var", x);
  GALEN_CHECK(is_floating(x.dtype()), "var: input dtype ", dtype_name(x.dtype()), " is not floating point");
  const ReducePlan p = plan("var", x, dims, keepdim);
  Tensor m = mean(x, dims, true);
  Tensor d = sub(x, m);
  const double denom = static_cast<double>(p.count) - (unbiased ? 1.0 : 0.0);
  return div(sum(square(d), dims, keepdim), denom);
}

Tensor std(const Tensor& x, const std::vector<int64_t>& dims, bool unbiased, bool keepdim) {
  return sqrt(var(x, dims, unbiased, keepdim));
}

Tensor logsumexp(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  detail::check_defined("logsumexp", x);
  GALEN_CHECK(is_floating(x.dtype()), "logsumexp: input dtype ", dtype_name(x.dtype()), " is not floating point");
  Tensor m;
  {
    NoGradGuard ng;
    m = amax(x.detach(), dims, true);
    // Rows that are all -inf (or contain +inf) would give inf - inf: shift by 0.
    m = where(eq(abs(m), std::numeric_limits<double>::infinity()), zeros({}, TensorOptions(m.dtype(), m.device())), m);
  }
  Tensor s = log(sum(exp(sub(x, m)), dims, true));
  Tensor out = add(s, m);
  if (!keepdim) out = out.reshape(plan("logsumexp", x, dims, false).out);
  return out;
}

Tensor norm(const Tensor& x, double p, const std::vector<int64_t>& dims, bool keepdim) {
  detail::check_defined("norm", x);
  GALEN_CHECK(is_floating(x.dtype()), "norm: input dtype ", dtype_name(x.dtype()), " is not floating point");
  GALEN_CHECK(p > 0, "norm: p must be positive (or inf), got ", p);
  const ReducePlan pl = plan("norm", x, dims, keepdim);
  Tensor out_keep;
  {
    NoGradGuard ng;
    Tensor ax = abs(x.detach());
    if (std::isinf(p)) out_keep = amax(ax, dims, true);
    else if (p == 1.0) out_keep = sum(ax, dims, true);
    else if (p == 2.0) out_keep = sqrt(sum(square(ax), dims, true));
    else out_keep = pow(sum(pow(ax, p), dims, true), 1.0 / p);
  }
  Tensor out = keep_to_out(out_keep, pl);
  std::vector<int64_t> rdims;
  for (size_t i = 0; i < pl.reduced.size(); ++i)
    if (pl.reduced[i]) rdims.push_back(static_cast<int64_t>(i));
  return record("norm", out, {x}, {x, out_keep.detach()}, [p, pl, rdims](const Tensor& g, const Saved& s) {
    const Tensor &x = s[0], &n = s[1];
    Tensor gk = g.reshape(pl.out_keep);
    if (std::isinf(p)) return Grads{mul(extreme_grad(g, abs(x), n, pl, rdims), sign(x))};
    if (p == 1.0) return Grads{mul(gk, sign(x))};
    // d||x||_p / dx = sign(x) |x|^(p-1) / ||x||^(p-1); 0 where the norm is 0.
    Tensor zero = zeros({}, TensorOptions(x.dtype(), x.device()));
    Tensor safe_n = where(eq(n, 0.0), ones({}, TensorOptions(x.dtype(), x.device())), n);
    Tensor num = p == 2.0 ? x : mul(sign(x), pow(abs(x), p - 1.0));
    Tensor den = p == 2.0 ? safe_n : pow(safe_n, p - 1.0);
    Tensor gx = where(eq(n, 0.0), zero, div(mul(gk, num), den));
    return Grads{gx};
  });
}

}  // namespace galen
