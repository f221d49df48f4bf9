// Learning-rate schedulers, value for value as torch.optim.lr_scheduler (1.13,
// chainable forms). A scheduler sets the "lr" of every parameter group of its
// optimizer; constructing one performs PyTorch's initial step (last_epoch 0).
// Call step() once per epoch (or per batch for OneCycleLR) after
// optimizer.step(); ReduceLROnPlateau::step(metric) after validation.
// state_dict(): 0-d f64 tensors "last_epoch", "base_lrs.<g>", "last_lr.<g>" and
// each scheduler's own counters.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "galen/optim/optimizer.h"

namespace galen::optim {

class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;

  virtual std::string name() const = 0;
  void step();
  std::vector<double> get_last_lr() const { return last_lr_; }
  int64_t last_epoch() const { return last_epoch_; }
  const std::vector<double>& base_lrs() const { return base_lrs_; }

  StateDict state_dict() const;
  // Error listing missing / unexpected / malformed keys; nothing changes then.
  void load_state_dict(const StateDict& dict);

 protected:
  explicit LRScheduler(Optimizer& opt);
  // The constructor step; derived constructors call it last.
  void initial_step();
  // New lr per group at last_epoch_ (may read the groups' current lr).
  virtual std::vector<double> get_lr() = 0;
  // Scheduler-specific mutable state saved in state_dict.
  virtual void scalar_state(std::vector<std::pair<std::string, double*>>& out) {}
  std::vector<double> group_lrs() const;

  Optimizer& opt_;
  int64_t last_epoch_ = -1;
  std::vector<double> base_lrs_;
  std::vector<double> last_lr_;
};

// lr *= gamma every step_size epochs.
class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& opt, int64_t step_size, double gamma = 0.1);
  std::string name() const override { return "StepLR"; }

 protected:
  std::vector<double> get_lr() override;

 private:
  int64_t step_size_;
  double gamma_;
};

// lr *= gamma at each milestone (a milestone listed k times multiplies by gamma^k).
class MultiStepLR : public LRScheduler {
 public:
  MultiStepLR(Optimizer& opt, std::vector<int64_t> milestones, double gamma = 0.1);
  std::string name() const override { return "MultiStepLR"; }

 protected:
  std::vector<double> get_lr() override;

 private:
  std::vector<int64_t> milestones_;
  double gamma_;
};

// lr *= gamma every epoch.
class ExponentialLR : public LRScheduler {
 public:
  ExponentialLR(Optimizer& opt, double gamma);
  std::string name() const override { return "ExponentialLR"; }

 protected:
  std::vector<double> get_lr() override;

 private:
  double gamma_;
};

// Cosine annealing from the base lr to eta_min over T_max epochs (then back
// up: PyTorch's recursive form, which is periodic with period 2 T_max).
class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& opt, int64_t T_max, double eta_min = 0.0);
  std::string name() const override { return "CosineAnnealingLR"; }

 protected:
  std::vector<double> get_lr() override;

 private:
  int64_t t_max_;
  double eta_min_;
};

// Linear warm-up: the factor goes from start_factor to end_factor over total_iters epochs.
class LinearLR : public LRScheduler {
 public:
  LinearLR(Optimizer& opt, double start_factor = 1.0 / 3.0, double end_factor = 1.0, int64_t total_iters = 5);
  std::string name() const override { return "LinearLR"; }

 protected:
  std::vector<double> get_lr() override;

 private:
  double start_, end_;
  int64_t total_;
};

// The 1cycle policy (two phases, three_phase=false): lr rises from
// max_lr/div_factor to max_lr over pct_start of total_steps, then anneals to
// initial_lr/final_div_factor. Stepped once per batch; stepping past
// total_steps is an Error. Momentum cycling (PyTorch's default) is off by
// default here; with cycle_momentum the group's "momentum" (SGD, RMSprop) or
// "beta1" (Adam) goes from max_momentum down to base_momentum and back.
struct OneCycleOptions {
  int64_t total_steps = 0;  // required
  double pct_start = 0.3;
  enum class Anneal { Cos, Linear } anneal_strategy = Anneal::Cos;
  double div_factor = 25.0;
  double final_div_factor = 1e4;
  bool cycle_momentum = false;
  double base_momentum = 0.85;
  double max_momentum = 0.95;
};
class OneCycleLR : public LRScheduler {
 public:
  OneCycleLR(Optimizer& opt, double max_lr, OneCycleOptions o);
  OneCycleLR(Optimizer& opt, std::vector<double> max_lrs, OneCycleOptions o);  // one per group
  std::string name() const override { return "OneCycleLR"; }
  int64_t total_steps() const { return o_.total_steps; }

 protected:
  std::vector<double> get_lr() override;

 private:
  double anneal(double start, double end, double pct) const;
  std::string momentum_key(const ParamGroup& g) const;
  OneCycleOptions o_;
  std::vector<double> initial_lrs_, max_lrs_, min_lrs_;
};

// Divides the lr by 1/factor when a metric stopped improving for `patience`
// epochs (PyTorch's ReduceLROnPlateau: rel/abs threshold, cooldown, min_lr, eps).
struct PlateauOptions {
  enum class Mode { Min, Max } mode = Mode::Min;
  double factor = 0.1;
  int64_t patience = 10;
  double threshold = 1e-4;
  enum class ThresholdMode { Rel, Abs } threshold_mode = ThresholdMode::Rel;
  int64_t cooldown = 0;
  std::vector<double> min_lr = {0.0};  // one value for all groups, or one per group
  double eps = 1e-8;
};
class ReduceLROnPlateau {
 public:
  ReduceLROnPlateau(Optimizer& opt, PlateauOptions o = {});
  std::string name() const { return "ReduceLROnPlateau"; }
  void step(double metric);
  std::vector<double> get_last_lr() const { return last_lr_; }
  int64_t last_epoch() const { return last_epoch_; }
  int64_t num_bad_epochs() const { return static_cast<int64_t>(num_bad_); }
  double best() const { return best_; }
  StateDict state_dict() const;
  void load_state_dict(const StateDict& dict);

 private:
  bool is_better(double a) const;
  std::vector<std::pair<std::string, double*>> fields();
  Optimizer& opt_;
  PlateauOptions o_;
  std::vector<double> min_lrs_;
  double best_;
  double num_bad_ = 0, cooldown_counter_ = 0;
  int64_t last_epoch_ = 0;
  std::vector<double> last_lr_;
};

}  // namespace galen::optim
