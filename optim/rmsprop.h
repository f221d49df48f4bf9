// RMSprop (optionally centered, with momentum): torch.optim.RMSprop (1.13).
#pragma once

#include "galen/optim/optimizer.h"

namespace galen::optim {

struct RMSpropOptions {
  double lr = 1e-2;
  double alpha = 0.99;
  double eps = 1e-8;
  double weight_decay = 0.0;
  double momentum = 0.0;
  bool centered = false;
  Options to_map() const;
};

class RMSprop : public Optimizer {
 public:
  RMSprop(std::vector<Tensor> params, RMSpropOptions opts = {});
  RMSprop(std::vector<ParamGroup> groups, RMSpropOptions opts = {});
  std::string name() const override { return "RMSprop"; }

 protected:
  void update(const ParamGroup& g, Tensor& p, const Tensor& grad, std::map<std::string, Tensor>& st) override;
  std::vector<std::string> state_names(const ParamGroup& g) const override;
  void check_options(const Options& o) const override;
};

}  // namespace galen::optim
