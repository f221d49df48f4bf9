// Volume utilities (see volume.h): slicing is a view + copy, resampling goes
// through data::resize, normalisation works on a host copy.
#include "galen/data/volume.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "galen/core/autograd.h"
#include "galen/core/error.h"
#include "galen/core/ops.h"
#include "galen/data/transforms.h"

namespace galen::data {

namespace {

const char* plane_name(Plane p) {
  switch (p) {
    case Plane::axial:
      return "axial";
    case Plane::coronal:
      return "coronal";
    case Plane::sagittal:
      return "sagittal";
  }
  return "?";
}

int64_t plane_dim(Plane p) { return p == Plane::axial ? 0 : (p == Plane::coronal ? 1 : 2); }

Tensor floating(const Tensor& x, const char* op) {
  GALEN_CHECK(x.defined() && x.numel() > 0, op, ": expected a non-empty tensor");
  return x.dtype() == DType::f64 ? x.detach() : x.detach().to(DType::f32);
}

// Percentile q (0..100) of sorted values, numpy's "linear" method.
double percentile(const std::vector<double>& s, double q) {
  const double pos = q / 100.0 * static_cast<double>(s.size() - 1);
  const size_t i = static_cast<size_t>(std::floor(pos));
  const size_t j = std::min(i + 1, s.size() - 1);
  const double f = pos - static_cast<double>(i);
  return s[i] + (s[j] - s[i]) * f;
}

Tensor scale_to_unit(const Tensor& xf, double lo, double hi) {
  if (!(hi > lo)) return zeros_like(xf);
  return clamp((xf - lo) / (hi - lo), 0.0, 1.0);
}

}  // namespace

Tensor extract_slice(const Tensor& volume, Plane plane, int64_t index) {
  GALEN_CHECK(volume.defined() && volume.dim() == 3, "extract_slice: expected a (D, H, W) volume, got ",
              volume.defined() ? volume.sizes() : Shape{});
  const int64_t d = plane_dim(plane);
  GALEN_CHECK(index >= 0 && index < volume.size(d), "extract_slice: ", plane_name(plane), " index ", index,
              " is out of range for a volume of shape ", volume.sizes(), " (0..", volume.size(d) - 1, ")");
  NoGradGuard ng;
  return volume.detach().select(d, index).contiguous().clone();
}

Tensor middle_slice(const Tensor& volume, Plane plane) {
  GALEN_CHECK(volume.defined() && volume.dim() == 3, "middle_slice: expected a (D, H, W) volume, got ",
              volume.defined() ? volume.sizes() : Shape{});
  return extract_slice(volume, plane, volume.size(plane_dim(plane)) / 2);
}

Tensor resample_slice(const Tensor& slice, double dy, double dx, double new_dy, double new_dx) {
  GALEN_CHECK(slice.defined() && slice.dim() >= 2, "resample_slice: expected a (..., H, W) slice, got ",
              slice.defined() ? slice.sizes() : Shape{});
  GALEN_CHECK(dy > 0 && dx > 0 && new_dy > 0 && new_dx > 0 && std::isfinite(dy * dx * new_dy * new_dx),
              "resample_slice: pixel sizes must be positive, got (", dy, ", ", dx, ") -> (", new_dy, ", ", new_dx, ")");
  const double h = std::round(static_cast<double>(slice.size(-2)) * dy / new_dy);
  const double w = std::round(static_cast<double>(slice.size(-1)) * dx / new_dx);
  GALEN_CHECK(h <= 65536 && w <= 65536, "resample_slice: the result would be ", h, "x", w, " pixels");
  NoGradGuard ng;
  return resize(floating(slice, "resample_slice"), std::max<int64_t>(1, static_cast<int64_t>(h)),
                std::max<int64_t>(1, static_cast<int64_t>(w)));
}

Tensor normalize_minmax(const Tensor& x) {
  NoGradGuard ng;
  const Tensor xf = floating(x, "normalize_minmax");
  const double lo = min(xf).item(), hi = max(xf).item();
  GALEN_CHECK(std::isfinite(lo) && std::isfinite(hi), "normalize_minmax: the tensor holds non-finite values");
  return scale_to_unit(xf, lo, hi);
}

Tensor normalize_percentile(const Tensor& x, double lower_percent, double upper_percent) {
  GALEN_CHECK(lower_percent >= 0 && upper_percent <= 100 && lower_percent <= upper_percent,
              "normalize_percentile: need 0 <= lower <= upper <= 100, got ", lower_percent, ", ", upper_percent);
  NoGradGuard ng;
  const Tensor xf = floating(x, "normalize_percentile");
  std::vector<double> v = xf.to(DType::f64).cpu().contiguous().to_vector<double>();
  for (double e : v) GALEN_CHECK(std::isfinite(e), "normalize_percentile: the tensor holds non-finite values");
  std::sort(v.begin(), v.end());
  return scale_to_unit(xf, percentile(v, lower_percent), percentile(v, upper_percent));
}

}  // namespace galen::data
