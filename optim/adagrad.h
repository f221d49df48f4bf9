// Adagrad with learning-rate decay: torch.optim.Adagrad (1.13, dense gradients).
#pragma once

#include "galen/optim/optimizer.h"

namespace galen::optim {

struct AdagradOptions {
  double lr = 1e-2;
  double lr_decay = 0.0;
  double weight_decay = 0.0;
  double initial_accumulator_value = 0.0;
  double eps = 1e-10;
  Options to_map() const;
};

class Adagrad : public Optimizer {
 public:
  Adagrad(std::vector<Tensor> params, AdagradOptions opts = {});
  Adagrad(std::vector<ParamGroup> groups, AdagradOptions opts = {});
  std::string name() const override { return "Adagrad"; }

 protected:
  void update(const ParamGroup& g, Tensor& p, const Tensor& grad, std::map<std::string, Tensor>& st) override;
  std::vector<std::string> state_names(const ParamGroup& g) const override;
  void check_options(const Options& o) const override;
};

}  // namespace galen::optim
