// LR schedulers: PyTorch 1.13's chainable get_lr() formulas, evaluated in the
// same order so the values agree to rounding.
#include "galen/optim/scheduler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <set>
#include <sstream>

#include "galen/core/ops.h"

namespace galen::optim {

namespace {

StateDict to_dict(const std::vector<std::pair<std::string, double*>>& fields) {
  StateDict d;
  for (const auto& [k, p] : fields) d[k] = scalar_tensor(*p, DType::f64);
  return d;
}

// Checks `dict` has exactly the keys of `fields`, each one number, then assigns.
void from_dict(const std::string& who, const StateDict& dict,
               const std::vector<std::pair<std::string, double*>>& fields) {
  std::vector<std::string> problems;
  std::set<std::string> known;
  for (const auto& [k, p] : fields) {
    known.insert(k);
    auto it = dict.find(k);
    if (it == dict.end()) problems.push_back("missing key '" + k + "'");
    else if (it->second.numel() != 1)
      problems.push_back("'" + k + "' must hold one number, got shape " + shape_str(it->second.sizes()));
  }
  for (const auto& [k, t] : dict)
    if (!known.count(k)) problems.push_back("unexpected key '" + k + "'");
  if (!problems.empty()) {
    std::ostringstream os;
    os << who << "::load_state_dict: " << problems.size() << " problem(s):";
    for (const auto& s : problems) os << "\n  " << s;
    GALEN_FAIL(os.str());
  }
  for (const auto& [k, p] : fields) *p = dict.at(k).item();
}

double py_mod(int64_t a, int64_t b) { return static_cast<double>(((a % b) + b) % b); }

}  // namespace

// ---- base ------------------------------------------------------------------------------

LRScheduler::LRScheduler(Optimizer& opt) : opt_(opt) { base_lrs_ = group_lrs(); }

std::vector<double> LRScheduler::group_lrs() const {
  std::vector<double> v;
  for (const auto& g : opt_.param_groups()) v.push_back(g.lr());
  return v;
}

void LRScheduler::initial_step() { step(); }

void LRScheduler::step() {
  GALEN_CHECK(opt_.param_groups().size() == base_lrs_.size(), name(), ": the optimizer has ",
              opt_.param_groups().size(), " parameter groups, the scheduler was made for ", base_lrs_.size());
  ++last_epoch_;
  const std::vector<double> lrs = get_lr();
  auto& groups = opt_.param_groups();
  for (size_t g = 0; g < groups.size(); ++g) groups[g].set_lr(lrs[g]);
  last_lr_ = lrs;
}

StateDict LRScheduler::state_dict() const {
  auto* self = const_cast<LRScheduler*>(this);
  double epoch = static_cast<double>(last_epoch_);
  std::vector<std::pair<std::string, double*>> f = {{"last_epoch", &epoch}};
  for (size_t g = 0; g < base_lrs_.size(); ++g) f.emplace_back("base_lrs." + std::to_string(g), &self->base_lrs_[g]);
  for (size_t g = 0; g < last_lr_.size(); ++g) f.emplace_back("last_lr." + std::to_string(g), &self->last_lr_[g]);
  self->scalar_state(f);
  return to_dict(f);
}

void LRScheduler::load_state_dict(const StateDict& dict) {
  double epoch = 0;
  std::vector<double> base(base_lrs_.size()), last(base_lrs_.size());
  std::vector<std::pair<std::string, double*>> f = {{"last_epoch", &epoch}};
  for (size_t g = 0; g < base.size(); ++g) f.emplace_back("base_lrs." + std::to_string(g), &base[g]);
  for (size_t g = 0; g < last.size(); ++g) f.emplace_back("last_lr." + std::to_string(g), &last[g]);
  // Scheduler-specific fields are written in place only after validation:
  // collect them into temporaries first.
  std::vector<std::pair<std::string, double*>> own;
  scalar_state(own);
  std::vector<double> tmp(own.size());
  for (size_t i = 0; i < own.size(); ++i) f.emplace_back(own[i].first, &tmp[i]);
  from_dict(name(), dict, f);
  last_epoch_ = static_cast<int64_t>(epoch);
  base_lrs_ = base;
  last_lr_ = last;
  for (size_t i = 0; i < own.size(); ++i) *own[i].second = tmp[i];
}

// ---- StepLR / MultiStepLR / ExponentialLR ------------------------------------------------

StepLR::StepLR(Optimizer& opt, int64_t step_size, double gamma)
    : LRScheduler(opt), step_size_(step_size), gamma_(gamma) {
  GALEN_CHECK(step_size > 0, "StepLR: step_size must be positive, got ", step_size);
  initial_step();
}

std::vector<double> StepLR::get_lr() {
  std::vector<double> lrs = group_lrs();
  if (last_epoch_ == 0 || last_epoch_ % step_size_ != 0) return lrs;
  for (double& v : lrs) v *= gamma_;
  return lrs;
}

MultiStepLR::MultiStepLR(Optimizer& opt, std::vector<int64_t> milestones, double gamma)
    : LRScheduler(opt), milestones_(std::move(milestones)), gamma_(gamma) {
  initial_step();
}

std::vector<double> MultiStepLR::get_lr() {
  std::vector<double> lrs = group_lrs();
  const auto k = std::count(milestones_.begin(), milestones_.end(), last_epoch_);
  if (k == 0) return lrs;
  const double f = std::pow(gamma_, static_cast<double>(k));
  for (double& v : lrs) v *= f;
  return lrs;
}

ExponentialLR::ExponentialLR(Optimizer& opt, double gamma) : LRScheduler(opt), gamma_(gamma) { initial_step(); }

std::vector<double> ExponentialLR::get_lr() {
  std::vector<double> lrs = group_lrs();
  if (last_epoch_ == 0) return lrs;
  for (double& v : lrs) v *= gamma_;
  return lrs;
}

// ---- CosineAnnealingLR -------------------------------------------------------------------

CosineAnnealingLR::CosineAnnealingLR(Optimizer& opt, int64_t T_max, double eta_min)
    : LRScheduler(opt), t_max_(T_max), eta_min_(eta_min) {
  GALEN_CHECK(T_max > 0, "CosineAnnealingLR: T_max must be positive, got ", T_max);
  initial_step();
}

std::vector<double> CosineAnnealingLR::get_lr() {
  std::vector<double> lrs = group_lrs();
  if (last_epoch_ == 0) return lrs;
  const double pi = std::numbers::pi;
  const double T = static_cast<double>(t_max_);
  const double e = static_cast<double>(last_epoch_);
  if (py_mod(last_epoch_ - 1 - t_max_, 2 * t_max_) == 0) {
    for (size_t g = 0; g < lrs.size(); ++g)
      lrs[g] = lrs[g] + (base_lrs_[g] - eta_min_) * (1 - std::cos(pi / T)) / 2;
    return lrs;
  }
  for (double& v : lrs)
    v = (1 + std::cos(pi * e / T)) / (1 + std::cos(pi * (e - 1) / T)) * (v - eta_min_) + eta_min_;
  return lrs;
}

// ---- LinearLR ------------------------------------------------------------------------------

LinearLR::LinearLR(Optimizer& opt, double start_factor, double end_factor, int64_t total_iters)
    : LRScheduler(opt), start_(start_factor), end_(end_factor), total_(total_iters) {
  GALEN_CHECK(start_factor > 0 && start_factor <= 1, "LinearLR: start_factor must be in (0, 1], got ",
              start_factor);
  GALEN_CHECK(end_factor >= 0 && end_factor <= 1, "LinearLR: end_factor must be in [0, 1], got ", end_factor);
  GALEN_CHECK(total_iters > 0, "LinearLR: total_iters must be positive, got ", total_iters);
  initial_step();
}

std::vector<double> LinearLR::get_lr() {
  std::vector<double> lrs = group_lrs();
  if (last_epoch_ == 0) {
    for (double& v : lrs) v *= start_;
    return lrs;
  }
  if (last_epoch_ > total_) return lrs;
  const double f = 1.0 + (end_ - start_) / (static_cast<double>(total_) * start_ +
                                            static_cast<double>(last_epoch_ - 1) * (end_ - start_));
  for (double& v : lrs) v *= f;
  return lrs;
}

// ---- OneCycleLR ----------------------------------------------------------------------------

OneCycleLR::OneCycleLR(Optimizer& opt, double max_lr, OneCycleOptions o)
    : OneCycleLR(opt, std::vector<double>(opt.param_groups().size(), max_lr), o) {}

OneCycleLR::OneCycleLR(Optimizer& opt, std::vector<double> max_lrs, OneCycleOptions o)
    : LRScheduler(opt), o_(o), max_lrs_(std::move(max_lrs)) {
  auto& groups = opt_.param_groups();
  GALEN_CHECK(o.total_steps > 0, "OneCycleLR: total_steps must be positive, got ", o.total_steps);
  GALEN_CHECK(o.pct_start >= 0 && o.pct_start <= 1, "OneCycleLR: pct_start must be in [0, 1], got ", o.pct_start);
  GALEN_CHECK(max_lrs_.size() == groups.size(), "OneCycleLR: got ", max_lrs_.size(), " max_lr values for ",
              groups.size(), " parameter groups");
  for (size_t g = 0; g < groups.size(); ++g) {
    initial_lrs_.push_back(max_lrs_[g] / o.div_factor);
    min_lrs_.push_back(initial_lrs_[g] / o.final_div_factor);
    groups[g].set_lr(initial_lrs_[g]);
    if (o.cycle_momentum) groups[g].set(momentum_key(groups[g]), o.max_momentum);
  }
  base_lrs_ = initial_lrs_;
  initial_step();
}

std::string OneCycleLR::momentum_key(const ParamGroup& g) const {
  if (g.has("beta1")) return "beta1";
  GALEN_CHECK(g.has("momentum"), "OneCycleLR: cycle_momentum needs an optimizer with 'momentum' or 'beta1'");
  return "momentum";
}

double OneCycleLR::anneal(double start, double end, double pct) const {
  if (o_.anneal_strategy == OneCycleOptions::Anneal::Linear) return (end - start) * pct + start;
  const double cos_out = std::cos(std::numbers::pi * pct) + 1;
  return end + (start - end) / 2.0 * cos_out;
}

std::vector<double> OneCycleLR::get_lr() {
  GALEN_CHECK(last_epoch_ <= o_.total_steps, "OneCycleLR: tried to step ", last_epoch_,
              " times, more than total_steps = ", o_.total_steps);
  const double step = static_cast<double>(last_epoch_);
  const double end0 = o_.pct_start * static_cast<double>(o_.total_steps) - 1;
  const double end1 = static_cast<double>(o_.total_steps) - 1;
  auto& groups = opt_.param_groups();
  std::vector<double> lrs(groups.size());
  for (size_t g = 0; g < groups.size(); ++g) {
    double lr, mom;
    if (step <= end0) {
      const double pct = step / end0;
      lr = anneal(initial_lrs_[g], max_lrs_[g], pct);
      mom = anneal(o_.max_momentum, o_.base_momentum, pct);
    } else {
      const double pct = (step - end0) / (end1 - end0);
      lr = anneal(max_lrs_[g], min_lrs_[g], pct);
      mom = anneal(o_.base_momentum, o_.max_momentum, pct);
    }
    lrs[g] = lr;
    if (o_.cycle_momentum) groups[g].set(momentum_key(groups[g]), mom);
  }
  return lrs;
}

// ---- ReduceLROnPlateau ---------------------------------------------------------------------

ReduceLROnPlateau::ReduceLROnPlateau(Optimizer& opt, PlateauOptions o) : opt_(opt), o_(std::move(o)) {
  GALEN_CHECK(o_.factor < 1.0, "ReduceLROnPlateau: factor must be < 1, got ", o_.factor);
  const size_t n = opt_.param_groups().size();
  if (o_.min_lr.size() == 1) min_lrs_.assign(n, o_.min_lr[0]);
  else min_lrs_ = o_.min_lr;
  GALEN_CHECK(min_lrs_.size() == n, "ReduceLROnPlateau: got ", o_.min_lr.size(), " min_lr values for ", n,
              " parameter groups");
  best_ = o_.mode == PlateauOptions::Mode::Min ? std::numeric_limits<double>::infinity()
                                               : -std::numeric_limits<double>::infinity();
  for (const auto& g : opt_.param_groups()) last_lr_.push_back(g.lr());
}

bool ReduceLROnPlateau::is_better(double a) const {
  const bool rel = o_.threshold_mode == PlateauOptions::ThresholdMode::Rel;
  if (o_.mode == PlateauOptions::Mode::Min)
    return rel ? a < best_ * (1.0 - o_.threshold) : a < best_ - o_.threshold;
  return rel ? a > best_ * (o_.threshold + 1.0) : a > best_ + o_.threshold;
}

void ReduceLROnPlateau::step(double metric) {
  last_epoch_ += 1;
  if (is_better(metric)) {
    best_ = metric;
    num_bad_ = 0;
  } else {
    num_bad_ += 1;
  }
  if (cooldown_counter_ > 0) {
    cooldown_counter_ -= 1;
    num_bad_ = 0;
  }
  if (num_bad_ > static_cast<double>(o_.patience)) {
    auto& groups = opt_.param_groups();
    for (size_t g = 0; g < groups.size(); ++g) {
      const double old_lr = groups[g].lr();
      const double new_lr = std::max(old_lr * o_.factor, min_lrs_[g]);
      if (old_lr - new_lr > o_.eps) groups[g].set_lr(new_lr);
    }
    cooldown_counter_ = static_cast<double>(o_.cooldown);
    num_bad_ = 0;
  }
  last_lr_.clear();
  for (const auto& g : opt_.param_groups()) last_lr_.push_back(g.lr());
}

std::vector<std::pair<std::string, double*>> ReduceLROnPlateau::fields() {
  return {{"best", &best_}, {"num_bad_epochs", &num_bad_}, {"cooldown_counter", &cooldown_counter_}};
}

StateDict ReduceLROnPlateau::state_dict() const {
  auto* self = const_cast<ReduceLROnPlateau*>(this);
  double epoch = static_cast<double>(last_epoch_);
  auto f = self->fields();
  f.emplace_back("last_epoch", &epoch);
  for (size_t g = 0; g < last_lr_.size(); ++g) f.emplace_back("last_lr." + std::to_string(g), &self->last_lr_[g]);
  return to_dict(f);
}

void ReduceLROnPlateau::load_state_dict(const StateDict& dict) {
  double best = 0, bad = 0, cool = 0, epoch = 0;
  std::vector<double> last(last_lr_.size());
  std::vector<std::pair<std::string, double*>> f = {
      {"best", &best}, {"num_bad_epochs", &bad}, {"cooldown_counter", &cool}, {"last_epoch", &epoch}};
  for (size_t g = 0; g < last.size(); ++g) f.emplace_back("last_lr." + std::to_string(g), &last[g]);
  from_dict(name(), dict, f);
  best_ = best;
  num_bad_ = bad;
  cooldown_counter_ = cool;
  last_epoch_ = static_cast<int64_t>(epoch);
  last_lr_ = last;
}

}  // namespace galen::optim
