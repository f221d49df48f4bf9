// Finite-difference gradient checking (central differences in f64), for tests
// and for users writing their own ops.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "galen/core/tensor.h"

namespace galen {

struct GradcheckResult {
  bool ok = true;
  double max_abs_err = 0.0;
  std::string message;  // where the largest mismatch was, when !ok
};

// f maps the inputs to one output tensor. Checks d(sum(out * w))/d(input) for a
// fixed random weight w, for every input that requires grad (must be f64),
// comparing autograd against central differences with step eps:
// |analytic - numeric| <= atol + rtol * |numeric| element by element.
GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                          const std::vector<Tensor>& inputs, double eps = 1e-6,
                          double atol = 1e-5, double rtol = 1e-3);

}  // namespace galen
