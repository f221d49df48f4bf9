// Gradient checkpointing: see checkpoint.h. The node saves only the inputs (and
// the RNG state); its backward runs a nested pass of the engine, which keeps
// all its state local to the call, over the recomputed graph.
#include "galen/core/checkpoint.h"

#include "galen/core/autograd.h"
#include "galen/core/error.h"
#include "galen/core/random.h"

namespace galen::autograd {

namespace {

thread_local int t_recomputing = 0;

// Sets grad mode for a scope (NoGradGuard only turns it off).
class GradModeScope {
 public:
  explicit GradModeScope(bool on) : prev_(grad_mode_enabled()) { set_grad_mode(on); }
  ~GradModeScope() { set_grad_mode(prev_); }
  GradModeScope(const GradModeScope&) = delete;
  GradModeScope& operator=(const GradModeScope&) = delete;

 private:
  bool prev_;
};

class RecomputeScope {
 public:
  RecomputeScope() { ++t_recomputing; }
  ~RecomputeScope() { --t_recomputing; }
  RecomputeScope(const RecomputeScope&) = delete;
  RecomputeScope& operator=(const RecomputeScope&) = delete;
};

// Puts the global RNG at `s` for a scope and restores the state it found.
class RngScope {
 public:
  explicit RngScope(const GeneratorState& s) : prev_(get_rng_state()) { set_rng_state(s); }
  ~RngScope() { set_rng_state(prev_); }
  RngScope(const RngScope&) = delete;
  RngScope& operator=(const RngScope&) = delete;

 private:
  GeneratorState prev_;
};

}  // namespace

bool is_checkpoint_recomputing() { return t_recomputing > 0; }

Tensor checkpoint(const CheckpointFn& fn, const std::vector<Tensor>& inputs) {
  GALEN_CHECK(static_cast<bool>(fn), "checkpoint: the function is empty");
  for (size_t i = 0; i < inputs.size(); ++i)
    GALEN_CHECK(inputs[i].defined(), "checkpoint: input ", i, " is undefined");
  if (!any_requires_grad(inputs)) return fn(inputs);

  const GeneratorState rng = get_rng_state();
  Tensor out;
  {
    NoGradGuard no_grad;
    out = fn(inputs);
  }
  GALEN_CHECK(out.defined(), "checkpoint: the function returned an undefined tensor");
  std::vector<bool> needs(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) needs[i] = inputs[i].requires_grad();

  return record("checkpoint", out, inputs, inputs,
                [fn, rng, needs](const Tensor& grad, const std::vector<Tensor>& saved) {
                  // Fresh leaves for the inputs, so the nested pass stops at them.
                  std::vector<Tensor> leaves;
                  leaves.reserve(saved.size());
                  for (size_t i = 0; i < saved.size(); ++i) {
                    Tensor l = saved[i].detach();
                    if (needs[i]) l.requires_grad_(true);
                    leaves.push_back(std::move(l));
                  }
                  Tensor again;
                  {
                    RngScope rng_scope(rng);
                    RecomputeScope recompute;
                    GradModeScope grad_on(true);
                    again = fn(leaves);
                  }
                  GALEN_CHECK(again.defined() && again.sizes() == grad.sizes(),
                              "checkpoint: the recomputed output has shape ",
                              again.defined() ? again.sizes() : Shape{}, ", the first run gave ", grad.sizes(),
                              " (the function must be deterministic)");
                  if (again.requires_grad()) run_backward({again}, {grad}, /*retain_graph=*/false);
                  std::vector<Tensor> grads;
                  grads.reserve(leaves.size());
                  for (auto& l : leaves) grads.push_back(l.requires_grad() ? l.grad() : Tensor());
                  return grads;
                });
}

}  // namespace galen::autograd
