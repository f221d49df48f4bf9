// LR schedulers: 30-step lr sequences against torch.optim.lr_scheduler
// (tests/fixtures/optim_parity.safetensors), momentum cycling, state_dict round trip.
#include <memory>
#include <string>

#include "galen/core/json.h"
#include "test_util.h"

using namespace galen;
using namespace galen::optim;
using Catch::Matchers::Contains;

namespace {

const SafetensorsFile& fixture() {
  static const SafetensorsFile f = load_safetensors(std::string(GALEN_FIXTURES_DIR) + "/optim_parity.safetensors");
  return f;
}

double num(const json::Value& m, const char* k) { return m.find(k)->as_double(); }
int64_t inum(const json::Value& m, const char* k) { return static_cast<int64_t>(m.find(k)->as_double()); }
std::vector<double> nums(const json::Value& m, const char* k) {
  std::vector<double> v;
  for (const auto& x : m.find(k)->as_array()) v.push_back(x.as_double());
  return v;
}

struct Setup {
  std::vector<Tensor> params;
  std::unique_ptr<Optimizer> opt;
  std::unique_ptr<LRScheduler> sched;
  std::unique_ptr<ReduceLROnPlateau> plateau;
};

Setup make(const json::Value& m) {
  Setup s;
  std::vector<ParamGroup> groups;
  for (double lr : nums(m, "lrs")) {
    s.params.push_back(zeros({2}).requires_grad_(true));
    groups.push_back({{s.params.back()}, {{"lr", lr}}});
  }
  const std::string o = m.find("optimizer")->as_string();
  if (o == "SGD") {
    // onecycle_momentum_sgd was made with momentum 0.9
    s.opt = std::make_unique<SGD>(std::move(groups), SGDOptions{.momentum = 0.9});
  } else {
    s.opt = std::make_unique<Adam>(std::move(groups));
  }
  const std::string k = m.find("scheduler")->as_string();
  Optimizer& opt = *s.opt;
  if (k == "StepLR") s.sched = std::make_unique<StepLR>(opt, inum(m, "step_size"), num(m, "gamma"));
  if (k == "MultiStepLR") {
    std::vector<int64_t> ms;
    for (double v : nums(m, "milestones")) ms.push_back(static_cast<int64_t>(v));
    s.sched = std::make_unique<MultiStepLR>(opt, ms, num(m, "gamma"));
  }
  if (k == "ExponentialLR") s.sched = std::make_unique<ExponentialLR>(opt, num(m, "gamma"));
  if (k == "CosineAnnealingLR") s.sched = std::make_unique<CosineAnnealingLR>(opt, inum(m, "T_max"), num(m, "eta_min"));
  if (k == "LinearLR")
    s.sched = std::make_unique<LinearLR>(opt, num(m, "start_factor"), num(m, "end_factor"), inum(m, "total_iters"));
  if (k == "OneCycleLR") {
    OneCycleOptions o1;
    o1.total_steps = inum(m, "total_steps");
    o1.pct_start = num(m, "pct_start");
    o1.anneal_strategy = m.find("anneal")->as_string() == "cos" ? OneCycleOptions::Anneal::Cos
                                                                 : OneCycleOptions::Anneal::Linear;
    o1.div_factor = num(m, "div_factor");
    o1.final_div_factor = num(m, "final_div_factor");
    o1.cycle_momentum = num(m, "cycle_momentum") != 0;
    if (m.find("base_momentum")) o1.base_momentum = num(m, "base_momentum");
    if (m.find("max_momentum")) o1.max_momentum = num(m, "max_momentum");
    s.sched = std::make_unique<OneCycleLR>(opt, nums(m, "max_lr"), o1);
  }
  if (k == "ReduceLROnPlateau") {
    PlateauOptions p;
    p.mode = m.find("mode")->as_string() == "min" ? PlateauOptions::Mode::Min : PlateauOptions::Mode::Max;
    p.factor = num(m, "factor");
    p.patience = inum(m, "patience");
    p.threshold = num(m, "threshold");
    p.threshold_mode = m.find("threshold_mode")->as_string() == "rel" ? PlateauOptions::ThresholdMode::Rel
                                                                        : PlateauOptions::ThresholdMode::Abs;
    p.cooldown = inum(m, "cooldown");
    p.min_lr = nums(m, "min_lr");
    p.eps = num(m, "eps");
    s.plateau = std::make_unique<ReduceLROnPlateau>(opt, p);
  }
  REQUIRE((s.sched || s.plateau));
  return s;
}

std::vector<double> lrs_of(const Optimizer& o) {
  std::vector<double> v;
  for (const auto& g : o.param_groups()) v.push_back(g.lr());
  return v;
}

}  // namespace

TEST_CASE("LR schedulers match torch.optim.lr_scheduler for 30 steps", "[optim]") {
  int n = 0;
  for (const auto& [name, text] : fixture().metadata) {
    if (name.rfind("__", 0) == 0) continue;
    const json::Value m = json::parse(text);
    if (m.find("kind")->as_string() != "scheduler") continue;
    ++n;
    INFO("case " << name << " " << text);
    Setup s = make(m);
    const Tensor& lrs = fixture().tensors.at(name + ".lrs");
    auto mom_it = fixture().tensors.find(name + ".momentum");
    const bool has_mom = mom_it != fixture().tensors.end();
    const std::string mom_key = m.find("optimizer")->as_string() == "SGD" ? "momentum" : "beta1";
    std::vector<double> metrics;
    if (s.plateau) metrics = fixture().tensors.at(name + ".metrics").to_vector<double>();
    for (int64_t k = 0; k <= 30; ++k) {
      INFO("after " << k << " steps");
      if (k > 0) {
        s.opt->step();
        if (s.plateau) s.plateau->step(metrics[static_cast<size_t>(k - 1)]);
        else s.sched->step();
      }
      const std::vector<double> got = lrs_of(*s.opt);
      REQUIRE_CLOSE(from_vector<double>(got, {static_cast<int64_t>(got.size())}), lrs.select(0, k), 1e-15, 1e-12);
      const std::vector<double> last = s.plateau ? s.plateau->get_last_lr() : s.sched->get_last_lr();
      REQUIRE(last == got);
      if (has_mom) {
        for (size_t g = 0; g < got.size(); ++g)
          REQUIRE(s.opt->param_groups()[g].get(mom_key) ==
                  Approx(mom_it->second.select(0, k).select(0, static_cast<int64_t>(g)).item()).epsilon(1e-12));
      }
    }
  }
  REQUIRE(n >= 14);
}

TEST_CASE("scheduler state_dict round trip", "[optim]") {
  for (const char* name : {"cosine_lr", "step_lr", "onecycle_cos", "plateau_min_abs_cooldown", "linear_lr"}) {
    INFO(name);
    const json::Value m = json::parse(fixture().metadata.at(name));
    const bool plateau = m.find("scheduler")->as_string() == "ReduceLROnPlateau";
    std::vector<double> metrics;
    if (plateau) metrics = fixture().tensors.at(std::string(name) + ".metrics").to_vector<double>();
    auto advance = [&](Setup& s, int64_t k) {
      if (s.plateau) s.plateau->step(metrics[static_cast<size_t>(k)]);
      else s.sched->step();
    };
    Setup a = make(m);
    for (int64_t k = 0; k < 11; ++k) advance(a, k);
    const StateDict sd = plateau ? a.plateau->state_dict() : a.sched->state_dict();
    const StateDict od = a.opt->state_dict();
    Setup b = make(m);
    b.opt->load_state_dict(od);
    if (plateau) b.plateau->load_state_dict(sd);
    else b.sched->load_state_dict(sd);
    for (int64_t k = 11; k < 30; ++k) {
      advance(a, k);
      advance(b, k);
      REQUIRE(lrs_of(*a.opt) == lrs_of(*b.opt));
    }
    StateDict bad = sd;
    bad.erase("last_epoch");
    bad["junk"] = zeros({1});
    if (plateau) {
      REQUIRE_THROWS_WITH(b.plateau->load_state_dict(bad), Contains("missing key 'last_epoch'") && Contains("junk"));
    } else {
      REQUIRE_THROWS_WITH(b.sched->load_state_dict(bad), Contains("missing key 'last_epoch'") && Contains("junk"));
    }
  }
}

TEST_CASE("scheduler argument errors", "[optim]") {
  Tensor p = zeros({2}).requires_grad_(true);
  SGD opt(std::vector<Tensor>{p}, SGDOptions{.lr = 0.1});
  REQUIRE_THROWS_WITH(StepLR(opt, 0), Contains("step_size"));
  REQUIRE_THROWS_WITH(ReduceLROnPlateau(opt, PlateauOptions{.factor = 1.0}), Contains("factor"));
  OneCycleOptions o;
  o.total_steps = 3;
  OneCycleLR one(opt, 1.0, o);
  one.step();
  one.step();
  one.step();
  REQUIRE_THROWS_WITH(one.step(), Contains("total_steps"));
  o.cycle_momentum = true;
  Adagrad ada(std::vector<Tensor>{p});
  REQUIRE_THROWS_WITH(OneCycleLR(ada, 1.0, o), Contains("cycle_momentum"));
}
