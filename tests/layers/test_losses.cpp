// Losses: PyTorch parity (tests/fixtures/loss_parity.safetensors from
// tools/make_loss_fixtures.py: value and input gradient, every reduction,
// weights, ignore_index, label smoothing, probability targets, pos_weight),
// finite-difference gradchecks, the nn:: loss modules and argument errors.
#include <cmath>
#include <limits>
#include <string>

#include "galen/core/json.h"
#include "galen/layers/loss.h"
#include "test_util.h"

using namespace galen;
using Catch::Matchers::Contains;

GALEN_COVERS_GRADCHECK(mse_loss);
GALEN_COVERS_GRADCHECK(l1_loss);
GALEN_COVERS_GRADCHECK(smooth_l1_loss);
GALEN_COVERS_GRADCHECK(huber_loss);
GALEN_COVERS_GRADCHECK(nll_loss);
GALEN_COVERS_GRADCHECK(cross_entropy);
GALEN_COVERS_GRADCHECK(binary_cross_entropy);
GALEN_COVERS_GRADCHECK(binary_cross_entropy_with_logits);
GALEN_COVERS_PARITY(mse_loss);
GALEN_COVERS_PARITY(l1_loss);
GALEN_COVERS_PARITY(smooth_l1_loss);
GALEN_COVERS_PARITY(huber_loss);
GALEN_COVERS_PARITY(nll_loss);
GALEN_COVERS_PARITY(cross_entropy);
GALEN_COVERS_PARITY(binary_cross_entropy);
GALEN_COVERS_PARITY(binary_cross_entropy_with_logits);

namespace {

const SafetensorsFile& loss_fixture() {
  static const SafetensorsFile f = load_safetensors(std::string(GALEN_FIXTURES_DIR) + "/loss_parity.safetensors");
  return f;
}

Tensor opt_tensor(const std::string& key) {
  const auto& ts = loss_fixture().tensors;
  auto it = ts.find(key);
  return it == ts.end() ? Tensor() : it->second;
}

Reduction reduction_of(const std::string& s) {
  if (s == "none") return Reduction::None;
  if (s == "sum") return Reduction::Sum;
  REQUIRE(s == "mean");
  return Reduction::Mean;
}

double num(const json::Value& meta, const char* key, double dflt) {
  const json::Value* v = meta.find(key);
  return v ? v->as_double() : dflt;
}

// Runs the loss named by the case's "op" on (input, target, ...).
Tensor run_loss(const json::Value& meta, const Tensor& input, const Tensor& target, const Tensor& weight,
                const Tensor& pos_weight) {
  const std::string op = meta.find("op")->as_string();
  const Reduction r = reduction_of(meta.find("reduction")->as_string());
  const auto ignore = static_cast<int64_t>(num(meta, "ignore_index", -100));
  if (op == "mse_loss") return mse_loss(input, target, r);
  if (op == "l1_loss") return l1_loss(input, target, r);
  if (op == "smooth_l1_loss") return smooth_l1_loss(input, target, r, num(meta, "beta", 1.0));
  if (op == "huber_loss") return huber_loss(input, target, r, num(meta, "delta", 1.0));
  if (op == "nll_loss") return nll_loss(input, target, weight, ignore, r);
  if (op == "cross_entropy")
    return cross_entropy(input, target, weight, ignore, num(meta, "label_smoothing", 0.0), r);
  if (op == "binary_cross_entropy") return binary_cross_entropy(input, target, weight, r);
  if (op == "binary_cross_entropy_with_logits")
    return binary_cross_entropy_with_logits(input, target, weight, pos_weight, r);
  FAIL("unknown loss op " << op);
  return Tensor();
}

Tensor leaf(Tensor t) {
  t.requires_grad_(true);
  return t;
}

}  // namespace

TEST_CASE("losses match PyTorch: value and input gradient (f64 and f32)", "[losses]") {
  int n = 0;
  for (const auto& [name, text] : loss_fixture().metadata) {
    if (name.rfind("__", 0) == 0) continue;
    ++n;
    const json::Value meta = json::parse(text);
    INFO("case " << name << " " << text);
    const Tensor target = opt_tensor(name + ".target"), weight = opt_tensor(name + ".weight");
    const Tensor pos_weight = opt_tensor(name + ".pos_weight");
    for (DType dt : {DType::f64, DType::f32}) {
      INFO("dtype " << dtype_name(dt));
      const double tol = dt == DType::f64 ? 1e-12 : 2e-5;
      auto cast = [&](const Tensor& t) { return t.defined() && is_floating(t.dtype()) ? t.to(dt) : t; };
      Tensor x = leaf(opt_tensor(name + ".input").to(dt).clone());
      Tensor out = run_loss(meta, x, cast(target), cast(weight), cast(pos_weight));
      REQUIRE(out.dtype() == dt);
      REQUIRE_CLOSE(out, opt_tensor(name + ".out"), tol, tol);
      (out * opt_tensor(name + ".w").to(dt)).sum().backward();
      REQUIRE(x.grad().defined());
      // f32 near the clamps of bce_extreme is not comparable to the f64 reference.
      if (dt == DType::f32 && name == "bce_extreme") continue;
      REQUIRE_CLOSE(x.grad(), opt_tensor(name + ".grad"), tol, tol);
    }
  }
  REQUIRE(n > 90);
}

TEST_CASE("loss gradchecks", "[losses][gradcheck]") {
  auto u = [](const Shape& s, uint64_t seed, double lo, double hi) {
    manual_seed(seed);
    return uniform(s, lo, hi, DType::f64);
  };
  auto check = [](const std::function<Tensor(const std::vector<Tensor>&)>& f, const std::vector<Tensor>& in) {
    auto r = gradcheck(f, in);
    INFO(r.message);
    REQUIRE(r.ok);
  };
  const Tensor x = leaf(u({3, 4}, 1, -2, 2)), y = leaf(u({3, 4}, 2, -2, 2));
  for (Reduction r : {Reduction::None, Reduction::Mean, Reduction::Sum}) {
    check([r](const std::vector<Tensor>& a) { return mse_loss(a[0], a[1], r); }, {x, y});
    check([r](const std::vector<Tensor>& a) { return l1_loss(a[0], a[1], r); }, {x, y});
    check([r](const std::vector<Tensor>& a) { return smooth_l1_loss(a[0], a[1], r, 0.7); }, {x, y});
    check([r](const std::vector<Tensor>& a) { return huber_loss(a[0], a[1], r, 0.6); }, {x, y});
  }
  // Class-index targets with ignored entries and weights, 2-D and spatial.
  const Tensor logits = leaf(u({5, 4}, 3, -3, 3));
  const Tensor tgt = from_vector<int64_t>({0, 3, -100, 2, 1}, {5});
  const Tensor cw = leaf(u({4}, 4, 0.3, 1.5));
  const Tensor sp = leaf(u({2, 4, 3}, 5, -2, 2));
  const Tensor sp_tgt = from_vector<int64_t>({1, 0, 3, 2, 2, -100}, {2, 3});
  for (Reduction r : {Reduction::None, Reduction::Mean, Reduction::Sum}) {
    check([&, r](const std::vector<Tensor>& a) { return cross_entropy(a[0], tgt, a[1], -100, 0.0, r); }, {logits, cw});
    check([&, r](const std::vector<Tensor>& a) { return cross_entropy(a[0], tgt, a[1], -100, 0.2, r); }, {logits, cw});
    check([&, r](const std::vector<Tensor>& a) { return cross_entropy(a[0], sp_tgt, Tensor(), -100, 0.1, r); }, {sp});
    check([&, r](const std::vector<Tensor>& a) { return nll_loss(log_softmax(a[0], 1), tgt, a[1], -100, r); },
          {logits, cw});
    check([&, r](const std::vector<Tensor>& a) { return nll_loss(a[0], sp_tgt, Tensor(), -100, r); }, {sp});
  }
  // Probability targets (gradient w.r.t. logits and targets).
  const Tensor probs = leaf(softmax(u({5, 4}, 6, -1, 1), 1).detach());
  check([&](const std::vector<Tensor>& a) { return cross_entropy(a[0], a[1], cw.detach(), -100, 0.3); },
        {logits, probs});
  // Binary: probabilities away from 0/1, soft targets, weights, pos_weight.
  const Tensor p = leaf(u({3, 4}, 7, 0.1, 0.9)), t = leaf(u({3, 4}, 8, 0, 1)), w = leaf(u({3, 4}, 9, 0.5, 2));
  const Tensor pw = leaf(u({4}, 10, 0.5, 3));
  for (Reduction r : {Reduction::None, Reduction::Mean, Reduction::Sum}) {
    check([r](const std::vector<Tensor>& a) { return binary_cross_entropy(a[0], a[1], a[2], r); }, {p, t, w});
    check([r](const std::vector<Tensor>& a) { return binary_cross_entropy_with_logits(a[0], a[1], a[2], a[3], r); },
          {x, t, w, pw});
    check([r](const std::vector<Tensor>& a) { return binary_cross_entropy_with_logits(a[0], a[1], Tensor(), Tensor(), r); },
          {x, t});
  }
}

TEST_CASE("losses are numerically stable and reduce like PyTorch in edge cases", "[losses]") {
  // Huge logits: no inf / nan.
  Tensor logits = from_vector<float>({1000.f, -1000.f, 0.f, -5000.f, 5000.f, 1.f}, {2, 3});
  Tensor tgt = from_vector<int64_t>({1, 0}, {2});
  Tensor l = cross_entropy(logits, tgt);
  REQUIRE(std::isfinite(l.item()));
  REQUIRE(l.item() == Approx((2000.0 + 10000.0) / 2));
  Tensor b = binary_cross_entropy_with_logits(from_vector<float>({-200.f, 200.f}, {2}),
                                              from_vector<float>({1.f, 0.f}, {2}), Tensor(), Tensor(),
                                              Reduction::None);
  REQUIRE_CLOSE(b, from_vector<float>({200.f, 200.f}, {2}), 1e-3, 1e-6);
  // All targets ignored: the weighted mean is 0/0 = NaN (as PyTorch), sum is 0.
  Tensor all_ign = full({2}, -100.0, DType::i64);
  REQUIRE(std::isnan(cross_entropy(logits, all_ign).item()));
  REQUIRE(cross_entropy(logits, all_ign, Tensor(), -100, 0.0, Reduction::Sum).item() == 0.0);
  // BCE clamps log at -100.
  Tensor e = binary_cross_entropy(from_vector<double>({0.0, 1.0}, {2}), from_vector<double>({1.0, 0.0}, {2}),
                                  Tensor(), Reduction::None);
  REQUIRE_CLOSE(e, from_vector<double>({100.0, 100.0}, {2}), 0, 0);
}

TEST_CASE("loss argument errors", "[losses]") {
  Tensor logits = zeros({4, 3});
  REQUIRE_THROWS_WITH(cross_entropy(logits, zeros({4, 2}, DType::i64)), Contains("target of shape"));
  REQUIRE_THROWS_WITH(cross_entropy(logits, from_vector<int64_t>({0, 1, 2, 3}, {4})), Contains("out of range"));
  REQUIRE_THROWS_WITH(cross_entropy(logits, zeros({4, 2})), Contains("probability targets"));
  REQUIRE_THROWS_WITH(cross_entropy(logits, zeros({4}, DType::i64), ones({4})), Contains("weight must be 1-D"));
  REQUIRE_THROWS_WITH(cross_entropy(logits, zeros({4}, DType::i64), Tensor(), -100, 1.5), Contains("label_smoothing"));
  REQUIRE_THROWS_WITH(nll_loss(zeros({4, 3}), zeros({4}, DType::f32)), Contains("class-index target"));
  REQUIRE_THROWS_WITH(binary_cross_entropy(full({2}, 1.5), zeros({2})), Contains("probabilities"));
  REQUIRE_THROWS_WITH(binary_cross_entropy(full({2}, 0.5), zeros({3})), Contains("binary_cross_entropy"));
  REQUIRE_THROWS_WITH(binary_cross_entropy(full({2, 3}, 0.5), zeros({1, 3})), Contains("must equal"));
  REQUIRE_THROWS_WITH(binary_cross_entropy_with_logits(zeros({2, 3}), zeros({2, 3}), Tensor(), ones({4})),
                      Contains("pos_weight"));
  REQUIRE_THROWS_WITH(mse_loss(zeros({2, 3}), zeros({4})), Contains("mse_loss"));
  REQUIRE_THROWS_WITH(smooth_l1_loss(zeros({2}), zeros({2}), Reduction::Mean, -1), Contains("beta"));
}

TEST_CASE("loss modules forward to the functional losses", "[losses]") {
  manual_seed(5);
  Tensor logits = randn({6, 4});
  Tensor tgt = from_vector<int64_t>({0, 1, 2, 3, -100, 1}, {6});
  Tensor w = from_vector<float>({1.f, 2.f, 0.5f, 1.5f}, {4});
  nn::CrossEntropyLoss ce(w, -100, Reduction::Mean, 0.1);
  REQUIRE(equal(ce(logits, tgt), cross_entropy(logits, tgt, w, -100, 0.1)));
  REQUIRE(ce.state_dict().count("weight"));
  REQUIRE(ce.name() == "CrossEntropyLoss");
  nn::NLLLoss nll(Tensor(), 1, Reduction::Sum);
  Tensor tgt2 = from_vector<int64_t>({0, 1, 2, 3, 1, 1}, {6});
  REQUIRE(equal(nll(log_softmax(logits, 1), tgt2), nll_loss(log_softmax(logits, 1), tgt2, Tensor(), 1, Reduction::Sum)));
  REQUIRE(nll.state_dict().empty());
  Tensor a = randn({3, 5}), b = randn({3, 5});
  REQUIRE(equal(nn::MSELoss()(a, b), mse_loss(a, b)));
  REQUIRE(equal(nn::L1Loss(Reduction::Sum)(a, b), l1_loss(a, b, Reduction::Sum)));
  REQUIRE(equal(nn::SmoothL1Loss(Reduction::None, 0.5)(a, b), smooth_l1_loss(a, b, Reduction::None, 0.5)));
  REQUIRE(equal(nn::HuberLoss(Reduction::Mean, 0.3)(a, b), huber_loss(a, b, Reduction::Mean, 0.3)));
  Tensor p = sigmoid(a), y = gt(b, 0.0).to(DType::f32);
  REQUIRE(equal(nn::BCELoss()(p, y), binary_cross_entropy(p, y)));
  Tensor pw = full({5}, 3.0);
  nn::BCEWithLogitsLoss bl(Tensor(), Reduction::Mean, pw);
  REQUIRE(equal(bl(a, y), binary_cross_entropy_with_logits(a, y, Tensor(), pw)));
  REQUIRE(bl.state_dict().count("pos_weight"));
  // A loss module used through the base class.
  std::shared_ptr<nn::Loss> base = std::make_shared<nn::MSELoss>(Reduction::Sum);
  REQUIRE(base->forward(a, b).item() == Approx(mse_loss(a, b, Reduction::Sum).item()));
}
