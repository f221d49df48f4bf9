// RMSprop update, as torch.optim.RMSprop (1.13):
//   g += wd p;  s = a s + (1-a) g^2;  centered: ga = a ga + (1-a) g, avg = sqrt(s - ga^2) + eps
//   otherwise avg = sqrt(s) + eps;  momentum: b = mom b + g / avg, p -= lr b;  else p -= lr g / avg
#include "galen/optim/rmsprop.h"

#include "galen/core/ops.h"

namespace galen::optim {

Options RMSpropOptions::to_map() const {
  return {{"lr", lr},           {"alpha", alpha},       {"eps", eps}, {"weight_decay", weight_decay},
          {"momentum", momentum}, {"centered", centered ? 1.0 : 0.0}};
}

RMSprop::RMSprop(std::vector<Tensor> params, RMSpropOptions opts)
    : RMSprop(std::vector<ParamGroup>{ParamGroup(std::move(params))}, opts) {}
RMSprop::RMSprop(std::vector<ParamGroup> groups, RMSpropOptions opts) : Optimizer(opts.to_map()) {
  init_groups(std::move(groups));
}

void RMSprop::check_options(const Options& o) const {
  GALEN_CHECK(o.at("lr") >= 0, "RMSprop: invalid learning rate ", o.at("lr"));
  GALEN_CHECK(o.at("eps") >= 0, "RMSprop: invalid epsilon ", o.at("eps"));
  GALEN_CHECK(o.at("momentum") >= 0, "RMSprop: invalid momentum ", o.at("momentum"));
  GALEN_CHECK(o.at("alpha") >= 0, "RMSprop: invalid alpha ", o.at("alpha"));
  GALEN_CHECK(o.at("weight_decay") >= 0, "RMSprop: invalid weight_decay ", o.at("weight_decay"));
}

std::vector<std::string> RMSprop::state_names(const ParamGroup& g) const {
  std::vector<std::string> n = {"step", "square_avg"};
  if (g.get("momentum") > 0) n.push_back("momentum_buffer");
  if (g.get("centered") != 0) n.push_back("grad_avg");
  return n;
}

void RMSprop::update(const ParamGroup& g, Tensor& p, const Tensor& grad_in, std::map<std::string, Tensor>& st) {
  const double lr = g.get("lr"), alpha = g.get("alpha"), eps = g.get("eps"), wd = g.get("weight_decay");
  const double momentum = g.get("momentum");
  const bool centered = g.get("centered") != 0;
  if (!st.count("square_avg")) {
    st["square_avg"] = zeros_like(p);
    if (momentum > 0) st["momentum_buffer"] = zeros_like(p);
    if (centered) st["grad_avg"] = zeros_like(p);
  }
  increment_step(st);
  Tensor grad = wd != 0 ? add(grad_in, p, wd) : grad_in;
  Tensor& sq = st["square_avg"];
  sq.mul_(alpha).add_(grad * grad, 1.0 - alpha);
  Tensor avg;
  if (centered) {
    Tensor& ga = st["grad_avg"];
    ga.mul_(alpha).add_(grad, 1.0 - alpha);
    avg = sqrt(sub(sq, ga * ga));
  } else {
    avg = sqrt(sq);
  }
  avg = avg + eps;
  if (momentum > 0) {
    Tensor& buf = st["momentum_buffer"];
    buf.mul_(momentum).add_(grad / avg);
    p.add_(buf, -lr);
  } else {
    p.add_(grad / avg, -lr);
  }
}

}  // namespace galen::optim
