// Finite-difference checks of every differentiable op (f64, central
// differences), on awkward shapes: broadcasting, size-1 dims, non-contiguous
// inputs, negative dims, keepdim both ways. Inputs are kept away from points
// where the op is not differentiable (ties, zeros, bounds). The registry test
// at the bottom fails, naming them, if an op in differentiable_ops() has no case.
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "test_util.h"

using namespace galen;

namespace {

using Args = std::vector<Tensor>;
using Fn = std::function<Tensor(const Args&)>;

int64_t numel_of(const Shape& s) {
  int64_t n = 1;
  for (int64_t v : s) n *= v;
  return n;
}

Tensor leaf(Tensor t) {
  t.requires_grad_(true);
  return t;
}

// Uniform values in [lo, hi), from a private generator (independent of galen's RNG).
Tensor unif(const Shape& s, double lo, double hi, uint64_t seed) {
  std::mt19937_64 g(seed);
  std::uniform_real_distribution<double> d(lo, hi);
  std::vector<double> v(static_cast<size_t>(numel_of(s)));
  for (double& x : v) x = d(g);
  return from_vector<double>(v, s, DType::f64);
}
// Leaf in [-1, 1).
Tensor rnd(const Shape& s, uint64_t seed) { return leaf(unif(s, -1.0, 1.0, seed)); }
// Leaf in [lo, hi) (use lo > 0 for log/sqrt/pow bases).
Tensor pos(const Shape& s, uint64_t seed, double lo = 0.5, double hi = 2.0) {
  return leaf(unif(s, lo, hi, seed));
}
// Leaf with pairwise distinct magnitudes (k+1)*0.1 + shift (+-0.01 jitter) and
// random signs when `signed_`: no ties in value or |value|, nothing within 0.09
// of zero, nothing within 0.03 of a value made with a shift differing by 0.05.
Tensor grid(const Shape& s, uint64_t seed, double shift = 0.0, bool signed_ = true) {
  const int64_t n = numel_of(s);
  std::vector<int64_t> p(static_cast<size_t>(n));
  std::iota(p.begin(), p.end(), 0);
  std::mt19937_64 g(seed);
  std::shuffle(p.begin(), p.end(), g);
  std::uniform_real_distribution<double> jit(-0.01, 0.01);
  std::bernoulli_distribution coin(0.5);
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    double m = static_cast<double>(p[static_cast<size_t>(i)] + 1) * 0.1 + shift + jit(g);
    v[static_cast<size_t>(i)] = (signed_ && coin(g)) ? -m : m;
  }
  return leaf(from_vector<double>(v, s, DType::f64));
}
// Leaf with |values| in [margin, 1], random signs.
Tensor away(const Shape& s, uint64_t seed, double margin = 0.2) {
  std::mt19937_64 g(seed);
  std::uniform_real_distribution<double> d(margin, 1.0);
  std::bernoulli_distribution coin(0.5);
  std::vector<double> v(static_cast<size_t>(numel_of(s)));
  for (double& x : v) x = coin(g) ? d(g) : -d(g);
  return leaf(from_vector<double>(v, s, DType::f64));
}
Tensor idx(const std::vector<int64_t>& v, const Shape& s) {
  return from_vector<int64_t>(v, s, DType::i64);
}
Tensor idx(const std::vector<int64_t>& v) { return idx(v, {static_cast<int64_t>(v.size())}); }

// Tight by default: in f64 with eps 1e-6 the central difference is good to ~1e-9.
void check(const std::string& what, const Fn& f, const Args& in, double eps = 1e-6,
           double atol = 1e-6, double rtol = 1e-5) {
  GradcheckResult r;
  try {
    r = gradcheck(f, in, eps, atol, rtol);
  } catch (const std::exception& e) {
    FAIL_CHECK(what << " threw: " << e.what());
    return;
  }
  INFO(what << ": " << r.message << " (max_abs_err " << r.max_abs_err << ")");
  CHECK(r.ok);
}

const std::map<std::string, std::function<void()>>& cases() {
  static const std::map<std::string, std::function<void()>> m = {
      // ---- unary ------------------------------------------------------------------
      {"neg",
       [] {
         check("neg transposed", [](const Args& a) { return neg(a[0].transpose(0, 2)); },
               {rnd({3, 1, 4}, 1)});
         check("operator- on non-contiguous leaf", [](const Args& a) { return -a[0]; },
               {leaf(unif({4, 3}, -1, 1, 2).t())});
       }},
      {"abs",
       [] {
         check("abs", [](const Args& a) { return abs(a[0]); }, {away({2, 5}, 3)});
         check("Tensor::abs on slice", [](const Args& a) { return a[0].slice(1, 1, 5, 2).abs(); },
               {away({3, 5}, 4)});
       }},
      {"exp",
       [] {
         check("exp on stepped slice", [](const Args& a) { return exp(a[0].slice(1, 0, 4, 2)); },
               {rnd({3, 4}, 5)});
         check("Tensor::exp", [](const Args& a) { return a[0].exp(); }, {rnd({1, 3, 1}, 6)});
       }},
      {"log",
       [] {
         check("log transposed", [](const Args& a) { return log(a[0].t()); }, {pos({4, 3}, 7)});
         check("Tensor::log", [](const Args& a) { return a[0].log(); }, {pos({5}, 8, 0.1, 3.0)});
       }},
      {"sqrt",
       [] {
         check("sqrt", [](const Args& a) { return sqrt(a[0]); }, {pos({2, 3, 2}, 9)});
         check("Tensor::sqrt permuted", [](const Args& a) { return a[0].permute({2, 0, 1}).sqrt(); },
               {pos({2, 3, 2}, 10, 0.2, 4.0)});
       }},
      {"rsqrt",
       [] { check("rsqrt", [](const Args& a) { return rsqrt(a[0].t()); }, {pos({3, 4}, 11)}); }},
      {"pow_scalar",
       [] {
         check("pow 2.5", [](const Args& a) { return pow(a[0], 2.5); }, {pos({3, 4}, 12)});
         check("pow -1.5", [](const Args& a) { return pow(a[0], -1.5); }, {pos({3, 4}, 13)});
         check("pow 3 on negatives", [](const Args& a) { return pow(a[0], 3.0); },
               {away({2, 3}, 14)});
         check("pow 2 transposed", [](const Args& a) { return a[0].t().pow(2.0); },
               {rnd({3, 2}, 15)});
         check("pow 0.5", [](const Args& a) { return pow(a[0], 0.5); }, {pos({4}, 16)});
       }},
      {"sigmoid",
       [] {
         check("sigmoid", [](const Args& a) { return sigmoid(a[0]); },
               {leaf(unif({3, 4}, -4, 4, 17))});
         check("Tensor::sigmoid", [](const Args& a) { return a[0].t().sigmoid(); },
               {rnd({2, 3}, 18)});
       }},
      {"tanh",
       [] {
         check("tanh", [](const Args& a) { return tanh(a[0]); }, {leaf(unif({3, 4}, -3, 3, 19))});
         check("Tensor::tanh", [](const Args& a) { return a[0].tanh(); }, {rnd({1, 5}, 20)});
       }},
      {"relu",
       [] {
         check("relu", [](const Args& a) { return relu(a[0]); }, {away({4, 5}, 21, 0.1)});
         check("Tensor::relu transposed", [](const Args& a) { return a[0].t().relu(); },
               {away({3, 2}, 22, 0.1)});
       }},
      {"gelu",
       [] {
         check("gelu", [](const Args& a) { return gelu(a[0]); }, {leaf(unif({3, 5}, -3, 3, 23))});
       }},
      {"square",
       [] {
         check("square", [](const Args& a) { return square(a[0].transpose(0, 1)); },
               {rnd({2, 3}, 24)});
       }},

      // ---- binary ---------------------------------------------------------------------
      {"add",
       [] {
         check("add broadcast {3,1,4}+{2,4} alpha -0.5",
               [](const Args& a) { return add(a[0], a[1], -0.5); },
               {rnd({3, 1, 4}, 30), rnd({2, 4}, 31)});
         check("operator+ {1,4}+{3,1}", [](const Args& a) { return a[0] + a[1]; },
               {rnd({1, 4}, 32), rnd({3, 1}, 33)});
         check("add scalar", [](const Args& a) { return add(a[0], 2.0) + 1.5; }, {rnd({3}, 34)});
         check("2 + x (non-contiguous)", [](const Args& a) { return 2.0 + a[0].t(); },
               {rnd({2, 3}, 35)});
         check("add same tensor twice", [](const Args& a) { return add(a[0], a[0], 3.0); },
               {rnd({4}, 36)});
       }},
      {"sub",
       [] {
         check("sub {2,3}-{3} alpha 2", [](const Args& a) { return sub(a[0], a[1], 2.0); },
               {rnd({2, 3}, 40), rnd({3}, 41)});
         check("sub broadcast first input", [](const Args& a) { return a[1] - a[0]; },
               {rnd({2, 3}, 42), rnd({3}, 43)});
         check("scalar forms", [](const Args& a) { return (1.0 - a[0]) - 0.25; },
               {rnd({2, 2}, 44)});
         check("sub scalar", [](const Args& a) { return sub(a[0], 3.0); }, {rnd({2}, 45)});
       }},
      {"mul",
       [] {
         check("mul {4,1,3}*{1,5,1}", [](const Args& a) { return mul(a[0], a[1]); },
               {rnd({4, 1, 3}, 50), rnd({1, 5, 1}, 51)});
         check("mul with transposed operand", [](const Args& a) { return a[0] * a[1].t(); },
               {rnd({3, 2}, 52), rnd({2, 3}, 53)});
         check("mul scalar both sides", [](const Args& a) { return 0.5 * mul(a[0], -3.0); },
               {rnd({3}, 54)});
         check("x*x", [](const Args& a) { return a[0] * a[0]; }, {rnd({5}, 55)});
         check("mul with a constant", [](const Args& a) { return a[0] * a[1]; },
               {rnd({2, 3}, 56), unif({3}, -1, 1, 57)});
       }},
      {"div",
       [] {
         check("div {2,3}/{3}", [](const Args& a) { return div(a[0], a[1]); },
               {rnd({2, 3}, 60), away({3}, 61, 0.5)});
         check("div broadcast numerator", [](const Args& a) { return a[0] / a[1]; },
               {rnd({3, 1}, 62), away({3, 4}, 63, 0.5)});
         check("scalar / x", [](const Args& a) { return 2.0 / a[0]; }, {away({4}, 64, 0.5)});
         check("x / scalar", [](const Args& a) { return div(a[0], 4.0); }, {rnd({4}, 65)});
       }},
      {"pow",
       [] {
         check("pow tensor {2,3}^{3}", [](const Args& a) { return pow(a[0], a[1]); },
               {pos({2, 3}, 70), rnd({3}, 71)});
         check("pow broadcast base {3}^{2,3}", [](const Args& a) { return pow(a[0], a[1]); },
               {pos({3}, 72), rnd({2, 3}, 73)});
         check("pow base only", [](const Args& a) { return pow(a[0], a[1]); },
               {pos({4}, 74), unif({4}, -2, 2, 75)});
       }},
      {"maximum",
       [] {
         check("maximum same shape", [](const Args& a) { return maximum(a[0], a[1]); },
               {grid({3, 4}, 80), grid({3, 4}, 81, 0.05)});
         check("maximum broadcast {3,4},{4}", [](const Args& a) { return maximum(a[0], a[1]); },
               {grid({3, 4}, 82), grid({4}, 83, 0.05)});
       }},
      {"minimum",
       [] {
         check("minimum same shape", [](const Args& a) { return minimum(a[0], a[1]); },
               {grid({3, 4}, 84), grid({3, 4}, 85, 0.05)});
         check("minimum broadcast {2,1},{1,3}", [](const Args& a) { return minimum(a[0], a[1]); },
               {grid({2, 1}, 86), grid({1, 3}, 87, 0.05)});
       }},
      {"where",
       [] {
         check("where broadcast cond {3,1}",
               [](const Args& a) { return where(gt(a[2], 0.0), a[0], a[1]); },
               {rnd({3, 4}, 90), rnd({4}, 91), unif({3, 1}, -1, 1, 92)});
         check("where scalar other",
               [](const Args& a) { return where(lt(a[1], 0.0), a[0], 0.5); },
               {rnd({2, 3}, 93), unif({2, 3}, -1, 1, 94)});
       }},
      {"clamp",
       [] {
         check("clamp both", [](const Args& a) { return clamp(a[0], -0.25, 0.35); },
               {grid({4, 5}, 100)});
         check("clamp lo", [](const Args& a) { return clamp(a[0], -0.25, std::nullopt); },
               {grid({3, 3}, 101)});
         check("clamp hi transposed", [](const Args& a) { return clamp(a[0].t(), std::nullopt, 0.45); },
               {grid({3, 2}, 102)});
       }},
      {"masked_fill",
       [] {
         check("masked_fill broadcast mask {4}",
               [](const Args& a) { return masked_fill(a[0], gt(a[1], 0.0), 2.5); },
               {rnd({3, 4}, 110), unif({4}, -1, 1, 111)});
       }},

      // ---- reductions -----------------------------------------------------------------
      {"sum",
       [] {
         check("sum dim 1", [](const Args& a) { return sum(a[0], {1}); }, {rnd({2, 3, 4}, 120)});
         check("sum dim -1 keepdim", [](const Args& a) { return sum(a[0], {-1}, true); },
               {rnd({2, 3, 4}, 121)});
         check("sum dims {0,2}", [](const Args& a) { return sum(a[0], {0, 2}); },
               {rnd({2, 3, 4}, 122)});
         check("sum dims {0,-1} keepdim", [](const Args& a) { return sum(a[0], {0, -1}, true); },
               {rnd({2, 3, 4}, 123)});
         check("sum all", [](const Args& a) { return sum(a[0]); }, {rnd({2, 3}, 124)});
         check("Tensor::sum transposed", [](const Args& a) { return a[0].t().sum(); },
               {rnd({3, 2}, 125)});
         check("sum over size-1 dim", [](const Args& a) { return sum(a[0], {1}); },
               {rnd({3, 1, 2}, 126)});
         check("sum over sliced", [](const Args& a) { return sum(a[0].slice(0, 0, 5, 2), {0}); },
               {rnd({5, 3}, 127)});
       }},
      {"mean",
       [] {
         check("mean dim 0", [](const Args& a) { return mean(a[0], {0}); }, {rnd({3, 4}, 130)});
         check("mean dim -2 keepdim", [](const Args& a) { return mean(a[0], {-2}, true); },
               {rnd({2, 3, 4}, 131)});
         check("mean all", [](const Args& a) { return mean(a[0]); }, {rnd({2, 3, 4}, 132)});
         check("Tensor::mean", [](const Args& a) { return a[0].permute({1, 0, 2}).mean(); },
               {rnd({2, 1, 3}, 133)});
         check("mean dims {1,2}", [](const Args& a) { return mean(a[0], {1, 2}); },
               {rnd({2, 3, 4}, 134)});
       }},
      {"prod",
       [] {
         check("prod dim 1", [](const Args& a) { return prod(a[0], 1); }, {away({3, 4}, 140, 0.3)});
         check("prod dim -1 keepdim", [](const Args& a) { return prod(a[0], -1, true); },
               {away({2, 3, 5}, 141, 0.3)});
         check("prod dim 0 transposed", [](const Args& a) { return prod(a[0].t(), 0); },
               {away({4, 3}, 142, 0.3)});
         check("prod over size-1 dim", [](const Args& a) { return prod(a[0], 1); },
               {away({3, 1}, 143, 0.3)});
       }},
      {"amax",
       [] {
         check("amax dim 1", [](const Args& a) { return amax(a[0], {1}); }, {grid({3, 4}, 150)});
         check("amax dim -1 keepdim", [](const Args& a) { return amax(a[0], {-1}, true); },
               {grid({2, 3, 4}, 151)});
         check("amax dims {0,2}", [](const Args& a) { return amax(a[0], {0, 2}); },
               {grid({2, 3, 4}, 152)});
         check("amax all", [](const Args& a) { return amax(a[0]); }, {grid({3, 5}, 153)});
       }},
      {"amin",
       [] {
         check("amin dim 0", [](const Args& a) { return amin(a[0], {0}); }, {grid({3, 4}, 154)});
         check("amin dim -2 keepdim", [](const Args& a) { return amin(a[0], {-2}, true); },
               {grid({2, 3, 4}, 155)});
         check("amin all transposed", [](const Args& a) { return amin(a[0].t()); },
               {grid({3, 5}, 156)});
       }},
      {"max_dim",
       [] {
         check("max dim 1", [](const Args& a) { return max(a[0], 1).first; }, {grid({3, 4}, 160)});
         check("max dim -1 keepdim", [](const Args& a) { return max(a[0], -1, true).first; },
               {grid({2, 3, 4}, 161)});
         check("max dim 0 transposed", [](const Args& a) { return max(a[0].t(), 0).first; },
               {grid({4, 3}, 162)});
       }},
      {"min_dim",
       [] {
         check("min dim 0", [](const Args& a) { return min(a[0], 0).first; }, {grid({3, 4}, 163)});
         check("min dim -2 keepdim", [](const Args& a) { return min(a[0], -2, true).first; },
               {grid({2, 3, 4}, 164)});
       }},
      {"max_all",
       [] {
         check("max all", [](const Args& a) { return max(a[0]); }, {grid({3, 4}, 165)});
         check("max all sliced", [](const Args& a) { return max(a[0].slice(1, 0, 4, 3)); },
               {grid({3, 4}, 166)});
       }},
      {"min_all",
       [] { check("min all", [](const Args& a) { return min(a[0].t()); }, {grid({2, 5}, 167)}); }},
      {"var",
       [] {
         check("var all unbiased", [](const Args& a) { return var(a[0]); }, {rnd({3, 4}, 170)});
         check("var dim 1 biased", [](const Args& a) { return var(a[0], {1}, false); },
               {rnd({3, 4}, 171)});
         check("var dim -1 keepdim", [](const Args& a) { return var(a[0], {-1}, true, true); },
               {rnd({2, 3, 4}, 172)});
         check("var dims {0,2}", [](const Args& a) { return var(a[0], {0, 2}); },
               {rnd({2, 3, 4}, 173)});
       }},
      {"std",
       [] {
         check("std all", [](const Args& a) { return galen::std(a[0]); }, {rnd({3, 4}, 174)});
         check("std dim 0 biased keepdim",
               [](const Args& a) { return galen::std(a[0], {0}, false, true); },
               {rnd({3, 4}, 175)});
         check("std dim -1 transposed", [](const Args& a) { return galen::std(a[0].t(), {-1}); },
               {rnd({5, 3}, 176)});
       }},
      {"logsumexp",
       [] {
         check("logsumexp dim 1", [](const Args& a) { return logsumexp(a[0], {1}); },
               {leaf(unif({3, 4}, -3, 3, 180))});
         check("logsumexp dim -1 keepdim", [](const Args& a) { return logsumexp(a[0], {-1}, true); },
               {rnd({2, 3, 4}, 181)});
         check("logsumexp dims {0,2}", [](const Args& a) { return logsumexp(a[0], {0, 2}); },
               {rnd({2, 3, 4}, 182)});
       }},
      {"norm",
       [] {
         check("norm 2 all", [](const Args& a) { return norm(a[0]); }, {rnd({3, 4}, 190)});
         check("norm 1 dim 1", [](const Args& a) { return norm(a[0], 1.0, {1}); },
               {away({3, 4}, 191)});
         check("norm 3 dim -1 keepdim", [](const Args& a) { return norm(a[0], 3.0, {-1}, true); },
               {away({2, 3, 4}, 192)});
         check("norm inf dim 0",
               [](const Args& a) {
                 return norm(a[0], std::numeric_limits<double>::infinity(), {0});
               },
               {grid({4, 3}, 193)});
         check("norm 2 dims {0,2}", [](const Args& a) { return norm(a[0], 2.0, {0, 2}); },
               {rnd({2, 3, 4}, 194)});
       }},

      // ---- linear algebra -------------------------------------------------------------
      {"matmul",
       [] {
         check("matmul 1-D . 1-D", [](const Args& a) { return matmul(a[0], a[1]); },
               {rnd({5}, 200), rnd({5}, 201)});
         check("matmul 2-D . 1-D", [](const Args& a) { return matmul(a[0], a[1]); },
               {rnd({3, 5}, 202), rnd({5}, 203)});
         check("matmul 1-D . 2-D", [](const Args& a) { return matmul(a[0], a[1]); },
               {rnd({5}, 204), rnd({5, 4}, 205)});
         check("matmul 2-D . transposed 2-D", [](const Args& a) { return matmul(a[0], a[1].t()); },
               {rnd({3, 5}, 206), rnd({4, 5}, 207)});
         check("matmul batched broadcast {2,1,3,4}.{3,4,5}",
               [](const Args& a) { return matmul(a[0], a[1]); },
               {rnd({2, 1, 3, 4}, 208), rnd({3, 4, 5}, 209)});
         check("matmul 3-D . 1-D", [](const Args& a) { return matmul(a[0], a[1]); },
               {rnd({2, 3, 4}, 210), rnd({4}, 211)});
         check("matmul 2-D . 3-D", [](const Args& a) { return matmul(a[0], a[1]); },
               {rnd({3, 4}, 212), rnd({2, 4, 2}, 213)});
       }},
      {"mm",
       [] {
         check("mm", [](const Args& a) { return mm(a[0], a[1]); }, {rnd({3, 4}, 220), rnd({4, 2}, 221)});
         check("mm non-contiguous leaves", [](const Args& a) { return mm(a[0], a[1]); },
               {leaf(unif({4, 3}, -1, 1, 222).t()), leaf(unif({2, 4}, -1, 1, 223).t())});
         check("mm 1xK . Kx1", [](const Args& a) { return mm(a[0], a[1]); },
               {rnd({1, 5}, 224), rnd({5, 1}, 225)});
       }},
      {"bmm",
       [] {
         check("bmm", [](const Args& a) { return bmm(a[0], a[1]); },
               {rnd({2, 3, 4}, 230), rnd({2, 4, 5}, 231)});
         check("bmm permuted", [](const Args& a) { return bmm(a[0].permute({1, 0, 2}), a[1]); },
               {rnd({3, 2, 4}, 232), rnd({2, 4, 1}, 233)});
       }},
      {"linear",
       [] {
         check("linear 3-D with bias", [](const Args& a) { return linear(a[0], a[1], a[2]); },
               {rnd({2, 3, 4}, 240), rnd({5, 4}, 241), rnd({5}, 242)});
         check("linear no bias", [](const Args& a) { return linear(a[0], a[1]); },
               {rnd({3, 4}, 243), rnd({2, 4}, 244)});
         check("linear 1-D input", [](const Args& a) { return linear(a[0], a[1], a[2]); },
               {rnd({4}, 245), rnd({3, 4}, 246), rnd({3}, 247)});
       }},

      // ---- shape and indexing -----------------------------------------------------------
      {"cat",
       [] {
         check("cat dim -1 uneven", [](const Args& a) { return cat({a[0], a[1], a[2]}, -1); },
               {rnd({2, 3}, 250), rnd({2, 1}, 251), rnd({2, 4}, 252)});
         check("cat dim 0 non-contiguous", [](const Args& a) { return cat({a[0].t(), a[1]}, 0); },
               {rnd({3, 2}, 253), rnd({1, 3}, 254)});
         check("cat same tensor twice", [](const Args& a) { return cat({a[0], a[0] * 2.0}, 1); },
               {rnd({2, 2}, 255)});
       }},
      {"stack",
       [] {
         check("stack dim 1", [](const Args& a) { return stack({a[0], a[1], a[2]}, 1); },
               {rnd({2, 3}, 260), rnd({2, 3}, 261), rnd({2, 3}, 262)});
         check("stack dim -1", [](const Args& a) { return stack({a[0], a[1].t()}, -1); },
               {rnd({2, 3}, 263), rnd({3, 2}, 264)});
       }},
      {"split",
       [] {
         check("split 2 along 0 (5 rows: 2,2,1)",
               [](const Args& a) {
                 auto p = split(a[0], 2, 0);
                 return cat({p.at(2) * 2.0, exp(p.at(0)), p.at(1)}, 0);
               },
               {rnd({5, 3}, 270)});
         check("split sizes {1,2} along -1, one piece unused",
               [](const Args& a) {
                 auto p = split(a[0], std::vector<int64_t>{1, 2}, -1);
                 return p.at(1) * 3.0;
               },
               {rnd({2, 3}, 271)});
       }},
      {"chunk",
       [] {
         check("chunk 3 along 1 (7 cols: 3,3,1)",
               [](const Args& a) {
                 auto p = chunk(a[0], 3, 1);
                 return cat({p.at(1), p.at(2) * p.at(2), p.at(0) * -1.0}, 1);
               },
               {rnd({3, 7}, 280)});
       }},
      {"index_select",
       [] {
         check("index_select dim 0 repeats",
               [](const Args& a) { return index_select(a[0], 0, idx({0, 2, 2, 3, 0})); },
               {rnd({4, 3}, 290)});
         check("index_select dim -1 transposed",
               [](const Args& a) { return index_select(a[0].t(), -1, idx({3, 0})); },
               {rnd({4, 3}, 291)});
       }},
      {"gather",
       [] {
         check("gather dim 1 repeats",
               [](const Args& a) { return gather(a[0], 1, idx({0, 0, 3, 1, 2, 2}, {3, 2})); },
               {rnd({3, 4}, 300)});
         check("gather dim 0",
               [](const Args& a) { return gather(a[0], 0, idx({2, 0, 1, 1, 2, 0}, {2, 3})); },
               {rnd({3, 3}, 301)});
       }},
      {"scatter_add",
       [] {
         check("scatter_add dim 1 both inputs",
               [](const Args& a) { return scatter_add(a[0], 1, idx({0, 4, 2, 2, 1, 1}, {3, 2}), a[1]); },
               {rnd({3, 5}, 310), rnd({3, 2}, 311)});
         check("scatter_add dim 0 src only",
               [](const Args& a) { return scatter_add(a[1], 0, idx({1, 0, 1, 1}, {2, 2}), a[0]); },
               {rnd({2, 2}, 312), unif({2, 2}, -1, 1, 313)});
       }},
      {"index_add",
       [] {
         check("index_add dim 0 alpha 0.5",
               [](const Args& a) { return index_add(a[0], 0, idx({0, 2, 2, 4}), a[1], 0.5); },
               {rnd({5, 3}, 320), rnd({4, 3}, 321)});
         check("index_add dim -1",
               [](const Args& a) { return index_add(a[0], -1, idx({1, 1}), a[1]); },
               {rnd({2, 3}, 322), rnd({2, 2}, 323)});
       }},
      {"softmax",
       [] {
         check("softmax dim -1", [](const Args& a) { return softmax(a[0], -1); },
               {leaf(unif({3, 4}, -3, 3, 330))});
         check("softmax dim 0 transposed", [](const Args& a) { return softmax(a[0].t(), 0); },
               {rnd({4, 3}, 331)});
         check("softmax dim 1 of 3-D", [](const Args& a) { return softmax(a[0], 1); },
               {rnd({2, 3, 2}, 332)});
       }},
      {"log_softmax",
       [] {
         check("log_softmax dim -1", [](const Args& a) { return log_softmax(a[0], -1); },
               {leaf(unif({3, 4}, -3, 3, 333))});
         check("log_softmax dim 0", [](const Args& a) { return log_softmax(a[0], 0); },
               {rnd({3, 1, 2}, 334)});
       }},

      // ---- views and copies -------------------------------------------------------------
      {"view",
       [] {
         check("view {3,4}", [](const Args& a) { return a[0].view({3, 4}); }, {rnd({2, 6}, 340)});
         check("view {-1,2}", [](const Args& a) { return a[0].view({-1, 2}) * 2.0; },
               {rnd({2, 3}, 341)});
       }},
      {"reshape",
       [] {
         check("reshape (view path)", [](const Args& a) { return a[0].reshape({4, -1}); },
               {rnd({2, 6}, 342)});
         check("reshape of transposed (copy path)", [](const Args& a) { return reshape(a[0].t(), {6}); },
               {rnd({2, 3}, 343)});
       }},
      {"permute",
       [] {
         check("permute {2,0,1}", [](const Args& a) { return a[0].permute({2, 0, 1}); },
               {rnd({2, 3, 4}, 344)});
         check("permute negative dims", [](const Args& a) { return permute(a[0], {-1, 0, 1}) * a[1]; },
               {rnd({2, 3, 4}, 345), rnd({3}, 346)});
       }},
      {"transpose",
       [] {
         check("transpose 0,-1", [](const Args& a) { return transpose(a[0], 0, -1) * a[1]; },
               {rnd({2, 3, 4}, 347), rnd({2}, 348)});
         check("t", [](const Args& a) { return a[0].t(); }, {rnd({2, 5}, 349)});
       }},
      {"squeeze",
       [] {
         check("squeeze all", [](const Args& a) { return a[0].squeeze() * a[1]; },
               {rnd({1, 3, 1, 2}, 350), rnd({3, 2}, 351)});
         check("squeeze dim 2", [](const Args& a) { return a[0].squeeze(2); }, {rnd({1, 3, 1, 2}, 352)});
         check("squeeze -1 (not size 1: no-op)", [](const Args& a) { return a[0].squeeze(-1); },
               {rnd({2, 3}, 353)});
       }},
      {"unsqueeze",
       [] {
         check("unsqueeze 0 then broadcast", [](const Args& a) { return a[0].unsqueeze(0) * a[1]; },
               {rnd({3}, 354), rnd({2, 3}, 355)});
         check("unsqueeze -1", [](const Args& a) { return a[0].unsqueeze(-1) + a[1]; },
               {rnd({3}, 356), rnd({1, 4}, 357)});
       }},
      {"flatten",
       [] {
         check("flatten all", [](const Args& a) { return a[0].flatten(); }, {rnd({2, 3, 2}, 358)});
         check("flatten 1", [](const Args& a) { return a[0].flatten(1); }, {rnd({2, 3, 2}, 359)});
         check("flatten 0,1 of permuted", [](const Args& a) { return a[0].permute({2, 1, 0}).flatten(0, 1); },
               {rnd({2, 3, 2}, 360)});
       }},
      {"expand",
       [] {
         check("expand {3,1}->{3,4}", [](const Args& a) { return a[0].expand({3, 4}); },
               {rnd({3, 1}, 361)});
         check("expand {4}->{2,3,4}", [](const Args& a) { return a[0].expand({2, 3, 4}); },
               {rnd({4}, 362)});
         check("expand -1 and expand_as",
               [](const Args& a) { return a[0].expand({-1, 5}) + a[1].expand_as(a[0].expand({-1, 5})); },
               {rnd({2, 1}, 363), rnd({1, 5}, 364)});
       }},
      {"narrow",
       [] {
         check("narrow 1,1,2", [](const Args& a) { return a[0].narrow(1, 1, 2); }, {rnd({3, 4}, 365)});
         check("narrow -1 of transposed", [](const Args& a) { return a[0].t().narrow(-1, 2, 1); },
               {rnd({3, 4}, 366)});
       }},
      {"slice",
       [] {
         check("slice step 2", [](const Args& a) { return a[0].slice(1, 1, 5, 2); }, {rnd({3, 5}, 367)});
         check("slice negative start, clamped end", [](const Args& a) { return a[0].slice(0, -2, 100); },
               {rnd({4, 2}, 368)});
         check("slice step 3 of slice", [](const Args& a) { return a[0].slice(0, 1, 7, 3).slice(1, 0, 2); },
               {rnd({7, 3}, 369)});
       }},
      {"select",
       [] {
         check("select 0,1", [](const Args& a) { return a[0].select(0, 1); }, {rnd({3, 4}, 370)});
         check("select dim -1", [](const Args& a) { return a[0].select(-1, 0) * 2.0; },
               {rnd({2, 3, 2}, 371)});
         check("select twice", [](const Args& a) { return a[0].select(1, 2).select(0, 1); },
               {rnd({2, 3}, 372)});
       }},
      {"contiguous",
       [] {
         check("contiguous of transposed", [](const Args& a) { return a[0].t().contiguous(); },
               {rnd({2, 3}, 373)});
         check("contiguous of stepped slice", [](const Args& a) { return a[0].slice(0, 0, 4, 2).contiguous(); },
               {rnd({4, 3}, 374)});
       }},
      {"clone",
       [] {
         check("clone", [](const Args& a) { return a[0].clone() * a[0]; }, {rnd({2, 3}, 375)});
         check("clone of transposed", [](const Args& a) { return a[0].t().clone(); }, {rnd({2, 3}, 376)});
       }},
      {"to_dtype",
       [] {
         check("to f64 (same dtype)", [](const Args& a) { return a[0].to(DType::f64) * 2.0; },
               {rnd({3}, 377)});
         // Through f32: rounding to f32 costs ~6e-8 relative per evaluation, so a
         // larger step and tolerance; the analytic gradient must still be f64.
         check("to f32 and back", [](const Args& a) { return a[0].to(DType::f32).to(DType::f64) * 3.0; },
               {rnd({2, 3}, 378)}, 1e-3, 2e-3, 1e-3);
         check("f32 output", [](const Args& a) { return a[0].t().to(DType::f32); },
               {rnd({2, 3}, 379)}, 1e-3, 2e-3, 1e-3);
       }},
  };
  return m;
}

}  // namespace

TEST_CASE("gradcheck: every differentiable op against finite differences", "[gradcheck]") {
  for (const auto& [name, fn] : cases()) {
    INFO("op: " << name);
    try {
      fn();
    } catch (const std::exception& e) {
      FAIL_CHECK(name << ": case threw " << e.what());
    }
  }
}

TEST_CASE("every differentiable op has a gradcheck case", "[gradcheck]") {
  std::string missing;
  for (const std::string& name : differentiable_ops())
    if (!cases().count(name) && !galen::test::gradcheck_covered().count(name))
      missing += (missing.empty() ? "" : ", ") + name;
  INFO("differentiable ops without a gradcheck case: " << missing);
  CHECK(missing.empty());
  std::string unknown;
  const auto& reg = differentiable_ops();
  for (const auto& [name, fn] : cases())
    if (std::find(reg.begin(), reg.end(), name) == reg.end())
      unknown += (unknown.empty() ? "" : ", ") + name;
  for (const auto& name : galen::test::gradcheck_covered())
    if (std::find(reg.begin(), reg.end(), name) == reg.end())
      unknown += (unknown.empty() ? "" : ", ") + name;
  INFO("gradcheck cases for names not in differentiable_ops(): " << unknown);
  CHECK(unknown.empty());
}

// ---- gradcheck itself ---------------------------------------------------------------

namespace {
// x -> 2x with a deliberately wrong backward (3g): gradcheck must catch it.
Tensor bad_double(const Args& a) {
  Tensor out;
  {
    NoGradGuard ng;
    out = a[0] * 2.0;
  }
  return autograd::record("bad_double", out, {a[0]}, {},
                          [](const Tensor& g, const std::vector<Tensor>&) {
                            return std::vector<Tensor>{g * 3.0};
                          });
}
Tensor good_double(const Args& a) {
  Tensor out;
  {
    NoGradGuard ng;
    out = a[0] * 2.0;
  }
  return autograd::record("good_double", out, {a[0]}, {},
                          [](const Tensor& g, const std::vector<Tensor>&) {
                            return std::vector<Tensor>{g * 2.0};
                          });
}
}  // namespace

TEST_CASE("gradcheck detects a wrong backward and reports the worst element", "[gradcheck]") {
  Tensor x = rnd({2, 3}, 900);
  auto r = gradcheck(bad_double, {x});
  CHECK_FALSE(r.ok);
  // analytic 3w vs numeric 2w: the error is |w| somewhere, well above tolerance
  CHECK(r.max_abs_err > 0.1);
  CHECK_THAT(r.message, Catch::Contains("input 0"));
  CHECK_THAT(r.message, Catch::Contains("analytic"));
  CHECK_THAT(r.message, Catch::Contains("numeric"));

  auto good = gradcheck(good_double, {x});
  INFO(good.message);
  CHECK(good.ok);
  CHECK(good.max_abs_err < 1e-7);
}

TEST_CASE("gradcheck detects a wrong gradient in only one of two inputs", "[gradcheck]") {
  auto f = [](const Args& a) {
    Tensor out;
    {
      NoGradGuard ng;
      out = a[0] * a[1];
    }
    return autograd::record("bad_mul", out, {a[0], a[1]}, {a[0], a[1]},
                            [](const Tensor& g, const std::vector<Tensor>& s) {
                              return std::vector<Tensor>{g * s[1], g * s[1]};  // second is wrong
                            });
  };
  auto r = gradcheck(f, {rnd({4}, 901), rnd({4}, 902)});
  CHECK_FALSE(r.ok);
  CHECK_THAT(r.message, Catch::Contains("input 1"));
}

TEST_CASE("gradcheck rejects non-f64 and grad-less inputs and leaves inputs untouched", "[gradcheck]") {
  auto f = [](const Args& a) { return a[0] * 2.0; };
  Tensor x32 = leaf(ones({3}, DType::f32));
  CHECK_THROWS_AS(gradcheck(f, {x32}), Error);
  CHECK_THROWS_WITH(gradcheck(f, {x32}), Catch::Contains("f64"));
  // nothing requires grad
  CHECK_THROWS_AS(gradcheck(f, {unif({3}, -1, 1, 903)}), Error);

  Tensor x = rnd({2, 3}, 904);
  const auto before = x.to_vector<double>();
  const auto rng = get_rng_state();
  auto r = gradcheck([](const Args& a) { return exp(a[0]); }, {x});
  CHECK(r.ok);
  CHECK(x.to_vector<double>() == before);
  CHECK_FALSE(x.grad().defined());
  const auto rng_after = get_rng_state();
  CHECK(rng_after.seed == rng.seed);
  CHECK(rng_after.offset == rng.offset);
}

TEST_CASE("gradcheck passes integer index inputs through and treats unreached inputs as zero",
          "[gradcheck]") {
  // index tensor (i64, no grad) as an input
  auto r = gradcheck([](const Args& a) { return index_select(a[0], 0, a[1]); },
                     {rnd({3, 2}, 905), idx({2, 2, 0})});
  INFO(r.message);
  CHECK(r.ok);
  // second input does not influence the output: numeric and analytic are 0
  auto r2 = gradcheck([](const Args& a) { return a[0] * 2.0; }, {rnd({3}, 906), rnd({2}, 907)});
  INFO(r2.message);
  CHECK(r2.ok);
}

TEST_CASE("gradcheck of compositions: cross-entropy, layer norm, attention", "[gradcheck]") {
  check("cross-entropy via log_softmax + gather",
        [](const Args& a) {
          Tensor lp = log_softmax(a[0], 1);
          return neg(mean(gather(lp, 1, idx({2, 0, 1, 2}, {4, 1}))));
        },
        {rnd({4, 3}, 500)});
  check("layer norm over the last dim with affine",
        [](const Args& a) {
          Tensor x = a[0];
          Tensor mu = mean(x, {-1}, true);
          Tensor v = var(x, {-1}, false, true);
          return (x - mu) * rsqrt(v + 1e-5) * a[1] + a[2];
        },
        {rnd({2, 3, 5}, 501), rnd({5}, 502), rnd({5}, 503)});
  check("scaled dot-product attention",
        [](const Args& a) {
          Tensor s = matmul(a[0], a[1].transpose(-2, -1)) / std::sqrt(4.0);
          return matmul(softmax(s, -1), a[2]);
        },
        {rnd({2, 3, 4}, 504), rnd({2, 5, 4}, 505), rnd({2, 5, 2}, 506)});
  check("mlp with relu and linear",
        [](const Args& a) { return sum(relu(linear(a[0], a[1], a[2])) * 0.5, {1}); },
        {away({3, 4}, 507), rnd({6, 4}, 508), leaf(unif({6}, 2.0, 3.0, 509))});
}

TEST_CASE("softmax family is numerically stable for large inputs", "[gradcheck]") {
  // forward: exact values where a naive exp would overflow
  Tensor big = from_vector<double>({1000, 1000, 990}, {3}, DType::f64);
  const double lse = 1000.0 + std::log(2.0 + std::exp(-10.0));
  CHECK(logsumexp(big, {0}).item() == Approx(lse).epsilon(1e-15));
  auto sm = softmax(big, 0).to_vector<double>();
  CHECK(sm[0] == Approx(1.0 / (2.0 + std::exp(-10.0))).epsilon(1e-14));
  CHECK(sm[2] == Approx(std::exp(-10.0) / (2.0 + std::exp(-10.0))).epsilon(1e-12));
  auto lsm = log_softmax(big, 0).to_vector<double>();
  CHECK(lsm[2] == Approx(990.0 - lse).epsilon(1e-14));
  Tensor small = from_vector<float>({-1000, -1000}, {2});
  CHECK(logsumexp(small, {0}).item() == Approx(-1000.0 + std::log(2.0)).epsilon(1e-6));
  CHECK(softmax(from_vector<float>({100, 0, -100}, {3}), 0).to_vector<float>()[0] == 1.0f);
  // and the gradients there
  check("softmax at +700", [](const Args& a) { return softmax(a[0] + 700.0, -1); }, {rnd({2, 4}, 510)});
  check("logsumexp at +800", [](const Args& a) { return logsumexp(a[0] + 800.0, {1}); },
        {rnd({3, 4}, 511)});
  check("log_softmax at -800", [](const Args& a) { return log_softmax(a[0] - 800.0, 0); },
        {rnd({3, 2}, 512)});
}
