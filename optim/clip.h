// Gradient clipping, as torch.nn.utils.clip_grad_norm_ / clip_grad_value_.
#pragma once

#include <limits>
#include <vector>

#include "galen/core/tensor.h"

namespace galen::optim {

constexpr double kInfNorm = std::numeric_limits<double>::infinity();

// Scales every gradient by min(1, max_norm / (total_norm + 1e-6)), where
// total_norm is the norm_type-norm (2, 1, any p > 0, or kInfNorm) of all the
// gradients taken together. Returns total_norm (0-d, the gradients' dtype and
// device; 0 when no parameter has a gradient). Parameters without .grad are skipped.
Tensor clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0);
// Clamps every gradient element into [-clip_value, clip_value].
void clip_grad_value_(const std::vector<Tensor>& params, double clip_value);

}  // namespace galen::optim
