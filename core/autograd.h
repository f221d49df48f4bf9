// Define-by-run autograd. Every differentiable op that sees an input requiring
// grad (with grad mode on) records a Node: the op's backward, the edges to its
// inputs' Nodes, and only the tensors its backward needs. backward() walks the
// graph from the root in reverse topological order, sums gradients that meet at
// a Node, and frees saved tensors unless retain_graph is set.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "galen/core/tensor.h"

namespace galen::autograd {

struct Edge {
  std::shared_ptr<Node> node;  // null: that input needs no gradient
};

class Node : public std::enable_shared_from_this<Node> {
 public:
  // Releases the graph behind this node iteratively, so a chain of 10^6 ops
  // frees without a destructor recursion per node.
  virtual ~Node();
  // Gradients w.r.t. each input (one per edge; undefined = zero/no grad),
  // given the gradient w.r.t. this Node's single output.
  virtual std::vector<Tensor> apply(const Tensor& grad_output) = 0;
  virtual std::string name() const = 0;
  // Drops saved tensors after a backward pass without retain_graph.
  virtual void release() { released_ = true; }
  bool released() const { return released_; }

  std::vector<Edge> next;
  // Tensor hooks of the output this node produced, run on its gradient before apply.
  std::map<int, std::function<Tensor(const Tensor&)>> pre_hooks;
  // Shape/dtype of each input (one per edge): the engine sums broadcast
  // gradients back to in_sizes[i] and casts them to in_dtypes[i].
  std::vector<Shape> in_sizes;
  std::vector<DType> in_dtypes;
  // Shape/dtype/device of the output, used to check and create gradients.
  Shape out_sizes;
  DType out_dtype = DType::f32;
  Device out_device;
  uint64_t sequence_nr = 0;  // creation order, later nodes run first on ties

 protected:
  bool released_ = false;
};

// Per-tensor autograd state.
struct AutogradMeta {
  bool requires_grad = false;
  Tensor grad;
  std::shared_ptr<Node> grad_fn;                // non-leaf: the node that made it
  std::shared_ptr<Node> accumulator;            // leaf: its AccumulateGrad node (lazy);
                                                // a leaf's hooks live in its pre_hooks
  bool retains_grad = false;
};

// Grad mode (thread-local). NoGradGuard turns recording off in its scope.
bool grad_mode_enabled();
void set_grad_mode(bool on);
class NoGradGuard {
 public:
  NoGradGuard() : prev_(grad_mode_enabled()) { set_grad_mode(false); }
  ~NoGradGuard() { set_grad_mode(prev_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

// ---- for op authors --------------------------------------------------------
// True when grad mode is on and any of the inputs requires grad.
bool any_requires_grad(std::initializer_list<const Tensor*> inputs);
bool any_requires_grad(const std::vector<Tensor>& inputs);
// The edge for an input: its grad_fn, its (lazily made) AccumulateGrad node, or
// an empty edge if it needs no gradient.
Edge edge_of(const Tensor& t);
// Attaches `node` as the grad_fn of `out` (sets requires_grad) with edges to
// `inputs`. Returns `out` for chaining.
Tensor& set_history(Tensor& out, const std::shared_ptr<Node>& node,
                    std::initializer_list<const Tensor*> inputs);
Tensor& set_history(Tensor& out, const std::shared_ptr<Node>& node,
                    const std::vector<Tensor>& inputs);

// A Node whose backward is a lambda; `saved` tensors are released after use.
class FunctionNode : public Node {
 public:
  using Fn = std::function<std::vector<Tensor>(const Tensor& grad, const std::vector<Tensor>& saved)>;
  FunctionNode(std::string name, std::vector<Tensor> saved, Fn fn)
      : name_(std::move(name)), saved_(std::move(saved)), fn_(std::move(fn)), had_saved_(!saved_.empty()) {}
  std::vector<Tensor> apply(const Tensor& grad_output) override;
  std::string name() const override { return name_; }
  void release() override;

 private:
  std::string name_;
  std::vector<Tensor> saved_;
  Fn fn_;
  bool had_saved_;  // only a node that saved tensors refuses a second backward (as in PyTorch)
};

// Records `fn` as the backward of `out` when any input requires grad:
//   out = record("mul", out, {a, b}, {a, b}, [](g, s) { return {g * s[1], g * s[0]}; });
// The returned gradients (one per input) are reduced to each input's shape
// when they were broadcast, so backward functions may return broadcast shapes.
Tensor record(const char* name, Tensor out, const std::vector<Tensor>& inputs,
              std::vector<Tensor> saved, FunctionNode::Fn fn);

// Runs the engine. roots/grads pair up; retain_graph keeps saved tensors.
void run_backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads,
                  bool retain_graph);

// Gradients of outputs w.r.t. inputs without touching .grad (torch.autograd.grad).
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs = {}, bool retain_graph = false);

}  // namespace galen::autograd

namespace galen {
using autograd::NoGradGuard;
}
