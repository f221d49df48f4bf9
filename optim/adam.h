// Adam and AdamW (decoupled weight decay), with AMSGrad: torch.optim.Adam /
// AdamW's single-tensor update (1.13, maximize=false).
#pragma once

#include "galen/optim/optimizer.h"

namespace galen::optim {

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  // AdamW's default is 1e-2 (AdamWOptions)
  bool amsgrad = false;
  Options to_map() const;
};
struct AdamWOptions : AdamOptions {
  AdamWOptions() { weight_decay = 1e-2; }
};

class Adam : public Optimizer {
 public:
  Adam(std::vector<Tensor> params, AdamOptions opts = {});
  Adam(std::vector<ParamGroup> groups, AdamOptions opts = {});
  std::string name() const override { return decoupled_ ? "AdamW" : "Adam"; }

 protected:
  Adam(std::vector<ParamGroup> groups, AdamOptions opts, bool decoupled);
  void update(const ParamGroup& g, Tensor& p, const Tensor& grad, std::map<std::string, Tensor>& st) override;
  std::vector<std::string> state_names(const ParamGroup& g) const override;
  void check_options(const Options& o) const override;

 private:
  bool decoupled_ = false;
};

// Weight decay applied to the parameter (p *= 1 - lr * wd) instead of the gradient.
class AdamW : public Adam {
 public:
  AdamW(std::vector<Tensor> params, AdamOptions opts = AdamWOptions());
  AdamW(std::vector<ParamGroup> groups, AdamOptions opts = AdamWOptions());
};

}  // namespace galen::optim
