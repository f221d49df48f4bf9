// Adagrad update, as torch.optim.Adagrad (1.13): state is created for every
// parameter at construction (sum = initial_accumulator_value), then
//   g += wd p;  clr = lr / (1 + (t-1) lr_decay);  sum += g^2;  p -= clr g / (sqrt(sum) + eps)
#include "galen/optim/adagrad.h"

#include "galen/core/ops.h"

namespace galen::optim {

Options AdagradOptions::to_map() const {
  return {{"lr", lr},
          {"lr_decay", lr_decay},
          {"weight_decay", weight_decay},
          {"initial_accumulator_value", initial_accumulator_value},
          {"eps", eps}};
}

Adagrad::Adagrad(std::vector<Tensor> params, AdagradOptions opts)
    : Adagrad(std::vector<ParamGroup>{ParamGroup(std::move(params))}, opts) {}
Adagrad::Adagrad(std::vector<ParamGroup> groups, AdagradOptions opts) : Optimizer(opts.to_map()) {
  init_groups(std::move(groups));
  int64_t i = 0;
  for (const auto& g : param_groups()) {
    for (const Tensor& p : g.params) {
      auto& st = state_[i++];
      st["step"] = scalar_tensor(0.0, DType::f64);
      st["sum"] = full_like(p, g.get("initial_accumulator_value"));
    }
  }
}

void Adagrad::check_options(const Options& o) const {
  GALEN_CHECK(o.at("lr") >= 0, "Adagrad: invalid learning rate ", o.at("lr"));
  GALEN_CHECK(o.at("lr_decay") >= 0, "Adagrad: invalid lr_decay ", o.at("lr_decay"));
  GALEN_CHECK(o.at("weight_decay") >= 0, "Adagrad: invalid weight_decay ", o.at("weight_decay"));
  GALEN_CHECK(o.at("initial_accumulator_value") >= 0, "Adagrad: invalid initial_accumulator_value ",
              o.at("initial_accumulator_value"));
  GALEN_CHECK(o.at("eps") >= 0, "Adagrad: invalid epsilon ", o.at("eps"));
}

std::vector<std::string> Adagrad::state_names(const ParamGroup&) const { return {"step", "sum"}; }

void Adagrad::update(const ParamGroup& g, Tensor& p, const Tensor& grad_in, std::map<std::string, Tensor>& st) {
  const double lr = g.get("lr"), lr_decay = g.get("lr_decay"), wd = g.get("weight_decay"), eps = g.get("eps");
  if (!st.count("sum")) st["sum"] = full_like(p, g.get("initial_accumulator_value"));  // after a param group add
  const double step = increment_step(st);
  Tensor grad = wd != 0 ? add(grad_in, p, wd) : grad_in;
  const double clr = lr / (1.0 + (step - 1.0) * lr_decay);
  Tensor& sum_sq = st["sum"];
  sum_sq.add_(grad * grad);
  p.add_(grad / (sqrt(sum_sq) + eps), -clr);
}

}  // namespace galen::optim
