// The autograd engine as a PyTorch user relies on it: accumulation, retain_grad,
// hooks, grad mode, detach, retain_graph, diamonds, views of leaves,
// broadcasting reductions, autograd::grad, and the errors for misuse.
#include <cmath>
#include <thread>
#include <vector>

#include "test_util.h"

using namespace galen;

namespace {

Tensor f64(const std::vector<double>& v, const Shape& s) { return from_vector<double>(v, s, DType::f64); }
Tensor f64(const std::vector<double>& v) { return f64(v, {static_cast<int64_t>(v.size())}); }
Tensor leaf64(const std::vector<double>& v, const Shape& s) {
  Tensor t = f64(v, s);
  t.requires_grad_(true);
  return t;
}
Tensor leaf64(const std::vector<double>& v) { return leaf64(v, {static_cast<int64_t>(v.size())}); }

}  // namespace

TEST_CASE("leaf gradients accumulate across backward calls - zero_grad drops them", "[autograd]") {
  Tensor x = leaf64({1, 2, 3});
  REQUIRE(x.is_leaf());
  REQUIRE(x.requires_grad());
  REQUIRE_FALSE(x.grad().defined());
  (x * x).sum().backward();
  REQUIRE(x.grad().defined());
  REQUIRE(x.grad().sizes() == Shape{3});
  REQUIRE(x.grad().dtype() == DType::f64);
  REQUIRE_CLOSE(x.grad(), f64({2, 4, 6}), 0, 0);
  (x * 3.0).sum().backward();
  REQUIRE_CLOSE(x.grad(), f64({5, 7, 9}), 0, 0);
  x.zero_grad();
  REQUIRE_FALSE(x.grad().defined());
  (x * 0.5).sum().backward();
  REQUIRE_CLOSE(x.grad(), f64({0.5, 0.5, 0.5}), 0, 0);
}

TEST_CASE("set_grad replaces the gradient that backward then accumulates into", "[autograd]") {
  Tensor x = leaf64({1, 2});
  x.set_grad(f64({10, 20}));
  (x * x).sum().backward();
  REQUIRE_CLOSE(x.grad(), f64({12, 24}), 0, 0);
}

TEST_CASE("TensorOptions::requires_grad creates a leaf that requires grad", "[autograd]") {
  Tensor x = ones({2, 2}, TensorOptions(DType::f32, Device{}, true));
  REQUIRE(x.requires_grad());
  REQUIRE(x.is_leaf());
  REQUIRE(x.grad_fn() == nullptr);
  (x * 2.0).sum().backward();
  REQUIRE(x.grad().dtype() == DType::f32);
  REQUIRE_CLOSE(x.grad(), full({2, 2}, 2.0), 0, 0);
}

TEST_CASE("non-leaf tensors: grad_fn, is_leaf, retain_grad", "[autograd]") {
  Tensor x = leaf64({1, -2, 3});
  Tensor h = x * 2.0;
  REQUIRE_FALSE(h.is_leaf());
  REQUIRE(h.requires_grad());
  REQUIRE(h.grad_fn() != nullptr);
  REQUIRE(x.grad_fn() == nullptr);

  SECTION("retain_grad keeps the intermediate gradient") {
    h.retain_grad();
    (h * h).sum().backward();
    REQUIRE(h.grad().defined());
    REQUIRE_CLOSE(h.grad(), f64({4, -8, 12}), 0, 0);  // 2h
    REQUIRE_CLOSE(x.grad(), f64({8, -16, 24}), 0, 0);  // 2h * 2
  }
  SECTION("without retain_grad the intermediate has no grad") {
    (h * h).sum().backward();
    REQUIRE_FALSE(h.grad().defined());
    REQUIRE(x.grad().defined());
  }
  SECTION("retain_grad accumulates across two backward calls") {
    h.retain_grad();
    (h * 3.0).sum().backward(Tensor(), true);  // h's own node is walked again below
    Tensor h2 = h;  // same handle
    (h2 * 1.0).sum().backward();
    REQUIRE_CLOSE(h.grad(), f64({4, 4, 4}), 0, 0);
  }
}

TEST_CASE("requires_grad_ on a non-leaf throws", "[autograd]") {
  Tensor x = leaf64({1, 2});
  Tensor h = x * 2.0;
  REQUIRE_THROWS_AS(h.requires_grad_(false), Error);
  REQUIRE(h.requires_grad());
  // tensor.h says "leaves only"; torch tolerates requires_grad_(true) on a
  // non-leaf as a no-op. Either is fine as long as the history survives.
  try {
    h.requires_grad_(true);
  } catch (const Error&) {
  }
  REQUIRE_FALSE(h.is_leaf());
  REQUIRE(h.grad_fn() != nullptr);
  (h * h).sum().backward();
  REQUIRE_CLOSE(x.grad(), f64({8, 16}), 0, 0);
}

TEST_CASE("integer and bool tensors cannot require grad", "[autograd]") {
  Tensor i = zeros({2}, DType::i64);
  REQUIRE_THROWS_AS(i.requires_grad_(true), Error);
  REQUIRE_FALSE(i.requires_grad());
  Tensor b = zeros({2}, DType::boolean);
  REQUIRE_THROWS_AS(b.requires_grad_(true), Error);
  Tensor i32 = zeros({2}, DType::i32);
  REQUIRE_THROWS_AS(i32.requires_grad_(true), Error);
  REQUIRE_THROWS_AS(zeros({2}, TensorOptions(DType::i64, Device{}, true)), Error);
  // turning it off is harmless
  REQUIRE_NOTHROW(i.requires_grad_(false));
}

TEST_CASE("hooks observe, replace and can be removed", "[autograd]") {
  Tensor x = leaf64({1, 2, 3});

  SECTION("observing hook on an intermediate sees its gradient") {
    Tensor h = x * 2.0;
    Tensor seen;
    int calls = 0;
    h.register_hook([&](const Tensor& g) {
      seen = g.clone();
      ++calls;
      return Tensor();
    });
    (h * 3.0).sum().backward();
    REQUIRE(calls == 1);
    REQUIRE_CLOSE(seen, f64({3, 3, 3}), 0, 0);
    REQUIRE_CLOSE(x.grad(), f64({6, 6, 6}), 0, 0);
  }
  SECTION("a hook's return value replaces the gradient downstream") {
    Tensor h = x * 2.0;
    h.register_hook([](const Tensor& g) { return g * 10.0; });
    (h * 3.0).sum().backward();
    REQUIRE_CLOSE(x.grad(), f64({60, 60, 60}), 0, 0);
  }
  SECTION("remove_hook stops it") {
    Tensor h = x * 2.0;
    int calls = 0;
    int id = h.register_hook([&](const Tensor& g) {
      ++calls;
      return g * 100.0;
    });
    h.remove_hook(id);
    (h * 3.0).sum().backward();
    REQUIRE(calls == 0);
    REQUIRE_CLOSE(x.grad(), f64({6, 6, 6}), 0, 0);
  }
  SECTION("a hook on a leaf changes what is accumulated") {
    x.register_hook([](const Tensor& g) { return g * 2.0; });
    (x * x).sum().backward();
    REQUIRE_CLOSE(x.grad(), f64({4, 8, 12}), 0, 0);
  }
  SECTION("hook on a tensor used twice runs once, on the summed gradient") {
    Tensor h = x * 2.0;  // 2, 4, 6
    int calls = 0;
    Tensor seen;
    h.register_hook([&](const Tensor& g) {
      ++calls;
      seen = g.clone();
      return Tensor();
    });
    (h * 3.0 + h * h).sum().backward();
    REQUIRE(calls == 1);
    REQUIRE_CLOSE(seen, f64({7, 11, 15}), 1e-12, 0);  // 3 + 2h
  }
  SECTION("two hooks: both run, ids differ, removing one keeps the other") {
    Tensor h = x * 1.0;
    int a = 0, b = 0;
    int ia = h.register_hook([&](const Tensor&) {
      ++a;
      return Tensor();
    });
    int ib = h.register_hook([&](const Tensor&) {
      ++b;
      return Tensor();
    });
    REQUIRE(ia != ib);
    h.remove_hook(ia);
    h.sum().backward();
    REQUIRE(a == 0);
    REQUIRE(b == 1);
  }
}

TEST_CASE("NoGradGuard records no history and restores grad mode", "[autograd]") {
  Tensor x = leaf64({1, 2});
  REQUIRE(autograd::grad_mode_enabled());
  Tensor y;
  {
    NoGradGuard g;
    REQUIRE_FALSE(autograd::grad_mode_enabled());
    y = exp(x * 2.0) + x;
    {
      NoGradGuard inner;
      REQUIRE_FALSE(autograd::grad_mode_enabled());
    }
    REQUIRE_FALSE(autograd::grad_mode_enabled());
    // in-place ops on a tensor that requires grad are allowed with grad off
    Tensor w = leaf64({1, 1});
    REQUIRE_NOTHROW(w.mul_(3.0));
    REQUIRE_CLOSE(w, f64({3, 3}), 0, 0);
  }
  REQUIRE(autograd::grad_mode_enabled());
  REQUIRE_FALSE(y.requires_grad());
  REQUIRE(y.grad_fn() == nullptr);
  REQUIRE(y.is_leaf());
  REQUIRE_THROWS_AS(y.sum().backward(), Error);  // nothing requires grad
}

TEST_CASE("grad mode is thread-local", "[autograd]") {
  NoGradGuard g;
  bool other_thread = false;
  std::thread t([&] { other_thread = autograd::grad_mode_enabled(); });
  t.join();
  REQUIRE(other_thread);
  REQUIRE_FALSE(autograd::grad_mode_enabled());
}

TEST_CASE("in-place ops on a tensor requiring grad are refused with grad mode on", "[autograd]") {
  Tensor x = leaf64({1, 2});
  REQUIRE_THROWS_AS(x.fill_(0.0), Error);
  REQUIRE_THROWS_AS(x.mul_(2.0), Error);
  REQUIRE_THROWS_AS(x.add_(f64({1, 1})), Error);
  REQUIRE_THROWS_AS(x.copy_(f64({1, 1})), Error);
  REQUIRE_CLOSE(x, f64({1, 2}), 0, 0);
}

TEST_CASE("detach shares storage and has no history", "[autograd]") {
  Tensor x = leaf64({1, 2, 3});
  Tensor h = x * 2.0;
  Tensor d = h.detach();
  REQUIRE_FALSE(d.requires_grad());
  REQUIRE(d.grad_fn() == nullptr);
  REQUIRE(d.is_leaf());
  REQUIRE(d.data_ptr() == h.data_ptr());
  REQUIRE(d.sizes() == h.sizes());
  d.fill_(7.0);
  REQUIRE_CLOSE(h, f64({7, 7, 7}), 0, 0);

  Tensor dx = x.detach();
  REQUIRE(dx.data_ptr() == x.data_ptr());
  REQUIRE_FALSE(dx.requires_grad());
  dx.mul_(2.0);  // allowed: dx does not require grad
  REQUIRE_CLOSE(x, f64({2, 4, 6}), 0, 0);
  // the detached tensor used in a graph contributes no gradient to x
  Tensor y = (x * dx).sum();
  y.backward();
  REQUIRE_CLOSE(x.grad(), f64({2, 4, 6}), 0, 0);
}

TEST_CASE("retain_graph allows a second backward - without it the graph is freed", "[autograd]") {
  Tensor x = leaf64({0.5, -1.0, 2.0});
  SECTION("retain_graph=true: doubled gradients") {
    Tensor y = (exp(x) * x).sum();
    y.backward(Tensor(), true);
    Tensor g1 = x.grad().clone();
    y.backward();
    // d/dx x e^x = (1 + x) e^x
    std::vector<double> e;
    for (double v : {0.5, -1.0, 2.0}) e.push_back(2.0 * (1.0 + v) * std::exp(v));
    REQUIRE_CLOSE(x.grad(), f64(e), 1e-12, 1e-12);
    REQUIRE_CLOSE(x.grad(), g1 * 2.0, 1e-12, 1e-12);
  }
  SECTION("second backward without retain_graph throws naming the freed graph") {
    Tensor y = exp(x).sum();
    y.backward();
    REQUIRE_THROWS_AS(y.backward(), Error);
    REQUIRE_THROWS_WITH(y.backward(), Catch::Contains("freed"));
    // the first pass's gradient is intact
    std::vector<double> e;
    for (double v : {0.5, -1.0, 2.0}) e.push_back(std::exp(v));
    REQUIRE_CLOSE(x.grad(), f64(e), 1e-12, 1e-12);
  }
}

TEST_CASE("diamond graphs sum every path exactly", "[autograd]") {
  const std::vector<double> xs = {-1.5, 0.25, 1.0, 2.0};
  SECTION("y = x*x + exp(x) + 3x") {
    Tensor x = leaf64(xs);
    (x * x + exp(x) + x * 3.0).sum().backward();
    std::vector<double> e;
    for (double v : xs) e.push_back(2 * v + std::exp(v) + 3);
    REQUIRE_CLOSE(x.grad(), f64(e), 1e-13, 1e-13);
  }
  SECTION("a = 2x feeding a*a and exp(a), multiplied") {
    Tensor x = leaf64(xs);
    Tensor a = x * 2.0;
    (a * a * exp(a)).sum().backward();
    std::vector<double> e;
    for (double v : xs) {
      const double av = 2 * v;
      e.push_back(2.0 * std::exp(av) * (2 * av + av * av));
    }
    REQUIRE_CLOSE(x.grad(), f64(e), 1e-12, 1e-12);
  }
  SECTION("deep chain with a skip connection") {
    Tensor x = leaf64(xs);
    Tensor h = x;
    for (int i = 0; i < 20; ++i) h = h * 1.1 + x * 0.0;  // x also enters every step
    h.sum().backward();
    REQUIRE_CLOSE(x.grad(), full({4}, std::pow(1.1, 20), DType::f64), 1e-12, 1e-12);
  }
  SECTION("two leaves, shared intermediate") {
    Tensor x = leaf64({1, 2});
    Tensor w = leaf64({3, -1});
    Tensor p = x * w;            // 3, -2
    Tensor y = (p * p + p).sum();  // dy/dp = 2p + 1 = 7, -3
    y.backward();
    REQUIRE_CLOSE(x.grad(), f64({21, 3}), 1e-14, 0);   // (2p+1) w
    REQUIRE_CLOSE(w.grad(), f64({7, -6}), 1e-14, 0);   // (2p+1) x
  }
}

TEST_CASE("backward on a non-scalar needs an explicit gradient", "[autograd]") {
  Tensor x = leaf64({1, 2, 3});
  Tensor y = x * x;
  REQUIRE_THROWS_AS(y.backward(), Error);
  y.backward(f64({1, 0.5, -2}));
  REQUIRE_CLOSE(x.grad(), f64({2, 2, -12}), 0, 0);

  // a gradient of the wrong shape is an error
  Tensor z = x * 2.0;
  REQUIRE_THROWS_AS(z.backward(f64({1, 1})), Error);

  // a one-element tensor of any shape defaults its gradient to 1
  Tensor s = sum(x * 2.0, {0}, true);  // shape {1}
  REQUIRE(s.sizes() == Shape{1});
  Tensor x2 = leaf64({1, 2, 3});
  sum(x2 * 2.0, {0}, true).backward();
  REQUIRE_CLOSE(x2.grad(), f64({2, 2, 2}), 0, 0);
}

TEST_CASE("backward on a tensor that does not require grad throws", "[autograd]") {
  Tensor x = f64({1, 2});
  REQUIRE_THROWS_AS(x.sum().backward(), Error);
}

TEST_CASE("autograd::grad returns gradients without touching .grad", "[autograd]") {
  Tensor x = leaf64({1, 2, 3});
  Tensor w = leaf64({0.5, -1, 2});
  Tensor y = (x * x * w).sum();
  auto gs = autograd::grad({y}, {x, w});
  REQUIRE(gs.size() == 2);
  REQUIRE_CLOSE(gs[0], f64({1, -4, 12}), 0, 0);  // 2xw
  REQUIRE_CLOSE(gs[1], f64({1, 4, 9}), 0, 0);    // x^2
  REQUIRE_FALSE(x.grad().defined());
  REQUIRE_FALSE(w.grad().defined());

  SECTION("with grad_outputs on a non-scalar and an intermediate input") {
    Tensor h = x * 3.0;
    Tensor z = h * h;
    auto g = autograd::grad({z}, {h}, {f64({1, 1, 0.5})});
    REQUIRE(g.size() == 1);
    REQUIRE_CLOSE(g[0], f64({6, 12, 9}), 0, 0);  // 2h * go
    REQUIRE_FALSE(h.grad().defined());
    REQUIRE_FALSE(x.grad().defined());
  }
  SECTION("retain_graph lets grad run twice") {
    Tensor z = exp(x).sum();
    auto g1 = autograd::grad({z}, {x}, {}, true);
    auto g2 = autograd::grad({z}, {x});
    REQUIRE_CLOSE(g1[0], g2[0], 0, 0);
  }
}

TEST_CASE("gradients through views accumulate into the base leaf", "[autograd]") {
  std::vector<double> v(12);
  for (int i = 0; i < 12; ++i) v[i] = i + 1;
  Tensor x = leaf64(v, {4, 3});

  SECTION("narrow") {
    x.narrow(0, 1, 2).sum().backward();
    REQUIRE_CLOSE(x.grad(), f64({0, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0}, {4, 3}), 0, 0);
  }
  SECTION("transpose") {
    std::vector<double> wv(12);
    for (int i = 0; i < 12; ++i) wv[i] = 0.5 * i;
    Tensor w = f64(wv, {3, 4});
    (x.t() * w).sum().backward();
    REQUIRE_CLOSE(x.grad(), w.t(), 0, 0);
  }
  SECTION("expand") {
    Tensor c = leaf64({1, 2, 3}, {3, 1});
    (c.expand({3, 4}) * 2.0).sum().backward();
    REQUIRE(c.grad().sizes() == Shape{3, 1});
    REQUIRE_CLOSE(c.grad(), full({3, 1}, 8.0, DType::f64), 0, 0);
  }
  SECTION("select") {
    (x.select(1, 2) * f64({1, 2, 3, 4})).sum().backward();
    REQUIRE_CLOSE(x.grad(), f64({0, 0, 1, 0, 0, 2, 0, 0, 3, 0, 0, 4}, {4, 3}), 0, 0);
  }
  SECTION("several overlapping views in one graph") {
    Tensor y = x.select(0, 0).sum() + x.narrow(0, 0, 2).sum() * 2.0 + x.t().select(0, 1).sum();
    y.backward();
    REQUIRE_CLOSE(x.grad(), f64({3, 4, 3, 2, 3, 2, 0, 1, 0, 0, 1, 0}, {4, 3}), 0, 0);
  }
  SECTION("stepped slice and view") {
    (x.slice(0, 0, 4, 3).reshape({6}) * f64({1, 2, 3, 4, 5, 6})).sum().backward();
    REQUIRE_CLOSE(x.grad(), f64({1, 2, 3, 0, 0, 0, 0, 0, 0, 4, 5, 6}, {4, 3}), 0, 0);
  }
  SECTION("permute, unsqueeze, squeeze, flatten chain") {
    Tensor y = x.unsqueeze(0).permute({2, 0, 1}).squeeze(1).flatten();  // x.t() flattened
    std::vector<double> wv(12);
    for (int i = 0; i < 12; ++i) wv[i] = i;
    (y * f64(wv)).sum().backward();
    // y[k] = x.t()[k/4][k%4] = x[k%4][k/4]; grad x[r][c] = 4c + r
    std::vector<double> e(12);
    for (int r = 0; r < 4; ++r)
      for (int c = 0; c < 3; ++c) e[r * 3 + c] = 4 * c + r;
    REQUIRE_CLOSE(x.grad(), f64(e, {4, 3}), 0, 0);
  }
}

TEST_CASE("broadcast gradients are reduced to each input's shape", "[autograd]") {
  SECTION("{3,1} * {1,4}") {
    Tensor a = leaf64({1, 2, 3}, {3, 1});
    Tensor b = leaf64({1, 10, 100, 1000}, {1, 4});
    (a * b).sum().backward();
    REQUIRE(a.grad().sizes() == Shape{3, 1});
    REQUIRE(b.grad().sizes() == Shape{1, 4});
    REQUIRE_CLOSE(a.grad(), full({3, 1}, 1111.0, DType::f64), 0, 0);
    REQUIRE_CLOSE(b.grad(), full({1, 4}, 6.0, DType::f64), 0, 0);
  }
  SECTION("{4} + {2,3,4}") {
    Tensor a = leaf64({1, 2, 3, 4});
    Tensor b = leaf64(std::vector<double>(24, 1.0), {2, 3, 4});
    (a + b).sum().backward();
    REQUIRE(a.grad().sizes() == Shape{4});
    REQUIRE_CLOSE(a.grad(), full({4}, 6.0, DType::f64), 0, 0);
    REQUIRE_CLOSE(b.grad(), full({2, 3, 4}, 1.0, DType::f64), 0, 0);
  }
  SECTION("0-d scalar tensor times a matrix") {
    Tensor s = scalar_tensor(2.0, DType::f64);
    s.requires_grad_(true);
    REQUIRE(s.dim() == 0);
    Tensor m = f64({1, 2, 3, 4}, {2, 2});
    (s * m).sum().backward();
    REQUIRE(s.grad().dim() == 0);
    REQUIRE(s.grad().item() == 10.0);
  }
  SECTION("sub with alpha reduces and scales") {
    Tensor a = leaf64({1, 2}, {2, 1});
    Tensor b = leaf64({1, 2, 3});
    sub(a, b, 2.0).sum().backward();
    REQUIRE_CLOSE(a.grad(), full({2, 1}, 3.0, DType::f64), 0, 0);
    REQUIRE_CLOSE(b.grad(), full({3}, -4.0, DType::f64), 0, 0);
  }
}

TEST_CASE("leaves that do not require grad get no gradient", "[autograd]") {
  Tensor x = leaf64({1, 2});
  Tensor c = f64({3, 4});
  (x * c).sum().backward();
  REQUIRE_FALSE(c.grad().defined());
  REQUIRE_CLOSE(x.grad(), f64({3, 4}), 0, 0);
}

TEST_CASE("mixed dtypes: the gradient takes the leaf's dtype", "[autograd]") {
  Tensor a = ones({3}, TensorOptions(DType::f32, Device{}, true));
  Tensor b = leaf64({1, 2, 3});
  Tensor y = a * b;  // promoted to f64
  REQUIRE(y.dtype() == DType::f64);
  y.sum().backward();
  REQUIRE(a.grad().dtype() == DType::f32);
  REQUIRE(b.grad().dtype() == DType::f64);
  REQUIRE_CLOSE(a.grad(), f64({1, 2, 3}), 0, 0);
  REQUIRE_CLOSE(b.grad(), f64({1, 1, 1}), 0, 0);
}

TEST_CASE("a custom op recorded with autograd::record gets its backward called", "[autograd]") {
  Tensor x = leaf64({1, 2, 3});
  int calls = 0;
  Tensor out;
  {
    NoGradGuard ng;
    out = x * x * x;
  }
  out = autograd::record("cube", out, {x}, {x}, [&](const Tensor& g, const std::vector<Tensor>& s) {
    ++calls;
    return std::vector<Tensor>{g * s[0] * s[0] * 3.0};
  });
  REQUIRE(out.requires_grad());
  REQUIRE(out.grad_fn() != nullptr);
  REQUIRE(out.grad_fn()->name() == "cube");
  out.sum().backward();
  REQUIRE(calls == 1);
  REQUIRE_CLOSE(x.grad(), f64({3, 12, 27}), 0, 0);
}

TEST_CASE("a node waits for every path before running (hook sees the total once)", "[autograd]") {
  Tensor x = leaf64({1, 2});
  Tensor a = x * 1.0;
  a.retain_grad();
  int calls = 0;
  a.register_hook([&](const Tensor&) {
    ++calls;
    return Tensor();
  });
  Tensor longp = a;
  for (int i = 0; i < 10; ++i) longp = longp * 2.0;  // 1024 a, ten nodes deep
  (longp + a * 3.0).sum().backward();                   // short path: one node
  REQUIRE(calls == 1);
  REQUIRE_CLOSE(a.grad(), f64({1027, 1027}), 0, 0);
  REQUIRE_CLOSE(x.grad(), f64({1027, 1027}), 0, 0);
}

TEST_CASE("gradient conventions at non-differentiable points follow torch", "[autograd]") {
  SECTION("relu'(0) = 0, abs'(0) = 0") {
    Tensor x = leaf64({-1, 0, 2});
    relu(x).sum().backward();
    REQUIRE_CLOSE(x.grad(), f64({0, 0, 1}), 0, 0);
    Tensor y = leaf64({-1, 0, 2});
    abs(y).sum().backward();
    REQUIRE_CLOSE(y.grad(), f64({-1, 0, 1}), 0, 0);
  }
  SECTION("clamp passes the gradient at the bounds") {
    Tensor x = leaf64({-2, -1, 0, 1, 2});
    clamp(x, -1.0, 1.0).sum().backward();
    REQUIRE_CLOSE(x.grad(), f64({0, 1, 1, 1, 0}), 0, 0);
  }
  SECTION("maximum / minimum split the gradient evenly on ties (ops.h)") {
    Tensor a = leaf64({1, 2, 3});
    Tensor b = leaf64({1, 5, 0});
    maximum(a, b).sum().backward();
    REQUIRE_CLOSE(a.grad(), f64({0.5, 0, 1}), 0, 0);
    REQUIRE_CLOSE(b.grad(), f64({0.5, 1, 0}), 0, 0);
    Tensor c = leaf64({4, 4});
    Tensor d = leaf64({4, 1});
    minimum(c, d).sum().backward();
    REQUIRE_CLOSE(c.grad(), f64({0.5, 0}), 0, 0);
    REQUIRE_CLOSE(d.grad(), f64({0.5, 1}), 0, 0);
  }
  SECTION("amax / amin split evenly among tied extremes, like torch") {
    Tensor x = leaf64({3, 1, 3, 2}, {1, 4});
    amax(x, {1}).sum().backward();
    REQUIRE_CLOSE(x.grad(), f64({0.5, 0, 0.5, 0}, {1, 4}), 0, 0);
    Tensor y = leaf64({0, 5, 0, 0});
    amin(y).backward();
    const double third = 1.0 / 3.0;
    REQUIRE_CLOSE(y.grad(), f64({third, 0, third, third}), 1e-15, 0);
  }
  SECTION("max(x, dim) sends the whole gradient to the returned index") {
    Tensor x = leaf64({2, 7, 7, 1}, {2, 2});  // row 0: 2,7; row 1: 7,1
    auto [v, i] = max(x, 1);
    REQUIRE(i.dtype() == DType::i64);
    REQUIRE(i.to_vector<int64_t>() == std::vector<int64_t>{1, 0});
    REQUIRE(v.to_vector<double>() == std::vector<double>{7, 7});
    (v * f64({10, 20})).sum().backward();
    REQUIRE_CLOSE(x.grad(), f64({0, 10, 20, 0}, {2, 2}), 0, 0);
    // with a tie the gradient still goes to exactly one element, the returned one
    Tensor t = leaf64({5, 5, 5});
    auto [tv, ti] = max(t, 0);
    tv.backward();
    const auto g = t.grad().to_vector<double>();
    const int64_t k = ti.item<int64_t>();
    REQUIRE(k >= 0);
    REQUIRE(k < 3);
    for (int64_t j = 0; j < 3; ++j) REQUIRE(g[static_cast<size_t>(j)] == (j == k ? 1.0 : 0.0));
  }
}

TEST_CASE("gradients of empty and 0-d tensors", "[autograd]") {
  Tensor e = zeros({0, 3}, TensorOptions(DType::f64, Device{}, true));
  Tensor s = (e * 2.0).sum();
  REQUIRE(s.item() == 0.0);
  s.backward();
  REQUIRE(e.grad().defined());
  REQUIRE(e.grad().sizes() == Shape{0, 3});

  Tensor z = scalar_tensor(3.0, TensorOptions(DType::f64, Device{}, true));
  Tensor y = z * z * z;  // 0-d result: backward needs no gradient argument
  REQUIRE(y.dim() == 0);
  y.backward();
  REQUIRE(z.grad().dim() == 0);
  REQUIRE(z.grad().item() == 27.0);
}

TEST_CASE("backward from a view of an output", "[autograd]") {
  Tensor x = leaf64({1, 2, 3, 4}, {2, 2});
  Tensor y = exp(x);
  y.select(0, 1).narrow(0, 1, 1).sum().backward();
  REQUIRE_CLOSE(x.grad(), f64({0, 0, 0, std::exp(4.0)}, {2, 2}), 0, 1e-15);
}

TEST_CASE("very deep graphs run backward and free without overflowing the stack", "[autograd]") {
  // An unrolled RNN over a long sequence makes graphs this deep; a recursive
  // engine or a recursive Node destructor would crash here.
  const int depth = 200000;
  Tensor x = leaf64({1.0});
  {
    Tensor h = x;
    for (int i = 0; i < depth; ++i) h = h + 1e-6;
    h.sum().backward();
  }
  REQUIRE_CLOSE(x.grad(), f64({1.0}), 0, 0);
  {
    // dropped without ever running backward
    Tensor h = x;
    for (int i = 0; i < depth; ++i) h = h * 1.0;
  }
  SUCCEED("no crash");
}

TEST_CASE("retain_grad stores the gradient after the tensor's hooks ran (torch 2 order)", "[autograd]") {
  Tensor x = leaf64({1, 2});
  Tensor h = x * 2.0;
  h.retain_grad();
  h.register_hook([](const Tensor& g) { return g * 10.0; });
  (h * 3.0).sum().backward();
  REQUIRE_CLOSE(h.grad(), f64({30, 30}), 0, 0);
  REQUIRE_CLOSE(x.grad(), f64({60, 60}), 0, 0);
}

TEST_CASE("a hook returning the wrong shape is an error", "[autograd]") {
  Tensor x = leaf64({1, 2, 3});
  Tensor h = x * 2.0;
  h.register_hook([](const Tensor&) { return from_vector<double>({1, 2}, {2}, DType::f64); });
  REQUIRE_THROWS_AS((h * 1.0).sum().backward(), Error);
}

TEST_CASE("set_grad checks the shape - accumulating into a strided .grad is correct", "[autograd]") {
  Tensor x = leaf64({1, 2, 3, 4, 5, 6}, {2, 3});
  REQUIRE_THROWS_AS(x.set_grad(f64({1, 2, 3})), Error);
  // a transposed (non-contiguous) gradient buffer
  x.set_grad(f64({10, 40, 20, 50, 30, 60}, {3, 2}).t());
  (x * 1.0).sum().backward();
  REQUIRE_CLOSE(x.grad(), f64({11, 21, 31, 41, 51, 61}, {2, 3}), 0, 0);
}

TEST_CASE("views of a leaf that requires grad are non-leaves - in-place on them is refused",
          "[autograd]") {
  Tensor x = leaf64({1, 2, 3, 4}, {2, 2});
  Tensor v = x.narrow(0, 0, 1);
  REQUIRE(v.requires_grad());
  REQUIRE_FALSE(v.is_leaf());
  REQUIRE_THROWS_AS(v.fill_(0.0), Error);
  REQUIRE_CLOSE(x, f64({1, 2, 3, 4}, {2, 2}), 0, 0);
}

TEST_CASE("backward from a one-element leaf itself", "[autograd]") {
  Tensor s = scalar_tensor(2.0, TensorOptions(DType::f64, Device{}, true));
  s.backward();
  REQUIRE(s.grad().item() == 1.0);
  Tensor v = leaf64({5.0});
  v.backward(f64({3.0}));
  REQUIRE(v.grad().item() == 3.0);
}

TEST_CASE("autograd::grad after the graph was freed throws", "[autograd]") {
  Tensor x = leaf64({1, 2});
  Tensor y = exp(x).sum();
  (void)autograd::grad({y}, {x});
  REQUIRE_THROWS_AS(autograd::grad({y}, {x}), Error);
}

TEST_CASE("independent graphs can run backward concurrently on two threads", "[autograd]") {
  auto work = [](double scale, bool* ok) {
    *ok = true;
    for (int it = 0; it < 200; ++it) {
      Tensor x = leaf64({1, 2, 3});
      Tensor h = x * scale;
      (h * h + exp(x)).sum().backward();
      auto g = x.grad().to_vector<double>();
      for (int i = 0; i < 3; ++i) {
        const double xi = i + 1;
        const double e = 2 * scale * scale * xi + std::exp(xi);
        if (std::fabs(g[i] - e) > 1e-12 * std::fabs(e)) *ok = false;
      }
    }
  };
  bool ok1 = false, ok2 = false;
  std::thread t1(work, 2.0, &ok1), t2(work, -3.0, &ok2);
  t1.join();
  t2.join();
  REQUIRE(ok1);
  REQUIRE(ok2);
}

TEST_CASE("leaf gradients never alias each other, even when the engine hands over its buffer",
          "[autograd]") {
  // add's backward passes the same gradient tensor to both inputs: only one of
  // them may take it without a copy.
  Tensor a = ones({4}).requires_grad_(), b = ones({4}).requires_grad_();
  (a + b).sum().backward();
  REQUIRE(a.grad().data_ptr() != b.grad().data_ptr());
  {
    NoGradGuard ng;
    a.grad().mul_(3.0);  // as gradient clipping does
  }
  REQUIRE(b.grad().to_vector<float>() == std::vector<float>{1, 1, 1, 1});
  // A gradient that is a view of a larger buffer (cat's backward) is copied.
  Tensor c = ones({2}).requires_grad_(), d = ones({3}).requires_grad_();
  cat({c, d}).sum().backward();
  REQUIRE(c.grad().numel() == 2);
  REQUIRE(d.grad().storage_offset() == 0);
  REQUIRE(d.grad().is_contiguous());
}
