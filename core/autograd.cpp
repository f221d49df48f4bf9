// The autograd engine, autograd state on tensors, and hooks. See autograd.h.
#include "galen/core/autograd.h"

#include <atomic>
#include <climits>
#include <queue>
#include <unordered_map>
#include <unordered_set>

#include "galen/core/internal.h"
#include "galen/core/ops.h"

namespace galen {

namespace autograd {

namespace {
thread_local bool t_grad_mode = true;
std::atomic<uint64_t> g_sequence{0};
std::atomic<int> g_hook_id{0};

// True when nobody else can see `t`'s memory: the engine's handle is the only
// one, it owns its whole storage and is dense. Then the leaf may keep it as its
// .grad without a copy (as PyTorch does); otherwise AccumulateGrad clones.
bool owns_its_buffer(const Tensor& t) {
  const auto& impl = t.impl_ptr();
  return impl.use_count() == 1 && impl->storage.use_count() == 1 && impl->offset == 0 && t.is_contiguous() &&
         impl->storage->nbytes() == static_cast<size_t>(t.numel()) * t.element_size() && !t.requires_grad();
}

// The leaf's gradient sink. Holds the leaf weakly (the leaf owns this node).
class AccumulateGrad : public Node {
 public:
  explicit AccumulateGrad(const std::shared_ptr<TensorImpl>& leaf) : leaf_(leaf) {}
  std::vector<Tensor> apply(const Tensor& grad) override {
    auto impl = leaf_.lock();
    if (!impl || !grad.defined()) return {};
    auto& meta = impl->autograd;
    // A fresh, contiguous buffer: gradients may alias each other (a + b gives
    // both inputs the same tensor) and optimizers update .grad in place.
    NoGradGuard ng;
    if (meta->grad.defined()) meta->grad = galen::add(meta->grad, grad);
    else meta->grad = owns_its_buffer(grad) ? grad.detach() : grad.clone();
    return {};
  }
  std::string name() const override { return "AccumulateGrad"; }

 private:
  std::weak_ptr<TensorImpl> leaf_;
};

AutogradMeta& meta_of(const Tensor& t) {
  auto& m = t.impl()->autograd;
  if (!m) m = std::make_shared<AutogradMeta>();
  return *m;
}
}  // namespace

Node::~Node() {
  std::vector<std::shared_ptr<Node>> stack;
  for (Edge& e : next)
    if (e.node) stack.push_back(std::move(e.node));
  next.clear();
  while (!stack.empty()) {
    std::shared_ptr<Node> n = std::move(stack.back());
    stack.pop_back();
    // Only when we hold the last reference would its destructor recurse: take
    // its edges first, then let it go with nothing behind it.
    if (n.use_count() == 1) {
      for (Edge& e : n->next)
        if (e.node) stack.push_back(std::move(e.node));
      n->next.clear();
    }
  }
}

bool grad_mode_enabled() { return t_grad_mode; }
void set_grad_mode(bool on) { t_grad_mode = on; }

bool any_requires_grad(std::initializer_list<const Tensor*> inputs) {
  if (!t_grad_mode) return false;
  for (const Tensor* t : inputs)
    if (t && t->defined() && t->requires_grad()) return true;
  return false;
}

bool any_requires_grad(const std::vector<Tensor>& inputs) {
  if (!t_grad_mode) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

Edge edge_of(const Tensor& t) {
  if (!t.defined() || !t.requires_grad()) return Edge{};
  auto& m = meta_of(t);
  if (m.grad_fn) return Edge{m.grad_fn};
  if (!m.accumulator) m.accumulator = std::make_shared<AccumulateGrad>(t.impl_ptr());
  return Edge{m.accumulator};
}

namespace {
Tensor& attach(Tensor& out, const std::shared_ptr<Node>& node, const std::vector<const Tensor*>& inputs) {
  node->next.clear();
  node->in_sizes.clear();
  node->in_dtypes.clear();
  for (const Tensor* t : inputs) {
    node->next.push_back(edge_of(*t));
    node->in_sizes.push_back(t->defined() ? t->sizes() : Shape{});
    node->in_dtypes.push_back(t->defined() ? t->dtype() : DType::f32);
  }
  node->out_sizes = out.sizes();
  node->out_dtype = out.dtype();
  node->out_device = out.device();
  node->sequence_nr = g_sequence++;
  auto& m = meta_of(out);
  m.requires_grad = true;
  m.grad_fn = node;
  return out;
}
}  // namespace

Tensor& set_history(Tensor& out, const std::shared_ptr<Node>& node, std::initializer_list<const Tensor*> inputs) {
  return attach(out, node, std::vector<const Tensor*>(inputs));
}

Tensor& set_history(Tensor& out, const std::shared_ptr<Node>& node, const std::vector<Tensor>& inputs) {
  std::vector<const Tensor*> ptrs;
  for (const Tensor& t : inputs) ptrs.push_back(&t);
  return attach(out, node, ptrs);
}

std::vector<Tensor> FunctionNode::apply(const Tensor& grad_output) {
  GALEN_CHECK(!(released_ && had_saved_), name_,
              ": trying to run backward through the graph a second time; its saved tensors were "
              "freed after the first backward. Pass retain_graph=true to the first backward() to "
              "keep them");
  return fn_(grad_output, saved_);
}

void FunctionNode::release() {
  Node::release();
  saved_.clear();
  saved_.shrink_to_fit();
}

Tensor record(const char* name, Tensor out, const std::vector<Tensor>& inputs, std::vector<Tensor> saved,
              FunctionNode::Fn fn) {
  if (!any_requires_grad(inputs)) return out;
  GALEN_CHECK(is_floating(out.dtype()), name, ": cannot record gradient history for a result of dtype ",
              dtype_name(out.dtype()));
  auto node = std::make_shared<FunctionNode>(name, std::move(saved), std::move(fn));
  set_history(out, node, inputs);
  return out;
}

// ---- the engine ----------------------------------------------------------------------

namespace {

Tensor fit_to_input(const Tensor& g, const Node& node, size_t i) {
  if (!g.defined() || i >= node.in_sizes.size()) return g;
  Tensor r = g;
  if (r.sizes() != node.in_sizes[i]) r = sum_to(r, node.in_sizes[i]);
  if (r.dtype() != node.in_dtypes[i] && is_floating(node.in_dtypes[i])) r = r.to(node.in_dtypes[i]);
  return r;
}

struct RunOptions {
  bool retain_graph = false;
  bool accumulate = true;  // false for autograd::grad: leaves' .grad untouched
  std::unordered_map<Node*, Tensor>* capture = nullptr;
};

void execute(const std::vector<std::shared_ptr<Node>>& roots, const std::vector<Tensor>& root_grads,
             const RunOptions& opt) {
  // Count the edges into every node reachable from the roots.
  std::unordered_map<Node*, int> deps;
  std::unordered_map<Node*, std::shared_ptr<Node>> keep;
  std::vector<Node*> stack;
  for (const auto& r : roots) {
    if (!keep.count(r.get())) {
      keep[r.get()] = r;
      stack.push_back(r.get());
    }
  }
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (const Edge& e : n->next) {
      if (!e.node) continue;
      ++deps[e.node.get()];
      if (!keep.count(e.node.get())) {
        keep[e.node.get()] = e.node;
        stack.push_back(e.node.get());
      }
    }
  }

  std::unordered_map<Node*, Tensor> grads;
  auto accumulate = [&](Node* n, const Tensor& g) {
    if (!g.defined()) return;
    auto it = grads.find(n);
    if (it == grads.end() || !it->second.defined()) grads[n] = g;
    else it->second = galen::add(it->second, g);
  };
  for (size_t i = 0; i < roots.size(); ++i) accumulate(roots[i].get(), root_grads[i]);

  auto cmp = [](Node* a, Node* b) { return a->sequence_nr < b->sequence_nr; };
  std::priority_queue<Node*, std::vector<Node*>, decltype(cmp)> ready(cmp);
  std::unordered_set<Node*> queued;
  for (const auto& r : roots)
    if (deps[r.get()] == 0 && queued.insert(r.get()).second) ready.push(r.get());

  NoGradGuard no_grad;  // backward functions are not themselves recorded
  while (!ready.empty()) {
    Node* n = ready.top();
    ready.pop();
    Tensor g;
    if (auto it = grads.find(n); it != grads.end()) {
      g = std::move(it->second);
      grads.erase(it);
    }
    std::vector<Tensor> outs;
    if (g.defined()) {
      for (auto& [id, hook] : n->pre_hooks) {
        Tensor r = hook(g);
        if (r.defined()) {
          GALEN_CHECK(r.sizes() == g.sizes(), "hook on ", n->name(), " returned a gradient of shape ",
                      r.sizes(), ", expected ", g.sizes());
          g = r;
        }
      }
      if (opt.capture && opt.capture->count(n)) (*opt.capture)[n] = g;
      const bool is_leaf_sink = dynamic_cast<AccumulateGrad*>(n) != nullptr;
      if (!is_leaf_sink || opt.accumulate) outs = n->apply(g);
      if (!opt.retain_graph) n->release();
    }
    for (size_t i = 0; i < n->next.size(); ++i) {
      Node* child = n->next[i].node.get();
      if (!child) continue;
      if (i < outs.size() && outs[i].defined()) accumulate(child, fit_to_input(outs[i], *n, i));
      if (--deps[child] == 0 && queued.insert(child).second) ready.push(child);
    }
  }
}

std::vector<std::shared_ptr<Node>> root_nodes(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads,
                                             std::vector<Tensor>& root_grads, const char* what) {
  GALEN_CHECK(grads.empty() || grads.size() == roots.size(), what, ": got ", grads.size(),
              " gradients for ", roots.size(), " outputs");
  std::vector<std::shared_ptr<Node>> nodes;
  for (size_t i = 0; i < roots.size(); ++i) {
    const Tensor& r = roots[i];
    detail::check_defined(what, r, "output");
    GALEN_CHECK(r.requires_grad(), what, ": tensor ", i,
                " does not require grad and has no grad_fn (did you forget requires_grad_() or run "
                "under NoGradGuard?)");
    Tensor g = grads.empty() ? Tensor() : grads[i];
    if (!g.defined()) {
      GALEN_CHECK(r.numel() == 1, what, ": grad can be implicitly created only for one-element outputs; "
                  "got shape ", r.sizes(), ", pass a gradient");
      g = ones(r.sizes(), TensorOptions(r.dtype(), r.device()));
    } else {
      GALEN_CHECK(g.sizes() == r.sizes(), what, ": gradient shape ", g.sizes(), " does not match output shape ",
                  r.sizes());
      g = g.detach();
    }
    nodes.push_back(edge_of(r).node);
    root_grads.push_back(g);
  }
  return nodes;
}

}  // namespace

void run_backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads, bool retain_graph) {
  std::vector<Tensor> root_grads;
  auto nodes = root_nodes(roots, grads, root_grads, "backward");
  RunOptions opt;
  opt.retain_graph = retain_graph;
  execute(nodes, root_grads, opt);
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, bool retain_graph) {
  std::vector<Tensor> root_grads;
  auto nodes = root_nodes(outputs, grad_outputs, root_grads, "autograd::grad");
  std::unordered_map<Node*, Tensor> capture;
  std::vector<Node*> input_nodes;
  for (const Tensor& in : inputs) {
    detail::check_defined("autograd::grad", in, "input");
    GALEN_CHECK(in.requires_grad(), "autograd::grad: an input does not require grad");
    Node* n = edge_of(in).node.get();
    input_nodes.push_back(n);
    capture[n] = Tensor();
  }
  RunOptions opt;
  opt.retain_graph = retain_graph;
  opt.accumulate = false;
  opt.capture = &capture;
  execute(nodes, root_grads, opt);
  std::vector<Tensor> out;
  for (size_t i = 0; i < inputs.size(); ++i) {
    Tensor g = capture[input_nodes[i]];
    if (g.defined() && g.sizes() != inputs[i].sizes()) g = sum_to(g, inputs[i].sizes());
    out.push_back(g);
  }
  return out;
}

}  // namespace autograd

// ---- Tensor's autograd members ---------------------------------------------------------------

bool Tensor::requires_grad() const {
  return impl_ && impl_->autograd && (impl_->autograd->requires_grad || impl_->autograd->grad_fn);
}

Tensor& Tensor::requires_grad_(bool on) {
  GALEN_CHECK(impl_ != nullptr, "requires_grad_: tensor is undefined");
  GALEN_CHECK(is_leaf(), "requires_grad_: can only change requires_grad of leaf tensors; use detach() "
              "to get a new leaf");
  GALEN_CHECK(!on || is_floating(dtype()), "requires_grad_: only floating point tensors can require "
              "gradients, got dtype ", dtype_name(dtype()));
  autograd::meta_of(*this).requires_grad = on;
  return *this;
}

bool Tensor::is_leaf() const { return !(impl_ && impl_->autograd && impl_->autograd->grad_fn); }

Tensor Tensor::grad() const {
  if (!impl_ || !impl_->autograd) return Tensor();
  return impl_->autograd->grad;
}

void Tensor::set_grad(const Tensor& g) {
  GALEN_CHECK(impl_ != nullptr, "set_grad: tensor is undefined");
  if (g.defined())
    GALEN_CHECK(g.sizes() == sizes(), "set_grad: gradient shape ", g.sizes(), " differs from tensor shape ",
                sizes());
  autograd::meta_of(*this).grad = g;
}

void Tensor::zero_grad() {
  if (impl_ && impl_->autograd) impl_->autograd->grad = Tensor();
}

void Tensor::backward(const Tensor& grad, bool retain_graph) const {
  autograd::run_backward({*this}, grad.defined() ? std::vector<Tensor>{grad} : std::vector<Tensor>{},
                         retain_graph);
}

void Tensor::retain_grad() const {
  GALEN_CHECK(requires_grad(), "retain_grad: tensor does not require grad");
  if (is_leaf()) return;
  auto& m = autograd::meta_of(*this);
  if (m.retains_grad) return;
  m.retains_grad = true;
  std::weak_ptr<autograd::AutogradMeta> weak = impl_->autograd;
  m.grad_fn->pre_hooks[INT_MAX] = [weak](const Tensor& g) {
    if (auto meta = weak.lock()) meta->grad = meta->grad.defined() ? galen::add(meta->grad, g) : g.clone();
    return Tensor();
  };
}

Tensor Tensor::detach() const {
  GALEN_CHECK(impl_ != nullptr, "detach: tensor is undefined");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = impl_->storage;
  impl->offset = impl_->offset;
  impl->sizes = impl_->sizes;
  impl->strides = impl_->strides;
  impl->dtype = impl_->dtype;
  return Tensor(std::move(impl));
}

std::shared_ptr<autograd::Node> Tensor::grad_fn() const {
  if (!impl_ || !impl_->autograd) return nullptr;
  return impl_->autograd->grad_fn;
}

int Tensor::register_hook(std::function<Tensor(const Tensor&)> fn) const {
  GALEN_CHECK(requires_grad(), "register_hook: cannot register a hook on a tensor that does not require grad");
  const int id = autograd::g_hook_id++;
  autograd::edge_of(*this).node->pre_hooks[id] = std::move(fn);
  return id;
}

void Tensor::remove_hook(int handle) const {
  if (!requires_grad()) return;
  autograd::edge_of(*this).node->pre_hooks.erase(handle);
}

}  // namespace galen
