// SGD update, step for step as torch.optim.SGD (1.13):
//   d = g + wd * p;  buf = d (first step) | momentum * buf + (1 - dampening) * d
//   d = nesterov ? d + momentum * buf : buf;  p -= lr * d
#include "galen/optim/sgd.h"

#include "galen/core/ops.h"

namespace galen::optim {

Options SGDOptions::to_map() const {
  return {{"lr", lr},
          {"momentum", momentum},
          {"dampening", dampening},
          {"weight_decay", weight_decay},
          {"nesterov", nesterov ? 1.0 : 0.0}};
}

SGD::SGD(std::vector<Tensor> params, SGDOptions opts) : SGD(std::vector<ParamGroup>{ParamGroup(std::move(params))}, opts) {}

SGD::SGD(std::vector<ParamGroup> groups, SGDOptions opts) : Optimizer(opts.to_map()) { init_groups(std::move(groups)); }

void SGD::check_options(const Options& o) const {
  GALEN_CHECK(o.at("lr") >= 0, "SGD: invalid learning rate ", o.at("lr"));
  GALEN_CHECK(o.at("momentum") >= 0, "SGD: invalid momentum ", o.at("momentum"));
  GALEN_CHECK(o.at("weight_decay") >= 0, "SGD: invalid weight_decay ", o.at("weight_decay"));
  GALEN_CHECK(o.at("nesterov") == 0 || (o.at("momentum") > 0 && o.at("dampening") == 0),
              "SGD: Nesterov momentum requires a momentum and zero dampening");
}

std::vector<std::string> SGD::state_names(const ParamGroup& g) const {
  if (g.get("momentum") != 0) return {"momentum_buffer"};
  return {};
}

void SGD::update(const ParamGroup& g, Tensor& p, const Tensor& grad, std::map<std::string, Tensor>& st) {
  const double lr = g.get("lr"), momentum = g.get("momentum"), dampening = g.get("dampening");
  const double wd = g.get("weight_decay");
  Tensor d = wd != 0 ? add(grad, p, wd) : grad;
  if (momentum != 0) {
    auto it = st.find("momentum_buffer");
    if (it == st.end()) {
      it = st.emplace("momentum_buffer", d.clone()).first;
    } else {
      it->second.mul_(momentum).add_(d, 1.0 - dampening);
    }
    d = g.get("nesterov") != 0 ? add(d, it->second, momentum) : it->second;
  }
  p.add_(d, -lr);
}

}  // namespace galen::optim
