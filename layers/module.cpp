// Module: registration, traversal, state_dict / load_state_dict, modes, in-place device / dtype moves, printing;
// Sequential and ModuleList.
#include "galen/layers/module.h"

#include <charconv>
#include <cmath>
#include <set>
#include <sstream>
#include <unordered_set>

#include "galen/core/autograd.h"

namespace galen::nn {

namespace {

// A shared_ptr to `m` whether or not it is owned by one (a stack-allocated root gets a non-owning pointer, valid for
// the duration of the call).
std::shared_ptr<Module> self_ptr(Module &m) {
  if (auto p = m.weak_from_this().lock()) return p;
  return std::shared_ptr<Module>(&m, [](Module *) {});
}

std::string join_key(const std::string &prefix, const std::string &name) {
  return prefix.empty() ? name : prefix + "." + name;
}

// Indents every line after the first by `n` spaces (nested repr blocks).
std::string indent_tail(const std::string &s, int n) {
  std::string out;
  const std::string pad(static_cast<size_t>(n), ' ');
  for (char c : s) {
    out += c;
    if (c == '\n') out += pad;
  }
  return out;
}

// Points the TensorImpl behind `handle` at `moved`'s data, keeping its autograd meta (requires_grad, hooks) but
// dropping its gradient.
void repoint(const Tensor &handle, const Tensor &moved) {
  TensorImpl *dst = handle.impl();
  const TensorImpl *src = moved.impl();
  dst->storage = src->storage;
  dst->offset = src->offset;
  dst->sizes = src->sizes;
  dst->strides = src->strides;
  dst->dtype = src->dtype;
  if (dst->autograd) dst->autograd->grad = Tensor();
}

}  // namespace

std::string py_float(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  // Shortest round-trip digits in scientific form, then laid out as Python does: positional for exponents in [-4,
  // 16), "d.ddde-XX" otherwise.
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  std::string sci(buf, r.ptr);
  const size_t epos = sci.find('e');
  std::string mant = sci.substr(0, epos);
  const int exp10 = std::stoi(sci.substr(epos + 1));
  const bool neg = !mant.empty() && mant[0] == '-';
  if (neg) mant.erase(0, 1);
  std::string digits;
  for (char c : mant)
    if (c != '.') digits += c;
  std::string out;
  if (exp10 >= -4 && exp10 < 16) {
    const int point = exp10 + 1;  // digits before the decimal point
    if (point <= 0) {
      out = "0." + std::string(static_cast<size_t>(-point), '0') + digits;
    } else if (point >= static_cast<int>(digits.size())) {
      out = digits + std::string(static_cast<size_t>(point) - digits.size(), '0') + ".0";
    } else {
      out = digits.substr(0, static_cast<size_t>(point)) + "." + digits.substr(static_cast<size_t>(point));
    }
  } else {
    out = digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char e[16];
    std::snprintf(e, sizeof(e), "e%c%02d", exp10 < 0 ? '-' : '+', std::abs(exp10));
    out += e;
  }
  return neg ? "-" + out : out;
}

// ---- Module --------------------------------------------------------------------

Tensor Module::forward(const Tensor &) { GALEN_FAIL(name(), ": this module has no one-input forward(x)"); }

Tensor Module::operator()(const Tensor &x) {
  Tensor y = forward(x);
  if (!forward_hooks_.empty()) {
    // A copy, so a hook may remove itself (or add another) while they run.
    const auto hooks = forward_hooks_;
    for (const auto &[id, fn] : hooks) fn(*this, x, y);
  }
  return y;
}

int Module::register_forward_hook(ForwardHook fn) {
  GALEN_CHECK(static_cast<bool>(fn), name(), ": register_forward_hook got an empty function");
  const int id = next_hook_++;
  forward_hooks_.emplace(id, std::move(fn));
  return id;
}

void Module::remove_forward_hook(int handle) { forward_hooks_.erase(handle); }

void Module::check_name(const std::string &n, const char *what) const {
  GALEN_CHECK(!n.empty(), name(), ": ", what, " name must not be empty");
  GALEN_CHECK(n.find('.') == std::string::npos, name(), ": ", what, " name \"", n,
              "\" must not contain '.' (dots join the names of nested modules)");
  auto taken = [&n](const auto &list) {
    for (const auto &[k, v] : list)
      if (k == n) return true;
    return false;
  };
  GALEN_CHECK(!taken(params_) && !taken(buffers_) && !taken(children_), name(), ": cannot register ", what, " \"", n,
              "\": the name is already used by a parameter, buffer or submodule");
}

Tensor &Module::register_parameter(const std::string &n, Tensor t, bool requires_grad) {
  check_name(n, "parameter");
  GALEN_CHECK(t.defined(), name(), ": parameter \"", n, "\" is an undefined tensor");
  GALEN_CHECK(is_floating(t.dtype()) || !requires_grad, name(), ": parameter \"", n,
              "\" must be floating to require grad, got ", dtype_name(t.dtype()));
  // A parameter is a leaf (like nn.Parameter): cut any history it came with.
  if (!t.is_leaf()) t = t.detach();
  t.requires_grad_(requires_grad);
  params_.emplace_back(n, std::move(t));
  return params_.back().second;
}

Tensor &Module::register_buffer(const std::string &n, Tensor t) {
  check_name(n, "buffer");
  GALEN_CHECK(t.defined(), name(), ": buffer \"", n, "\" is an undefined tensor");
  buffers_.emplace_back(n, t.detach());
  return buffers_.back().second;
}

void Module::register_module_impl(const std::string &n, std::shared_ptr<Module> m) {
  check_name(n, "submodule");
  GALEN_CHECK(m != nullptr, name(), ": submodule \"", n, "\" is null");
  GALEN_CHECK(m.get() != this, name(), ": a module cannot be its own submodule (\"", n, "\")");
  children_.emplace_back(n, std::move(m));
}

void Module::replace_module(const std::string &n, std::shared_ptr<Module> m) {
  GALEN_CHECK(m != nullptr, name(), ": replacement for submodule \"", n, "\" is null");
  for (auto &[k, v] : children_)
    if (k == n) {
      v = std::move(m);
      return;
    }
  GALEN_FAIL(name(), ": no submodule named \"", n, "\" to replace");
}

// ---- traversal -------------------------------------------------------------------

namespace {
template <typename Get>
void collect(const Module &m, const std::string &prefix, bool recurse, Get get,
             std::vector<std::pair<std::string, Tensor>> &out, std::unordered_set<const TensorImpl *> &seen) {
  for (const auto &[k, t] : get(m)) {
    if (!seen.insert(t.impl()).second) continue;  // shared tensors once, as PyTorch
    out.emplace_back(join_key(prefix, k), t);
  }
  if (!recurse) return;
  for (const auto &[k, c] : m.named_children()) collect(*c, join_key(prefix, k), true, get, out, seen);
}
}  // namespace

std::vector<std::pair<std::string, Tensor>> Module::named_parameters(bool recurse) const {
  std::vector<std::pair<std::string, Tensor>> out;
  std::unordered_set<const TensorImpl *> seen;
  collect(
      *this, "", recurse, [](const Module &m) -> const auto & { return m.params_; }, out, seen);
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers(bool recurse) const {
  std::vector<std::pair<std::string, Tensor>> out;
  std::unordered_set<const TensorImpl *> seen;
  collect(
      *this, "", recurse, [](const Module &m) -> const auto & { return m.buffers_; }, out, seen);
  return out;
}

std::vector<std::pair<std::string, std::shared_ptr<Module>>> Module::named_children() const {
  return {children_.begin(), children_.end()};
}

std::vector<std::pair<std::string, std::shared_ptr<Module>>> Module::named_modules() {
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> out;
  std::unordered_set<const Module *> seen;
  // Pre-order: a module, then each child's subtree in registration order.
  std::function<void(const std::string &, const std::shared_ptr<Module> &)> walk =
      [&](const std::string &prefix, const std::shared_ptr<Module> &m) {
        if (!seen.insert(m.get()).second) return;
        out.emplace_back(prefix, m);
        for (const auto &[k, c] : m->children_) walk(join_key(prefix, k), c);
      };
  walk("", self_ptr(*this));
  return out;
}

std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> out;
  for (auto &[k, t] : named_parameters(recurse)) out.push_back(t);
  return out;
}

std::vector<Tensor> Module::buffers(bool recurse) const {
  std::vector<Tensor> out;
  for (auto &[k, t] : named_buffers(recurse)) out.push_back(t);
  return out;
}

std::shared_ptr<Module> Module::child(const std::string &n) const {
  for (const auto &[k, c] : children_)
    if (k == n) return c;
  GALEN_FAIL(name(), ": no submodule named \"", n, "\"");
}

Tensor &Module::find_tensor(const std::string &path) {
  Module *m = this;
  size_t start = 0;
  for (size_t dot; (dot = path.find('.', start)) != std::string::npos; start = dot + 1) {
    const std::string part = path.substr(start, dot - start);
    std::shared_ptr<Module> c;
    for (const auto &[k, ch] : m->children_)
      if (k == part) c = ch;
    GALEN_CHECK(c != nullptr, name(), ": no tensor \"", path, "\" (no submodule \"", part, "\")");
    m = c.get();
  }
  const std::string leaf = path.substr(start);
  for (auto &[k, t] : m->params_)
    if (k == leaf) return t;
  for (auto &[k, t] : m->buffers_)
    if (k == leaf) return t;
  GALEN_FAIL(name(), ": no parameter or buffer \"", path, "\"");
}

std::vector<Tensor> Module::unique_tensors() {
  std::vector<Tensor> out;
  for (auto &[k, t] : named_parameters(true)) out.push_back(t);
  for (auto &[k, t] : named_buffers(true)) out.push_back(t);
  return out;
}

// ---- state ------------------------------------------------------------------------

StateDict Module::state_dict() const {
  StateDict d;
  // Not deduplicated: a tensor shared by two modules appears under both keys, as in PyTorch.
  std::function<void(const Module &, const std::string &)> walk = [&](const Module &m, const std::string &prefix) {
    for (const auto &[k, t] : m.params_) d.emplace(join_key(prefix, k), t.detach());
    for (const auto &[k, t] : m.buffers_) d.emplace(join_key(prefix, k), t.detach());
    for (const auto &[k, c] : m.children_) walk(*c, join_key(prefix, k));
  };
  walk(*this, "");
  return d;
}

Module::LoadResult Module::load_state_dict(const StateDict &dict, bool strict) {
  // Every registered tensor by key (shared tensors under each of their keys).
  std::vector<std::pair<std::string, Tensor>> own;
  std::function<void(Module &, const std::string &)> walk = [&](Module &m, const std::string &prefix) {
    for (auto &[k, t] : m.params_) own.emplace_back(join_key(prefix, k), t);
    for (auto &[k, t] : m.buffers_) own.emplace_back(join_key(prefix, k), t);
    for (auto &[k, c] : m.children_) walk(*c, join_key(prefix, k));
  };
  walk(*this, "");

  LoadResult res;
  std::vector<std::string> shape_errors;
  std::set<std::string> own_keys;
  for (const auto &[k, t] : own) {
    own_keys.insert(k);
    auto it = dict.find(k);
    if (it == dict.end()) {
      res.missing.push_back(k);
    } else if (!it->second.defined()) {
      shape_errors.push_back("\"" + k + "\": the checkpoint's tensor is undefined");
    } else if (it->second.sizes() != t.sizes()) {
      shape_errors.push_back("size mismatch for \"" + k + "\": copying a tensor of shape " +
                             shape_str(it->second.sizes()) + " from the checkpoint, the shape in the model is " +
                             shape_str(t.sizes()));
    }
  }
  for (const auto &[k, t] : dict)
    if (!own_keys.count(k)) res.unexpected.push_back(k);

  const bool fail = !shape_errors.empty() || (strict && (!res.missing.empty() || !res.unexpected.empty()));
  if (fail) {
    std::ostringstream os;
    os << "load_state_dict: error(s) in loading state_dict for " << name() << ":";
    auto list = [&os](const char *what, const std::vector<std::string> &keys) {
      if (keys.empty()) return;
      os << "\n  " << what << " (" << keys.size() << "): ";
      for (size_t i = 0; i < keys.size(); ++i) os << (i ? ", " : "") << '"' << keys[i] << '"';
    };
    if (strict) {
      list("missing key(s)", res.missing);
      list("unexpected key(s)", res.unexpected);
    }
    for (const auto &e : shape_errors) os << "\n  " << e;
    GALEN_FAIL(os.str());
  }
  // Nothing is copied until every key has been checked.
  NoGradGuard ng;
  for (auto &[k, t] : own) {
    auto it = dict.find(k);
    if (it != dict.end() && !it->second.is_same(t)) t.copy_(it->second);
  }
  return res;
}

// ---- modes and placement -------------------------------------------------------------

void Module::train(bool on) {
  training_ = on;
  for (auto &[k, c] : children_) c->train(on);
}

void Module::to(Device device) {
  NoGradGuard ng;
  for (const Tensor &t : unique_tensors()) {
    if (t.device() == device) {
      if (t.impl()->autograd) t.impl()->autograd->grad = Tensor();
      continue;
    }
    repoint(t, t.detach().to(device));
  }
}

void Module::to(DType dtype) {
  GALEN_CHECK(is_floating(dtype), name(), ".to(dtype): target must be a floating dtype, got ", dtype_name(dtype));
  NoGradGuard ng;
  for (const Tensor &t : unique_tensors()) {
    if (!is_floating(t.dtype())) continue;  // integer buffers (counters, indices) keep their dtype
    if (t.dtype() == dtype) {
      if (t.impl()->autograd) t.impl()->autograd->grad = Tensor();
      continue;
    }
    repoint(t, t.detach().to(dtype));
  }
}

void Module::zero_grad() {
  for (Tensor &p : parameters()) p.zero_grad();
}

void Module::requires_grad_(bool on) {
  for (Tensor &p : parameters()) p.requires_grad_(on);
}

void Module::apply(const std::function<void(Module &)> &fn) {
  for (auto &[k, c] : children_) c->apply(fn);
  fn(*this);
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (const Tensor &p : parameters()) n += p.numel();
  return n;
}

std::string Module::repr() const {
  std::vector<std::string> lines;
  const std::string extra = extra_repr();
  size_t n_extra = 0;
  if (!extra.empty()) {
    std::istringstream is(extra);
    for (std::string l; std::getline(is, l);) lines.push_back(l), ++n_extra;
  }
  for (const auto &[k, c] : children_) lines.push_back("(" + k + "): " + indent_tail(c->repr(), 2));
  std::string s = name() + "(";
  if (n_extra == 1 && children_.empty()) {
    s += lines[0];
  } else if (!lines.empty()) {
    for (const auto &l : lines) s += "\n  " + l;
    s += "\n";
  }
  return s + ")";
}

// ---- containers -------------------------------------------------------------------------

Sequential::Sequential(List modules) {
  for (auto &m : modules) push_back(std::move(m));
}

Sequential &Sequential::push_back(std::shared_ptr<Module> m) {
  register_module(std::to_string(size()), std::move(m));
  return *this;
}

Tensor Sequential::forward(const Tensor &x) {
  Tensor y = x;
  for (const auto &[k, m] : children_list()) y = (*m)(y);
  return y;
}

std::shared_ptr<Module> Sequential::operator[](size_t i) const {
  GALEN_CHECK(i < size(), "Sequential: index ", i, " out of range for ", size(), " modules");
  return children_list()[i].second;
}

ModuleList::ModuleList(std::vector<std::shared_ptr<Module>> modules) {
  for (auto &m : modules) push_back(std::move(m));
}

ModuleList &ModuleList::push_back(std::shared_ptr<Module> m) {
  register_module(std::to_string(size()), m);
  modules_.push_back(std::move(m));
  return *this;
}

std::shared_ptr<Module> ModuleList::operator[](size_t i) const {
  GALEN_CHECK(i < size(), "ModuleList: index ", i, " out of range for ", size(), " modules");
  return modules_[i];
}

void ModuleList::replace_module(const std::string &n, std::shared_ptr<Module> m) {
  Module::replace_module(n, m);
  const auto &ch = children_list();
  for (size_t i = 0; i < ch.size(); ++i)
    if (ch[i].first == n) modules_[i] = m;
}

}  // namespace galen::nn
