// Dropout module over galen::dropout.
#include "galen/layers/dropout.h"

#include "galen/core/ops.h"

namespace galen::nn {

Dropout::Dropout(double p) : p(p) {
  GALEN_CHECK(p >= 0.0 && p <= 1.0, "Dropout: probability must be in [0, 1], got ", p);
}

Tensor Dropout::forward(const Tensor &x) { return dropout(x, p, is_training()); }

}  // namespace galen::nn
