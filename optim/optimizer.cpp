// Optimizer base: parameter groups, the step loop, state_dict save / validated load.
#include "galen/optim/optimizer.h"

#include <algorithm>
#include <set>
#include <sstream>

#include "galen/core/autograd.h"
#include "galen/core/ops.h"

namespace galen::optim {

double ParamGroup::get(const std::string& key) const {
  auto it = options.find(key);
  GALEN_CHECK(it != options.end(), "ParamGroup: no option named '", key, "'");
  return it->second;
}

void Optimizer::init_groups(std::vector<ParamGroup> groups) {
  GALEN_CHECK(!groups.empty(), "Optimizer: got an empty list of parameter groups");
  for (auto& g : groups) add_param_group(std::move(g));
}

void Optimizer::add_param_group(ParamGroup group) {
  for (const auto& [k, v] : group.options)
    GALEN_CHECK(defaults_.count(k), name(), ": unknown option '", k, "' in a parameter group");
  for (const auto& [k, v] : defaults_) group.options.emplace(k, v);
  check_options(group.options);
  GALEN_CHECK(!group.params.empty(), name(), ": a parameter group needs at least one parameter");
  for (const Tensor& p : group.params) {
    GALEN_CHECK(p.defined(), name(), ": undefined tensor in a parameter group");
    GALEN_CHECK(is_floating(p.dtype()), name(), ": can only optimize floating tensors, got ",
                dtype_name(p.dtype()));
    for (const auto& g : groups_)
      for (const Tensor& q : g.params)
        GALEN_CHECK(!q.is_same(p), name(), ": a parameter appears in more than one parameter group");
  }
  for (size_t i = 0; i < group.params.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      GALEN_CHECK(!group.params[i].is_same(group.params[j]), name(), ": a parameter group lists parameter ", i,
                  " twice");
  groups_.push_back(std::move(group));
}

int64_t Optimizer::num_params() const {
  int64_t n = 0;
  for (const auto& g : groups_) n += static_cast<int64_t>(g.params.size());
  return n;
}

const std::map<std::string, Tensor>& Optimizer::state(int64_t i) const {
  static const std::map<std::string, Tensor> empty;
  auto it = state_.find(i);
  return it == state_.end() ? empty : it->second;
}

void Optimizer::step() {
  NoGradGuard ng;
  int64_t i = 0;
  for (const auto& g : groups_) {
    for (const Tensor& p : g.params) {
      const int64_t idx = i++;
      Tensor grad = p.grad();
      if (!grad.defined()) continue;
      GALEN_CHECK(grad.sizes() == p.sizes(), name(), ": gradient of shape ", grad.sizes(),
                  " does not match its parameter's shape ", p.sizes());
      Tensor param = p;  // same handle: updates land in the user's tensor
      update(g, param, grad.detach(), state_[idx]);
    }
  }
}

void Optimizer::zero_grad() {
  for (auto& g : groups_)
    for (Tensor& p : g.params) p.zero_grad();
}

StateDict Optimizer::state_dict() const {
  StateDict d;
  for (const auto& [i, st] : state_)
    for (const auto& [k, t] : st) d["state." + std::to_string(i) + "." + k] = t.detach().clone();
  int64_t first = 0;
  for (size_t g = 0; g < groups_.size(); ++g) {
    const std::string pre = "param_groups." + std::to_string(g) + ".";
    for (const auto& [k, v] : groups_[g].options) d[pre + k] = scalar_tensor(v, DType::f64);
    const int64_t n = static_cast<int64_t>(groups_[g].params.size());
    d[pre + "params"] = arange(static_cast<double>(first), static_cast<double>(first + n), 1.0, DType::i64);
    first += n;
  }
  return d;
}

namespace {
// "a.b.c" -> {"a", "b", "c"} split at the first two dots (the rest is the name).
bool split3(const std::string& key, std::string& a, std::string& b, std::string& c) {
  const size_t d1 = key.find('.');
  if (d1 == std::string::npos) return false;
  const size_t d2 = key.find('.', d1 + 1);
  if (d2 == std::string::npos) return false;
  a = key.substr(0, d1);
  b = key.substr(d1 + 1, d2 - d1 - 1);
  c = key.substr(d2 + 1);
  return !b.empty() && !c.empty() && std::all_of(b.begin(), b.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
}
}  // namespace

void Optimizer::load_state_dict(const StateDict& dict) {
  std::vector<std::string> problems;
  // Flat index -> (group, parameter).
  std::vector<std::pair<size_t, const Tensor*>> where_is;
  for (size_t g = 0; g < groups_.size(); ++g)
    for (const Tensor& p : groups_[g].params) where_is.emplace_back(g, &p);

  // New options per group: current values overwritten by the dictionary's.
  std::vector<Options> new_opts;
  for (const auto& g : groups_) new_opts.push_back(g.options);
  std::map<int64_t, std::map<std::string, Tensor>> new_state;

  for (const auto& [key, t] : dict) {
    std::string kind, idx, rest;
    if (!split3(key, kind, idx, rest) || (kind != "state" && kind != "param_groups")) {
      problems.push_back("unexpected key '" + key + "'");
      continue;
    }
    const int64_t i = std::stoll(idx);
    if (kind == "param_groups") {
      if (i >= static_cast<int64_t>(groups_.size())) {
        problems.push_back("unexpected key '" + key + "' (the optimizer has " + std::to_string(groups_.size()) +
                           " parameter groups)");
        continue;
      }
      if (rest == "params") {
        const int64_t n = static_cast<int64_t>(groups_[i].params.size());
        if (t.dim() != 1 || t.numel() != n)
          problems.push_back("'" + key + "' lists " + std::to_string(t.numel()) + " parameters, the group has " +
                             std::to_string(n));
        continue;
      }
      if (!new_opts[i].count(rest)) {
        problems.push_back("unexpected key '" + key + "' (" + name() + " has no option '" + rest + "')");
        continue;
      }
      if (t.numel() != 1) {
        problems.push_back("'" + key + "' must hold one number, got shape " + shape_str(t.sizes()));
        continue;
      }
      new_opts[i][rest] = t.item();
    } else {
      if (i >= static_cast<int64_t>(where_is.size())) {
        problems.push_back("unexpected key '" + key + "' (the optimizer has " + std::to_string(where_is.size()) +
                           " parameters)");
        continue;
      }
      new_state[i][rest] = t;
    }
  }
  for (size_t g = 0; g < groups_.size(); ++g) {
    const std::string pre = "param_groups." + std::to_string(g) + ".";
    for (const auto& [k, v] : groups_[g].options)
      if (!dict.count(pre + k)) problems.push_back("missing key '" + pre + k + "'");
    try {
      check_options(new_opts[g]);
    } catch (const Error& e) {
      problems.push_back(std::string("group ") + std::to_string(g) + ": " + e.what());
    }
  }
  for (const auto& [i, st] : new_state) {
    const auto [g, p] = where_is[static_cast<size_t>(i)];
    ParamGroup probe;
    probe.options = new_opts[g];
    const std::vector<std::string> names = state_names(probe);
    const std::string pre = "state." + std::to_string(i) + ".";
    for (const auto& n : names)
      if (!st.count(n)) problems.push_back("missing key '" + pre + n + "'");
    for (const auto& [n, t] : st) {
      if (std::find(names.begin(), names.end(), n) == names.end()) {
        problems.push_back("unexpected key '" + pre + n + "'");
      } else if (n == "step") {
        if (t.numel() != 1) problems.push_back("'" + pre + n + "' must hold one number, got shape " + shape_str(t.sizes()));
      } else if (t.sizes() != p->sizes()) {
        problems.push_back("'" + pre + n + "' has shape " + shape_str(t.sizes()) + ", its parameter has shape " +
                           shape_str(p->sizes()));
      }
    }
  }
  if (!problems.empty()) {
    std::ostringstream os;
    os << name() << "::load_state_dict: " << problems.size() << " problem(s):";
    for (const auto& s : problems) os << "\n  " << s;
    GALEN_FAIL(os.str());
  }
  for (size_t g = 0; g < groups_.size(); ++g) groups_[g].options = new_opts[g];
  state_.clear();
  for (auto& [i, st] : new_state) {
    const Tensor& p = *where_is[static_cast<size_t>(i)].second;
    for (auto& [n, t] : st) {
      if (n == "step") {
        state_[i][n] = scalar_tensor(t.item(), DType::f64);
      } else {
        state_[i][n] = t.detach().to(p.device()).to(p.dtype()).contiguous().clone();
      }
    }
  }
}

double increment_step(std::map<std::string, Tensor>& st) {
  auto it = st.find("step");
  if (it == st.end()) it = st.emplace("step", scalar_tensor(0.0, DType::f64)).first;
  const double s = it->second.item() + 1.0;
  it->second.fill_(s);
  return s;
}

}  // namespace galen::optim
