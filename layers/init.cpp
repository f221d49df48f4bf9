// torch.nn.init equivalents (see init.h).
#include "galen/layers/init.h"

#include <cmath>

#include "galen/core/autograd.h"

namespace galen::nn::init {

namespace {

void check_target(const char *fn, const Tensor &t) {
  GALEN_CHECK(t.defined(), "init::", fn, ": tensor is undefined");
  GALEN_CHECK(is_floating(t.dtype()), "init::", fn, ": tensor must be floating, got ", dtype_name(t.dtype()));
}

// Overwrites t's values with src (same shape), without recording.
Tensor &assign(Tensor &t, const Tensor &src) {
  NoGradGuard ng;
  t.copy_(src);
  return t;
}

int64_t fan_for(const char *fn, const Tensor &t, const std::string &mode) {
  auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(t);
  if (mode == "fan_in") return fan_in;
  if (mode == "fan_out") return fan_out;
  GALEN_FAIL("init::", fn, ": mode must be \"fan_in\" or \"fan_out\", got \"", mode, "\"");
}

}  // namespace

double calculate_gain(const std::string &nl, std::optional<double> param) {
  if (nl == "linear" || nl == "conv1d" || nl == "conv2d" || nl == "conv3d" || nl == "conv_transpose1d" ||
      nl == "conv_transpose2d" || nl == "conv_transpose3d" || nl == "sigmoid")
    return 1.0;
  if (nl == "tanh") return 5.0 / 3.0;
  if (nl == "relu") return std::sqrt(2.0);
  if (nl == "leaky_relu") {
    const double slope = param.value_or(0.01);
    return std::sqrt(2.0 / (1.0 + slope * slope));
  }
  if (nl == "selu") return 0.75;
  GALEN_FAIL("init::calculate_gain: unsupported nonlinearity \"", nl, "\"");
}

std::pair<int64_t, int64_t> calculate_fan_in_and_fan_out(const Tensor &t) {
  GALEN_CHECK(t.defined(), "init: tensor is undefined");
  GALEN_CHECK(t.dim() >= 2,
              "init: fan in and fan out cannot be computed for a tensor with "
              "fewer than 2 dims, got shape ",
              t.sizes());
  int64_t receptive = 1;
  for (int64_t d = 2; d < t.dim(); ++d) receptive *= t.size(d);
  return {t.size(1) * receptive, t.size(0) * receptive};
}

Tensor &uniform_(Tensor &t, double a, double b) {
  check_target("uniform_", t);
  return assign(t, uniform(t.sizes(), a, b, TensorOptions(t.dtype(), t.device())));
}

Tensor &normal_(Tensor &t, double mean, double std) {
  check_target("normal_", t);
  return assign(t, normal(t.sizes(), mean, std, TensorOptions(t.dtype(), t.device())));
}

Tensor &constant_(Tensor &t, double value) {
  GALEN_CHECK(t.defined(), "init::constant_: tensor is undefined");
  NoGradGuard ng;
  t.fill_(value);
  return t;
}

Tensor &zeros_(Tensor &t) { return constant_(t, 0.0); }
Tensor &ones_(Tensor &t) { return constant_(t, 1.0); }

Tensor &xavier_uniform_(Tensor &t, double gain) {
  check_target("xavier_uniform_", t);
  auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(t);
  const double a = gain * std::sqrt(6.0 / static_cast<double>(fan_in + fan_out));
  return uniform_(t, -a, a);
}

Tensor &xavier_normal_(Tensor &t, double gain) {
  check_target("xavier_normal_", t);
  auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(t);
  return normal_(t, 0.0, gain * std::sqrt(2.0 / static_cast<double>(fan_in + fan_out)));
}

Tensor &kaiming_uniform_(Tensor &t, double a, const std::string &mode, const std::string &nonlinearity) {
  check_target("kaiming_uniform_", t);
  const int64_t fan = fan_for("kaiming_uniform_", t, mode);
  GALEN_CHECK(fan > 0, "init::kaiming_uniform_: fan is 0 for shape ", t.sizes());
  const double bound = calculate_gain(nonlinearity, a) * std::sqrt(3.0 / static_cast<double>(fan));
  return uniform_(t, -bound, bound);
}

Tensor &kaiming_normal_(Tensor &t, double a, const std::string &mode, const std::string &nonlinearity) {
  check_target("kaiming_normal_", t);
  const int64_t fan = fan_for("kaiming_normal_", t, mode);
  GALEN_CHECK(fan > 0, "init::kaiming_normal_: fan is 0 for shape ", t.sizes());
  return normal_(t, 0.0, calculate_gain(nonlinearity, a) / std::sqrt(static_cast<double>(fan)));
}

}  // namespace galen::nn::init
