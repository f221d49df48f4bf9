// Conv2d: 2-D convolution over (N, C, H, W) or (C, H, W) inputs, as torch.nn.Conv2d.
#pragma once

#include "galen/core/ops.h"
#include "galen/layers/module.h"

namespace galen::nn {

// weight (out_channels, in_channels/groups, kH, kW), bias (out_channels).
// padding: an int, a pair, "valid" or "same" (stride 1 only). Default init as
// PyTorch: kaiming_uniform(a = sqrt(5)) = U(±1/sqrt(fan_in)) for the weight,
// U(±1/sqrt(fan_in)) for the bias, fan_in = in_channels/groups * kH * kW.
class Conv2d : public Module {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, Int2 kernel_size, Int2 stride = 1,
         Conv2dPadding padding = 0, Int2 dilation = 1, int64_t groups = 1, bool bias = true);
  std::string name() const override { return "Conv2d"; }
  Tensor forward(const Tensor& x) override;
  void reset_parameters();

  int64_t in_channels, out_channels;
  Int2 kernel_size, stride;
  Conv2dPadding padding;
  Int2 dilation;
  int64_t groups;
  Tensor weight;
  Tensor bias;  // undefined when built with bias = false

 protected:
  std::string extra_repr() const override;
};

}  // namespace galen::nn
