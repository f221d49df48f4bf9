// Conv2d on top of galen::conv2d.
#include "galen/layers/conv.h"

#include <cmath>
#include <sstream>

#include "galen/layers/init.h"

namespace galen::nn {

Conv2d::Conv2d(int64_t in, int64_t out, Int2 k, Int2 s, Conv2dPadding p, Int2 d, int64_t g, bool with_bias)
    : in_channels(in), out_channels(out), kernel_size(k), stride(s), padding(p), dilation(d), groups(g) {
  GALEN_CHECK(in > 0 && out > 0, "Conv2d: in_channels and out_channels must be positive, got ", in, " and ", out);
  GALEN_CHECK(g > 0, "Conv2d: groups must be positive, got ", g);
  GALEN_CHECK(in % g == 0, "Conv2d: in_channels (", in, ") must be divisible by groups (", g, ")");
  GALEN_CHECK(out % g == 0, "Conv2d: out_channels (", out, ") must be divisible by groups (", g, ")");
  GALEN_CHECK(k.h > 0 && k.w > 0, "Conv2d: kernel_size must be positive, got (", k.h, ", ", k.w, ")");
  GALEN_CHECK(s.h > 0 && s.w > 0, "Conv2d: stride must be positive, got (", s.h, ", ", s.w, ")");
  GALEN_CHECK(d.h > 0 && d.w > 0, "Conv2d: dilation must be positive, got (", d.h, ", ", d.w, ")");
  GALEN_CHECK(!p.same || (s.h == 1 && s.w == 1), "Conv2d: padding=\"same\" needs stride 1, got (", s.h, ", ",
              s.w, ")");
  GALEN_CHECK(p.same || (p.h >= 0 && p.w >= 0), "Conv2d: padding must be non-negative, got (", p.h, ", ", p.w, ")");
  weight = register_parameter("weight", empty({out, in / g, k.h, k.w}));
  if (with_bias) bias = register_parameter("bias", empty({out}));
  reset_parameters();
}

void Conv2d::reset_parameters() {
  // kaiming_uniform(a = sqrt(5)): bound = sqrt(1/3) * sqrt(3 / fan_in) = 1/sqrt(fan_in).
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    const double fan_in = static_cast<double>(in_channels / groups * kernel_size.h * kernel_size.w);
    const double bound = 1.0 / std::sqrt(fan_in);
    init::uniform_(bias, -bound, bound);
  }
}

Tensor Conv2d::forward(const Tensor& x) {
  GALEN_CHECK((x.dim() == 3 || x.dim() == 4) && x.size(-3) == in_channels, "Conv2d(", in_channels, ", ",
              out_channels, "): expected input (N, ", in_channels, ", H, W) or (", in_channels, ", H, W), got shape ",
              x.sizes());
  return conv2d(x, weight, bias, stride, padding, dilation, groups);
}

std::string Conv2d::extra_repr() const {
  std::ostringstream os;
  auto tup = [&](Int2 v) { os << "(" << v.h << ", " << v.w << ")"; };
  os << in_channels << ", " << out_channels << ", kernel_size=";
  tup(kernel_size);
  os << ", stride=";
  tup(stride);
  if (padding.same) os << ", padding=same";
  else if (padding.h != 0 || padding.w != 0) os << ", padding=(" << padding.h << ", " << padding.w << ")";
  if (dilation.h != 1 || dilation.w != 1) {
    os << ", dilation=";
    tup(dilation);
  }
  if (groups != 1) os << ", groups=" << groups;
  if (!bias.defined()) os << ", bias=False";
  return os.str();
}

}  // namespace galen::nn
