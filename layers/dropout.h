// Dropout: inverted dropout in training mode, the identity in eval mode. The mask comes from galen's seeded RNG
// (manual_seed makes it reproducible).
#pragma once

#include "galen/layers/module.h"

namespace galen::nn {

class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5);
  std::string name() const override { return "Dropout"; }
  Tensor forward(const Tensor &x) override;
  double p;

 protected:
  std::string extra_repr() const override { return "p=" + py_float(p) + ", inplace=False"; }
};

}  // namespace galen::nn
