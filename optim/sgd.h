// Stochastic gradient descent with momentum, dampening, Nesterov momentum and
// L2 weight decay: torch.optim.SGD's update (1.13, maximize=false).
#pragma once

#include "galen/optim/optimizer.h"

namespace galen::optim {

struct SGDOptions {
  double lr = 0.01;  // torch requires lr; 0.01 is only a convenience default
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
  Options to_map() const;
};

class SGD : public Optimizer {
 public:
  SGD(std::vector<Tensor> params, SGDOptions opts = {});
  SGD(std::vector<ParamGroup> groups, SGDOptions opts = {});
  std::string name() const override { return "SGD"; }

 protected:
  void update(const ParamGroup& g, Tensor& p, const Tensor& grad, std::map<std::string, Tensor>& st) override;
  std::vector<std::string> state_names(const ParamGroup& g) const override;
  void check_options(const Options& o) const override;
};

}  // namespace galen::optim
