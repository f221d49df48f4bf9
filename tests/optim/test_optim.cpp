// Optimizers: 10-step trajectories against torch.optim
// (tests/fixtures/optim_parity.safetensors from tools/make_optim_fixtures.py),
// parameter groups, state_dict round trip and validation, gradient clipping.
#include <cmath>
#include <memory>
#include <string>

#include "galen/core/json.h"
#include "test_util.h"

using namespace galen;
using namespace galen::optim;
using Catch::Matchers::Contains;

namespace {

const SafetensorsFile& optim_fixture() {
  static const SafetensorsFile f = load_safetensors(std::string(GALEN_FIXTURES_DIR) + "/optim_parity.safetensors");
  return f;
}
const Tensor& fx(const std::string& key) {
  auto it = optim_fixture().tensors.find(key);
  INFO("fixture tensor " << key);
  REQUIRE(it != optim_fixture().tensors.end());
  return it->second;
}

std::unique_ptr<Optimizer> make_optimizer(const std::string& kind, std::vector<ParamGroup> groups) {
  if (kind == "SGD") return std::make_unique<SGD>(std::move(groups));
  if (kind == "Adam") return std::make_unique<Adam>(std::move(groups));
  if (kind == "AdamW") return std::make_unique<AdamW>(std::move(groups));
  if (kind == "RMSprop") return std::make_unique<RMSprop>(std::move(groups));
  if (kind == "Adagrad") return std::make_unique<Adagrad>(std::move(groups));
  FAIL("unknown optimizer " << kind);
  return nullptr;
}

struct OptCase {
  std::string name, kind;
  json::Value meta;
};

std::vector<OptCase> optimizer_cases() {
  std::vector<OptCase> v;
  for (const auto& [name, text] : optim_fixture().metadata) {
    if (name.rfind("__", 0) == 0) continue;
    json::Value m = json::parse(text);
    if (m.find("kind")->as_string() != "optimizer") continue;
    v.push_back({name, m.find("optimizer")->as_string(), m});
  }
  return v;
}

// Fresh leaf parameters (the fixture's initial values, in `dt`) and the
// optimizer the case describes over them.
std::unique_ptr<Optimizer> build(const OptCase& c, DType dt, std::vector<Tensor>& params) {
  params.clear();
  for (int j = 0; j < 2; ++j) {
    Tensor p = fx(c.name + ".p" + std::to_string(j) + ".init").to(dt).clone();
    p.requires_grad_(true);
    params.push_back(p);
  }
  std::vector<ParamGroup> groups;
  for (const json::Value& g : c.meta.find("groups")->as_array()) {
    ParamGroup pg;
    for (const auto& [k, v] : g.as_object()) {
      if (k == "params") {
        for (const auto& i : v.as_array()) pg.params.push_back(params[static_cast<size_t>(i.as_int())]);
      } else {
        pg.options[k] = v.as_double();
      }
    }
    groups.push_back(std::move(pg));
  }
  return make_optimizer(c.kind, std::move(groups));
}

// Sets the gradients of step k (none where the fixture row is NaN).
void set_grads(const OptCase& c, std::vector<Tensor>& params, int64_t k) {
  for (size_t j = 0; j < params.size(); ++j) {
    Tensor g = fx(c.name + ".p" + std::to_string(j) + ".grads").select(0, k);
    if (std::isnan(g.reshape({-1}).select(0, 0).item())) continue;
    params[j].set_grad(g.to(params[j].dtype()).clone());
  }
}

}  // namespace

TEST_CASE("optimizers follow torch.optim trajectories step for step", "[optim]") {
  const auto cases = optimizer_cases();
  REQUIRE(cases.size() >= 18);
  for (const OptCase& c : cases) {
    for (DType dt : {DType::f64, DType::f32}) {
      INFO("case " << c.name << " (" << dtype_name(dt) << ")");
      const double atol = dt == DType::f64 ? 1e-12 : 2e-5, rtol = dt == DType::f64 ? 1e-12 : 1e-4;
      std::vector<Tensor> params;
      auto opt = build(c, dt, params);
      for (int64_t k = 0; k < 10; ++k) {
        INFO("step " << k + 1);
        opt->zero_grad();
        set_grads(c, params, k);
        opt->step();
        for (size_t j = 0; j < params.size(); ++j) {
          REQUIRE(params[j].dtype() == dt);
          REQUIRE_CLOSE(params[j], fx(c.name + ".p" + std::to_string(j) + ".traj").select(0, k), atol, rtol);
        }
      }
    }
  }
}

TEST_CASE("optimizer state_dict round trip continues identically", "[optim]") {
  for (const OptCase& c : optimizer_cases()) {
    INFO("case " << c.name);
    std::vector<Tensor> pa, pb;
    auto a = build(c, DType::f64, pa);
    for (int64_t k = 0; k < 4; ++k) {
      a->zero_grad();
      set_grads(c, pa, k);
      a->step();
    }
    // Through the safetensors bytes, as a checkpoint would store it.
    const SafetensorsFile saved = parse_safetensors(serialize_safetensors(a->state_dict()));
    auto b = build(c, DType::f64, pb);
    for (size_t j = 0; j < pa.size(); ++j) {
      NoGradGuard ng;
      pb[j].copy_(pa[j]);
    }
    // Hyper-parameters come from the dictionary, not the constructor.
    for (auto& g : b->param_groups()) g.set_lr(123.0);
    b->load_state_dict(saved.tensors);
    for (size_t g = 0; g < a->param_groups().size(); ++g)
      REQUIRE(b->param_groups()[g].lr() == a->param_groups()[g].lr());
    for (int64_t k = 4; k < 10; ++k) {
      a->zero_grad();
      b->zero_grad();
      set_grads(c, pa, k);
      set_grads(c, pb, k);
      a->step();
      b->step();
      for (size_t j = 0; j < pa.size(); ++j) REQUIRE(equal(pa[j], pb[j]));
    }
  }
}

TEST_CASE("optimizer state_dict keys and load validation", "[optim]") {
  Tensor w = zeros({2, 3}).requires_grad_(true), b = zeros({3}).requires_grad_(true);
  Adam opt(std::vector<Tensor>{w, b}, AdamOptions{.lr = 0.01, .amsgrad = true});
  w.set_grad(ones({2, 3}));
  opt.step();  // b has no grad: no state for it
  StateDict d = opt.state_dict();
  for (const char* k : {"state.0.step", "state.0.exp_avg", "state.0.exp_avg_sq", "state.0.max_exp_avg_sq",
                        "param_groups.0.lr", "param_groups.0.beta1", "param_groups.0.beta2", "param_groups.0.eps",
                        "param_groups.0.weight_decay", "param_groups.0.amsgrad", "param_groups.0.params"})
    REQUIRE(d.count(k));
  REQUIRE(d.count("state.1.step") == 0);
  REQUIRE(d.at("param_groups.0.lr").dtype() == DType::f64);
  REQUIRE(d.at("param_groups.0.lr").dim() == 0);
  REQUIRE(d.at("state.0.step").item() == 1.0);

  StateDict bad = d;
  bad["state.0.exp_avg"] = zeros({3, 2});
  bad["state.7.exp_avg"] = zeros({3});
  bad["param_groups.0.momentum"] = scalar_tensor(0.9, DType::f64);
  bad.erase("param_groups.0.eps");
  bad.erase("state.0.max_exp_avg_sq");
  bad["nonsense"] = zeros({1});
  try {
    opt.load_state_dict(bad);
    FAIL("expected an Error");
  } catch (const Error& e) {
    const std::string msg = e.what();
    CHECK_THAT(msg, Contains("state.0.exp_avg' has shape [3, 2]"));
    CHECK_THAT(msg, Contains("unexpected key 'state.7.exp_avg'"));
    CHECK_THAT(msg, Contains("unexpected key 'param_groups.0.momentum'"));
    CHECK_THAT(msg, Contains("missing key 'param_groups.0.eps'"));
    CHECK_THAT(msg, Contains("missing key 'state.0.max_exp_avg_sq'"));
    CHECK_THAT(msg, Contains("unexpected key 'nonsense'"));
  }
  // Nothing changed on failure.
  REQUIRE(opt.param_groups()[0].lr() == 0.01);
  REQUIRE(opt.state(0).count("max_exp_avg_sq"));
}

TEST_CASE("parameter groups override defaults; zero_grad; argument errors", "[optim]") {
  Tensor a = ones({2}).requires_grad_(true), b = ones({2}).requires_grad_(true);
  SGD opt(std::vector<ParamGroup>{{{a}}, {{b}, {{"lr", 0.5}}}}, SGDOptions{.lr = 0.1, .momentum = 0.0});
  REQUIRE(opt.param_groups()[0].lr() == 0.1);
  REQUIRE(opt.param_groups()[1].lr() == 0.5);
  REQUIRE(opt.param_groups()[1].get("weight_decay") == 0.0);
  a.set_grad(ones({2}));
  b.set_grad(ones({2}));
  opt.step();
  REQUIRE_CLOSE(a, full({2}, 0.9), 1e-7, 0);
  REQUIRE_CLOSE(b, full({2}, 0.5), 1e-7, 0);
  REQUIRE_FALSE(a.grad_fn());  // the update records no history
  opt.zero_grad();
  REQUIRE_FALSE(a.grad().defined());
  opt.step();  // no grads: nothing moves
  REQUIRE_CLOSE(a, full({2}, 0.9), 1e-7, 0);

  REQUIRE_THROWS_WITH(SGD(std::vector<ParamGroup>{{{a}, {{"betas", 0.5}}}}), Contains("unknown option 'betas'"));
  REQUIRE_THROWS_WITH(SGD(std::vector<Tensor>{a, a}), Contains("twice"));
  REQUIRE_THROWS_WITH(SGD(std::vector<ParamGroup>{{{a}}, {{a}}}), Contains("more than one parameter group"));
  REQUIRE_THROWS_WITH(SGD(std::vector<Tensor>{a}, SGDOptions{.lr = 0.1, .nesterov = true}), Contains("Nesterov"));
  REQUIRE_THROWS_WITH(Adam(std::vector<Tensor>{a}, AdamOptions{.beta1 = 1.0}), Contains("beta1"));
  REQUIRE_THROWS_WITH(SGD(std::vector<Tensor>{zeros({2}, DType::i64)}), Contains("floating"));
  opt.add_param_group({{zeros({3}).requires_grad_(true)}, {{"momentum", 0.9}}});
  REQUIRE(opt.param_groups().size() == 3);
  REQUIRE(opt.param_groups()[2].lr() == 0.1);
}

TEST_CASE("clip_grad_norm_ and clip_grad_value_", "[optim]") {
  Tensor a = zeros({2}, DType::f64).requires_grad_(true), b = zeros({1}, DType::f64).requires_grad_(true);
  Tensor c = zeros({1}, DType::f64).requires_grad_(true);  // no grad: skipped
  a.set_grad(from_vector<double>({3, -4}, {2}));
  b.set_grad(from_vector<double>({12}, {1}));
  Tensor total = clip_grad_norm_({a, b, c}, 1.0);
  REQUIRE(total.item() == Approx(13.0));
  const double coef = 1.0 / (13.0 + 1e-6);
  REQUIRE_CLOSE(a.grad(), from_vector<double>({3 * coef, -4 * coef}, {2}), 1e-15, 1e-14);
  REQUIRE_CLOSE(b.grad(), from_vector<double>({12 * coef}, {1}), 1e-15, 1e-14);
  REQUIRE_FALSE(c.grad().defined());
  // Below max_norm: the coefficient clamps to 1, gradients unchanged.
  a.set_grad(from_vector<double>({0.3, 0.4}, {2}));
  b.set_grad(from_vector<double>({0.0}, {1}));
  REQUIRE(clip_grad_norm_({a, b}, 1.0).item() == Approx(0.5));
  REQUIRE_CLOSE(a.grad(), from_vector<double>({0.3, 0.4}, {2}), 0, 0);
  // Infinity and 1-norms.
  a.set_grad(from_vector<double>({3, -4}, {2}));
  b.set_grad(from_vector<double>({2}, {1}));
  REQUIRE(clip_grad_norm_({a, b}, 2.0, kInfNorm).item() == Approx(4.0));
  REQUIRE_CLOSE(a.grad(), from_vector<double>({3 * 2 / (4 + 1e-6), -4 * 2 / (4 + 1e-6)}, {2}), 1e-15, 1e-14);
  a.set_grad(from_vector<double>({3, -4}, {2}));
  b.set_grad(from_vector<double>({2}, {1}));
  REQUIRE(clip_grad_norm_({a, b}, 100.0, 1.0).item() == Approx(9.0));
  REQUIRE(clip_grad_norm_({c}, 1.0).item() == 0.0);

  a.set_grad(from_vector<double>({3, -4}, {2}));
  clip_grad_value_({a, c}, 3.5);
  REQUIRE_CLOSE(a.grad(), from_vector<double>({3, -3.5}, {2}), 0, 0);
}
