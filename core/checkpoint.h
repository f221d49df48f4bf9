// Gradient checkpointing (torch.utils.checkpoint): trade compute for memory by
// not keeping a function's intermediate activations. checkpoint(fn, inputs)
// runs fn under NoGradGuard, so nothing inside it is saved, and records one
// node whose backward re-runs fn with grad on (same RNG state as the first run)
// and back-propagates through the recomputed graph: into the inputs, and into
// every parameter fn uses (their .grad is accumulated there, as in PyTorch's
// reentrant checkpoint, so autograd::grad w.r.t. a parameter used only inside
// fn does not see it).
//
// Side effects inside fn run twice. Layers that have any (BatchNorm's running
// statistics) ask is_checkpoint_recomputing() and skip them during the re-run.
#pragma once

#include <functional>
#include <vector>

#include "galen/core/tensor.h"

namespace galen::autograd {

using CheckpointFn = std::function<Tensor(const std::vector<Tensor>&)>;

// fn(inputs) with its activations recomputed in backward instead of stored.
// When grad mode is off, or no input requires grad, this is plain fn(inputs)
// (recorded normally, so gradients still reach parameters used inside fn).
// fn must be deterministic apart from galen's global RNG, whose state is
// replayed, and must return a floating-point tensor.
Tensor checkpoint(const CheckpointFn& fn, const std::vector<Tensor>& inputs);

// True on this thread while a checkpointed function is being re-run in backward.
bool is_checkpoint_recomputing();

}  // namespace galen::autograd
