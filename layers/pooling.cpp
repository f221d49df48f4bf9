// MaxPool2d, AvgPool2d, AdaptiveAvgPool2d on top of the pooling ops.
#include "galen/layers/pooling.h"

#include <sstream>

namespace galen::nn {

namespace {
std::string tup(Int2 v) {
  return v.h == v.w ? std::to_string(v.h) : "(" + std::to_string(v.h) + ", " + std::to_string(v.w) + ")";
}
const char* py_bool(bool b) { return b ? "True" : "False"; }
}  // namespace

MaxPool2d::MaxPool2d(Int2 k, Int2 s, Int2 p, Int2 d, bool ceil)
    : kernel_size(k), stride(s.h == 0 && s.w == 0 ? k : s), padding(p), dilation(d), ceil_mode(ceil) {
  GALEN_CHECK(k.h > 0 && k.w > 0, "MaxPool2d: kernel_size must be positive, got ", tup(k));
}

Tensor MaxPool2d::forward(const Tensor& x) {
  return max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode);
}

std::string MaxPool2d::extra_repr() const {
  return "kernel_size=" + tup(kernel_size) + ", stride=" + tup(stride) + ", padding=" + tup(padding) +
         ", dilation=" + tup(dilation) + ", ceil_mode=" + py_bool(ceil_mode);
}

AvgPool2d::AvgPool2d(Int2 k, Int2 s, Int2 p, bool ceil, bool cip)
    : kernel_size(k), stride(s.h == 0 && s.w == 0 ? k : s), padding(p), ceil_mode(ceil), count_include_pad(cip) {
  GALEN_CHECK(k.h > 0 && k.w > 0, "AvgPool2d: kernel_size must be positive, got ", tup(k));
}

Tensor AvgPool2d::forward(const Tensor& x) {
  return avg_pool2d(x, kernel_size, stride, padding, ceil_mode, count_include_pad);
}

std::string AvgPool2d::extra_repr() const {
  return "kernel_size=" + tup(kernel_size) + ", stride=" + tup(stride) + ", padding=" + tup(padding);
}

AdaptiveAvgPool2d::AdaptiveAvgPool2d(Int2 out) : output_size(out) {
  GALEN_CHECK(out.h > 0 && out.w > 0, "AdaptiveAvgPool2d: output_size must be positive, got ", tup(out));
}

Tensor AdaptiveAvgPool2d::forward(const Tensor& x) { return adaptive_avg_pool2d(x, output_size); }

std::string AdaptiveAvgPool2d::extra_repr() const {
  return "output_size=" + (output_size.h == output_size.w
                               ? std::to_string(output_size.h)
                               : "(" + std::to_string(output_size.h) + ", " + std::to_string(output_size.w) + ")");
}

}  // namespace galen::nn
