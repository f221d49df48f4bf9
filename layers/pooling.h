// Pooling layers: MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, as torch.nn.
#pragma once

#include "galen/core/ops.h"
#include "galen/layers/module.h"

namespace galen::nn {

// stride 0 (the default) = kernel_size, like PyTorch's stride=None.
class MaxPool2d : public Module {
 public:
  MaxPool2d(Int2 kernel_size, Int2 stride = 0, Int2 padding = 0, Int2 dilation = 1, bool ceil_mode = false);
  std::string name() const override { return "MaxPool2d"; }
  Tensor forward(const Tensor& x) override;

  Int2 kernel_size, stride, padding, dilation;
  bool ceil_mode;

 protected:
  std::string extra_repr() const override;
};

class AvgPool2d : public Module {
 public:
  AvgPool2d(Int2 kernel_size, Int2 stride = 0, Int2 padding = 0, bool ceil_mode = false,
            bool count_include_pad = true);
  std::string name() const override { return "AvgPool2d"; }
  Tensor forward(const Tensor& x) override;

  Int2 kernel_size, stride, padding;
  bool ceil_mode, count_include_pad;

 protected:
  std::string extra_repr() const override;
};

class AdaptiveAvgPool2d : public Module {
 public:
  explicit AdaptiveAvgPool2d(Int2 output_size);
  std::string name() const override { return "AdaptiveAvgPool2d"; }
  Tensor forward(const Tensor& x) override;

  Int2 output_size;

 protected:
  std::string extra_repr() const override;
};

}  // namespace galen::nn
