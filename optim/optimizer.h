// Optimizer: the base of SGD, Adam/AdamW, RMSprop and Adagrad. It holds
// parameter groups (each with its own hyper-parameters, defaulting to the
// optimizer's), per-parameter state on the parameter's device, and a flat
// state_dict() that a checkpoint can save as safetensors:
//   "state.<i>.<name>"        per-parameter state (i = index over all groups' params)
//   "param_groups.<g>.<opt>"  hyper-parameters, 0-d f64 tensors
#pragma once

#include <map>
#include <string>
#include <vector>

#include "galen/core/tensor.h"

namespace galen::optim {

using StateDict = std::map<std::string, Tensor>;

// Hyper-parameters are named numbers ("lr", "weight_decay", "momentum",
// "beta1", ...; booleans are 0/1) so groups, schedulers and state_dict treat
// every optimizer alike.
using Options = std::map<std::string, double>;

struct ParamGroup {
  std::vector<Tensor> params;
  // Per-group overrides; missing keys are filled with the optimizer's defaults
  // when the group is added, unknown keys are an Error.
  Options options;

  ParamGroup() = default;
  ParamGroup(std::vector<Tensor> p, Options o = {}) : params(std::move(p)), options(std::move(o)) {}  // NOLINT
  double get(const std::string& key) const;  // Error naming the key if absent
  void set(const std::string& key, double value) { options[key] = value; }
  bool has(const std::string& key) const { return options.count(key) != 0; }
  double lr() const { return get("lr"); }
  void set_lr(double v) { set("lr", v); }
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  virtual std::string name() const = 0;
  // One update of every parameter that has a gradient (others are skipped),
  // in place and without recording autograd history.
  void step();
  // Drops every parameter's .grad (PyTorch's set_to_none=True).
  void zero_grad();

  std::vector<ParamGroup>& param_groups() { return groups_; }
  const std::vector<ParamGroup>& param_groups() const { return groups_; }
  // Adds a group; its missing options take the defaults. A parameter may
  // belong to one group only.
  void add_param_group(ParamGroup group);
  const Options& defaults() const { return defaults_; }

  // Copies of the state (see the header comment); hyper-parameters as 0-d f64.
  StateDict state_dict() const;
  // Validates the whole dictionary first (unknown keys, missing
  // hyper-parameters, incomplete per-parameter state, wrong shapes, parameter
  // count) and throws one Error listing every problem; otherwise replaces the
  // hyper-parameters and the state (cast to each parameter's dtype / device).
  void load_state_dict(const StateDict& dict);

  // State of the parameter with flat index i (empty if it has none yet).
  const std::map<std::string, Tensor>& state(int64_t i) const;
  int64_t num_params() const;

 protected:
  explicit Optimizer(Options defaults) : defaults_(std::move(defaults)) {}
  // Called by each derived constructor (virtual calls do not reach a derived
  // class from the base constructor).
  void init_groups(std::vector<ParamGroup> groups);
  // The update of one parameter: `param` and `grad` are plain (no history),
  // `st` is that parameter's state (empty the first time).
  virtual void update(const ParamGroup& group, Tensor& param, const Tensor& grad,
                      std::map<std::string, Tensor>& st) = 0;
  // Names of the state a parameter of `group` has once it was updated
  // (used to validate load_state_dict).
  virtual std::vector<std::string> state_names(const ParamGroup& group) const = 0;
  // Per-optimizer checks of a group's options (ranges), throwing an Error.
  virtual void check_options(const Options& o) const {}

  std::map<int64_t, std::map<std::string, Tensor>> state_;  // by flat parameter index

 private:
  std::vector<ParamGroup> groups_;
  Options defaults_;
};

// Shared by the optimizers: reads a 0-d "step" counter, writes it back + 1.
double increment_step(std::map<std::string, Tensor>& st);

}  // namespace galen::optim
