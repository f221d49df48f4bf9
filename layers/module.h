// Module: the base of every layer and model. A module owns named parameters
// (trainable tensors), buffers (state such as BatchNorm's running stats) and
// submodules. Names equal PyTorch's attribute names, so state_dict() keys match
// PyTorch / torchvision exactly ("layer1.0.conv1.weight").
//
//   struct Net : Module {
//     std::shared_ptr<Linear> fc1 = register_module("fc1", std::make_shared<Linear>(784, 128));
//     Tensor forward(const Tensor& x) { return fc1->forward(x); }
//   };
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "galen/core/tensor.h"

namespace galen::nn {

using StateDict = std::map<std::string, Tensor>;  // sorted by key

class Module : public std::enable_shared_from_this<Module> {
 public:
  virtual ~Module() = default;
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // Type name for printing and errors ("Linear", "Sequential", ...).
  virtual std::string name() const { return "Module"; }
  // One-input forward; modules with other signatures add their own overloads.
  // The default throws an Error naming the module.
  virtual Tensor forward(const Tensor& x);
  // forward(x), then the forward hooks. Call submodules as (*m)(x) (as
  // PyTorch's m(x)) where hooks should see them; m->forward(x) skips hooks.
  Tensor operator()(const Tensor& x);

  // ---- forward hooks -------------------------------------------------------------
  // fn(module, input, output) runs after each forward made through operator()
  // (Sequential calls its children that way), in registration order: a way to
  // capture an inner layer's activation (Grad-CAM) without changing the model.
  // Returns a handle for remove_forward_hook.
  using ForwardHook = std::function<void(Module& m, const Tensor& input, const Tensor& output)>;
  int register_forward_hook(ForwardHook fn);
  void remove_forward_hook(int handle);  // unknown handles are ignored

  // ---- registration (returns the handle; names must be unique, no dots) ----
  Tensor& register_parameter(const std::string& name, Tensor t, bool requires_grad = true);
  Tensor& register_buffer(const std::string& name, Tensor t);
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    register_module_impl(name, m);
    return m;
  }
  // Replaces an existing child (e.g. a model's head), keeping its name and place.
  virtual void replace_module(const std::string& name, std::shared_ptr<Module> m);

  // ---- traversal ---------------------------------------------------------------
  // Depth-first, registration order, keys joined with '.'.
  std::vector<std::pair<std::string, Tensor>> named_parameters(bool recurse = true) const;
  std::vector<std::pair<std::string, Tensor>> named_buffers(bool recurse = true) const;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_children() const;
  // Includes this module under the key "".
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_modules();
  std::vector<Tensor> parameters(bool recurse = true) const;
  std::vector<Tensor> buffers(bool recurse = true) const;
  std::shared_ptr<Module> child(const std::string& name) const;  // Error if absent
  // Parameter or buffer by dotted path ("features.0.weight"); Error if absent.
  Tensor& find_tensor(const std::string& path);

  // ---- state ---------------------------------------------------------------------
  // Parameters and buffers (detached handles sharing storage).
  StateDict state_dict() const;
  // Copies values in (casting dtype, onto the module's device). strict: every
  // missing, unexpected and wrong-shape key is listed in one Error. Non-strict
  // ignores missing/unexpected keys but still refuses wrong shapes.
  struct LoadResult {
    std::vector<std::string> missing, unexpected;
  };
  LoadResult load_state_dict(const StateDict& dict, bool strict = true);

  // ---- modes and placement ------------------------------------------------------
  virtual void train(bool on = true);  // recursive
  void eval() { train(false); }
  bool is_training() const { return training_; }
  // Moves parameters and buffers (recursively) in place: the TensorImpl behind
  // each registered handle is repointed at the new storage, so every copy of
  // the handle (an optimizer's, a user's) sees the moved tensor. Gradients are
  // dropped.
  void to(Device device);
  void to(DType dtype);  // floating parameters and buffers only
  void zero_grad();      // drops .grad of every parameter
  // Sets requires_grad on every parameter (freezing / unfreezing).
  void requires_grad_(bool on);
  // fn(module) on every module, children first then this one.
  void apply(const std::function<void(Module&)>& fn);
  int64_t num_parameters() const;

  // A readable tree, formatted as PyTorch prints modules:
  //   Sequential(
  //     (0): Linear(in_features=784, out_features=128, bias=True)
  //     (1): ReLU()
  //   )
  virtual std::string repr() const;

 protected:
  // One line describing this module's own settings, used by repr().
  virtual std::string extra_repr() const { return ""; }
  // The children in registration order (containers iterate this, so a
  // replace_module() is seen by their forward).
  const std::deque<std::pair<std::string, std::shared_ptr<Module>>>& children_list() const { return children_; }
  bool training_ = true;

 private:
  void register_module_impl(const std::string& name, std::shared_ptr<Module> m);
  void check_name(const std::string& name, const char* what) const;
  // Every registered parameter and buffer of this subtree, each TensorImpl once.
  std::vector<Tensor> unique_tensors();
  // Ordered (name, value) lists; std::map would reorder keys. A deque keeps the
  // references returned by register_parameter / register_buffer valid as more
  // are registered.
  std::deque<std::pair<std::string, Tensor>> params_;
  std::deque<std::pair<std::string, Tensor>> buffers_;
  std::deque<std::pair<std::string, std::shared_ptr<Module>>> children_;
  std::map<int, ForwardHook> forward_hooks_;
  int next_hook_ = 0;
};

// Python's repr() of a float ("0.01", "1.0", "1e-05"), for extra_repr strings
// that read exactly like PyTorch's.
std::string py_float(double v);

// Modules in sequence, named "0", "1", ...; forward chains them.
//   auto net = std::make_shared<Sequential>(Sequential::List{fc1, relu, fc2});
class Sequential : public Module {
 public:
  using List = std::vector<std::shared_ptr<Module>>;
  Sequential() = default;
  explicit Sequential(List modules);
  std::string name() const override { return "Sequential"; }
  Sequential& push_back(std::shared_ptr<Module> m);
  Tensor forward(const Tensor& x) override;
  size_t size() const { return children_list().size(); }
  std::shared_ptr<Module> operator[](size_t i) const;
};

// A list of modules named "0", "1", ... with no forward of its own.
// Iterating yields the modules (std::shared_ptr<Module>).
class ModuleList : public Module {
 public:
  ModuleList() = default;
  explicit ModuleList(std::vector<std::shared_ptr<Module>> modules);
  std::string name() const override { return "ModuleList"; }
  ModuleList& push_back(std::shared_ptr<Module> m);
  size_t size() const { return children_list().size(); }
  std::shared_ptr<Module> operator[](size_t i) const;
  void replace_module(const std::string& name, std::shared_ptr<Module> m) override;
  std::vector<std::shared_ptr<Module>>::const_iterator begin() const { return modules_.begin(); }
  std::vector<std::shared_ptr<Module>>::const_iterator end() const { return modules_.end(); }

 private:
  // Mirrors children_list() for iteration; push_back and replace_module keep it in sync.
  std::vector<std::shared_ptr<Module>> modules_;
};

}  // namespace galen::nn
