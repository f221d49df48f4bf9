// Parameter initialisers, as torch.nn.init: each fills a tensor in place (under NoGradGuard, so parameters that
// require grad may be passed) from galen's seeded Philox RNG, and returns it. Fans follow PyTorch's
// _calculate_fan_in_and_fan_out: fan_in = size(1) * receptive field, fan_out = size(0) * receptive field, receptive
// field = prod(sizes[2:]).
#pragma once

#include <optional>
#include <string>
#include <utility>

#include "galen/core/tensor.h"

namespace galen::nn::init {

// Recommended gain for a nonlinearity: "linear", "conv1d/2d/3d", "conv_transpose1d/2d/3d", "sigmoid" -> 1; "tanh" ->
// 5/3; "relu" -> sqrt(2); "leaky_relu" -> sqrt(2 / (1 + slope^2)) (slope = param, default 0.01); "selu" -> 3/4. Error
// for other names.
double calculate_gain(const std::string &nonlinearity, std::optional<double> param = std::nullopt);

// {fan_in, fan_out}; Error for tensors with fewer than 2 dims.
std::pair<int64_t, int64_t> calculate_fan_in_and_fan_out(const Tensor &t);

Tensor &uniform_(Tensor &t, double a = 0.0, double b = 1.0);
Tensor &normal_(Tensor &t, double mean = 0.0, double std = 1.0);
Tensor &constant_(Tensor &t, double value);
Tensor &zeros_(Tensor &t);
Tensor &ones_(Tensor &t);
// U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)).
Tensor &xavier_uniform_(Tensor &t, double gain = 1.0);
// N(0, std), std = gain * sqrt(2 / (fan_in + fan_out)).
Tensor &xavier_normal_(Tensor &t, double gain = 1.0);
// U(-bound, bound), bound = gain * sqrt(3 / fan), gain = calculate_gain(nonlinearity, a), fan = fan_in or fan_out by
// mode ("fan_in" | "fan_out").
Tensor &kaiming_uniform_(Tensor &t, double a = 0.0, const std::string &mode = "fan_in",
                         const std::string &nonlinearity = "leaky_relu");
// N(0, std), std = gain / sqrt(fan).
Tensor &kaiming_normal_(Tensor &t, double a = 0.0, const std::string &mode = "fan_in",
                        const std::string &nonlinearity = "leaky_relu");

}  // namespace galen::nn::init
