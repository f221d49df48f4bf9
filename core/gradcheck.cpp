// Finite-difference gradient checking: autograd's d(sum(out * w))/d(input)
// against central differences, element by element, in f64.
//
// The scalar being differentiated and the comparison are computed on the host
// in plain C++ (not with galen's own sum/mul), so a bug in a reduction kernel
// cannot hide a bug in a backward formula. The weight w comes from a private
// std::mt19937_64 with a fixed seed: the check is reproducible and leaves the
// global galen generator untouched.
#include "galen/core/gradcheck.h"

#include <cmath>
#include <cstdint>
#include <random>
#include <sstream>

#include "galen/core/autograd.h"
#include "galen/core/ops.h"

namespace galen {

namespace {

constexpr uint64_t kWeightSeed = 0x9e3779b97f4a7c15ull;

std::vector<double> host_values(const Tensor& t) {
  return t.to(DType::f64).cpu().to_vector<double>();
}

// sum_i out_i * w_i, accumulated in long double to keep the rounding of the
// reduction well below the finite-difference error.
double weighted_sum(const Tensor& out, const std::vector<double>& w) {
  const std::vector<double> v = host_values(out);
  GALEN_CHECK(v.size() == w.size(), "gradcheck: f returned ", v.size(),
              " elements on a perturbed input but ", w.size(),
              " on the original; its output shape must not depend on the values");
  long double acc = 0.0L;
  for (size_t i = 0; i < v.size(); ++i) acc += static_cast<long double>(v[i]) * w[i];
  return static_cast<double>(acc);
}

// Writes `value` at logical flat index i of a contiguous f64 tensor.
void set_element(Tensor& t, int64_t i, double value) {
  if (t.device().is_cpu()) {
    t.data<double>()[i] = value;
  } else {
    NoGradGuard ng;
    Tensor flat = t.view({-1});
    flat.narrow(0, i, 1).fill_(value);
  }
}

}  // namespace

GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                          const std::vector<Tensor>& inputs, double eps, double atol,
                          double rtol) {
  GALEN_CHECK(eps > 0.0 && std::isfinite(eps), "gradcheck: eps must be positive, got ", eps);
  GALEN_CHECK(atol >= 0.0 && rtol >= 0.0, "gradcheck: tolerances must be >= 0, got atol ", atol,
              ", rtol ", rtol);
  bool any = false;
  for (size_t k = 0; k < inputs.size(); ++k) {
    const Tensor& x = inputs[k];
    GALEN_CHECK(x.defined(), "gradcheck: input ", k, " is an undefined tensor");
    GALEN_CHECK(!is_floating(x.dtype()) || x.dtype() == DType::f64, "gradcheck: input ", k,
                " has dtype ", dtype_name(x.dtype()), " and shape ", x.sizes(),
                "; floating inputs must be f64 (finite differences in lower precision are noise)");
    if (x.requires_grad()) {
      GALEN_CHECK(x.dtype() == DType::f64, "gradcheck: input ", k, " requires grad but has dtype ",
                  dtype_name(x.dtype()), "; it must be f64");
      any = true;
    }
  }
  GALEN_CHECK(any, "gradcheck: no input requires grad, nothing to check");

  // Plain copies of the inputs: no history, no .grad, never the caller's handles.
  std::vector<Tensor> plain;
  plain.reserve(inputs.size());
  for (const Tensor& x : inputs) plain.push_back(x.detach());

  // The output's shape fixes w.
  Shape out_shape;
  DType out_dtype;
  Device out_device;
  {
    NoGradGuard ng;
    Tensor out = f(plain);
    GALEN_CHECK(out.defined(), "gradcheck: f returned an undefined tensor");
    GALEN_CHECK(is_floating(out.dtype()), "gradcheck: f returned dtype ", dtype_name(out.dtype()),
                ", which has no gradient");
    out_shape = out.sizes();
    out_dtype = out.dtype();
    out_device = out.device();
  }
  int64_t out_numel = 1;
  for (int64_t s : out_shape) out_numel *= s;
  std::vector<double> w(static_cast<size_t>(out_numel));
  {
    std::mt19937_64 gen(kWeightSeed);
    std::normal_distribution<double> dist(0.0, 1.0);
    for (double& v : w) v = dist(gen);
  }

  // ---- analytic: fresh leaves (detach keeps each input's exact layout, so
  // non-contiguous inputs stay non-contiguous) and one backward with w.
  std::vector<Tensor> leaves;
  leaves.reserve(inputs.size());
  for (const Tensor& x : inputs) {
    Tensor leaf = x.detach();
    if (x.requires_grad()) leaf.requires_grad_(true);
    leaves.push_back(leaf);
  }
  std::vector<std::vector<double>> analytic(inputs.size());
  {
    Tensor out = f(leaves);
    GALEN_CHECK(out.sizes() == out_shape, "gradcheck: f returned shape ", out.sizes(),
                " with grad mode on but ", out_shape, " with it off");
    GALEN_CHECK(out.requires_grad(),
                "gradcheck: the output does not require grad although an input does (shape ",
                out_shape, "); the op recorded no history");
    Tensor wt = from_vector<double>(w, out_shape, DType::f64).to(out_dtype).to(out_device);
    out.backward(wt);
    for (size_t k = 0; k < inputs.size(); ++k) {
      if (!inputs[k].requires_grad()) continue;
      Tensor g = leaves[k].grad();
      if (!g.defined()) {
        // No gradient reached this input: autograd says it is zero.
        analytic[k].assign(static_cast<size_t>(inputs[k].numel()), 0.0);
        continue;
      }
      GALEN_CHECK(g.sizes() == inputs[k].sizes(), "gradcheck: gradient of input ", k, " has shape ",
                  g.sizes(), " but the input has shape ", inputs[k].sizes());
      GALEN_CHECK(g.dtype() == inputs[k].dtype(), "gradcheck: gradient of input ", k, " has dtype ",
                  dtype_name(g.dtype()), " but the input has dtype ",
                  dtype_name(inputs[k].dtype()));
      analytic[k] = host_values(g);
    }
  }

  // ---- numeric: central differences on a contiguous clone, one element at a time.
  GradcheckResult res;
  double worst_excess = 0.0;
  NoGradGuard ng;
  for (size_t k = 0; k < inputs.size(); ++k) {
    if (!inputs[k].requires_grad()) continue;
    Tensor xc = plain[k].clone().contiguous();
    const std::vector<double> x0 = host_values(xc);
    std::vector<Tensor> args = plain;
    args[k] = xc;
    for (int64_t i = 0; i < static_cast<int64_t>(x0.size()); ++i) {
      const double orig = x0[static_cast<size_t>(i)];
      set_element(xc, i, orig + eps);
      const double fp = weighted_sum(f(args), w);
      set_element(xc, i, orig - eps);
      const double fm = weighted_sum(f(args), w);
      set_element(xc, i, orig);
      const double numeric = (fp - fm) / (2.0 * eps);
      const double a = analytic[k][static_cast<size_t>(i)];
      const double err = std::fabs(a - numeric);
      const double allowed = atol + rtol * std::fabs(numeric);
      const bool bad = !(err <= allowed);  // NaN counts as a mismatch
      if (std::isnan(err)) res.max_abs_err = err;
      else if (!std::isnan(res.max_abs_err) && err > res.max_abs_err) res.max_abs_err = err;
      const double excess = std::isnan(err) ? INFINITY : err - allowed;
      if (bad && (res.ok || excess > worst_excess)) {
        res.ok = false;
        worst_excess = excess;
        std::ostringstream os;
        os << "gradcheck: input " << k << " (shape " << shape_str(inputs[k].sizes())
           << ") element " << i << ": analytic " << a << ", numeric " << numeric
           << ", |diff| " << err << " > atol " << atol << " + rtol " << rtol << " * |numeric|";
        res.message = os.str();
      }
    }
  }
  return res;
}

}  // namespace galen
