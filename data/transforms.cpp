// Image transforms (see transforms.h): plain loops over (planes, H, W) on the
// CPU, f32 or f64.
#include "galen/data/transforms.h"

#include <algorithm>
#include <cmath>

#include "galen/core/error.h"
#include "galen/core/ops.h"

namespace galen::data {

namespace {

constexpr double kPi = 3.14159265358979323846;

// The input as a contiguous CPU (planes, H, W) float tensor.
struct Planes {
  Tensor t;  // contiguous, CPU, f32 or f64
  Shape lead;  // leading dims
  int64_t n = 1, h = 0, w = 0;
  Device device;
};

Planes planes(const Tensor& x, const char* op) {
  GALEN_CHECK(x.defined() && x.dim() >= 2, op, ": expected an image (..., H, W), got ",
              x.defined() ? x.sizes() : Shape{});
  GALEN_CHECK(x.dtype() == DType::f32 || x.dtype() == DType::f64, op,
              ": expected a f32 or f64 image (use to_tensor first), got ", dtype_name(x.dtype()));
  Planes p;
  p.device = x.device();
  p.t = x.detach().cpu().contiguous();
  p.h = x.size(-2);
  p.w = x.size(-1);
  p.lead.assign(x.sizes().begin(), x.sizes().end() - 2);
  for (int64_t s : p.lead) p.n *= s;
  return p;
}

Tensor finish(const Planes& p, Tensor out) { return out.to(p.device); }

Shape out_shape(const Planes& p, int64_t h, int64_t w) {
  Shape s = p.lead;
  s.push_back(h);
  s.push_back(w);
  return s;
}

template <typename F>
void on_float(DType dt, F&& f) {
  if (dt == DType::f32) f(float{});
  else f(double{});
}

// PyTorch's area_pixel_compute_source_index for align_corners=False, linear.
template <typename T>
T source_index(T scale, int64_t dst) {
  const T s = scale * (static_cast<T>(dst) + T(0.5)) - T(0.5);
  return s < T(0) ? T(0) : s;
}

// Bilinear sample of plane `src` (h, w) at pixel coordinates (ix, iy), zero
// outside (grid_sample, padding_mode="zeros").
template <typename T>
T sample_zero(const T* src, int64_t h, int64_t w, T ix, T iy) {
  const T fx = std::floor(ix), fy = std::floor(iy);
  const int64_t x0 = static_cast<int64_t>(fx), y0 = static_cast<int64_t>(fy);
  const T ax = ix - fx, ay = iy - fy;
  T acc = 0;
  auto at = [&](int64_t y, int64_t x, T wgt) {
    if (y >= 0 && y < h && x >= 0 && x < w) acc += src[y * w + x] * wgt;
  };
  at(y0, x0, (1 - ax) * (1 - ay));
  at(y0, x0 + 1, ax * (1 - ay));
  at(y0 + 1, x0, (1 - ax) * ay);
  at(y0 + 1, x0 + 1, ax * ay);
  return acc;
}

}  // namespace

Tensor to_tensor(const Tensor& image) {
  GALEN_CHECK(image.defined() && (image.dim() == 2 || image.dim() == 3),
              "to_tensor: expected an (H, W, C) or (H, W) image, got ", image.defined() ? image.sizes() : Shape{});
  Tensor img = image.detach();
  if (img.dim() == 2) img = img.unsqueeze(2);
  img = img.permute({2, 0, 1}).contiguous();
  switch (img.dtype()) {
    case DType::u8: return div(img.to(DType::f32), 255.0);
    case DType::i32: return div(img.to(DType::f32), 65535.0);
    case DType::f32:
    case DType::f64: return img.clone();
    default: GALEN_FAIL("to_tensor: unsupported image dtype ", dtype_name(img.dtype()), " (u8, i32 16-bit or float)");
  }
}

Tensor normalize(const Tensor& x, const std::vector<double>& mean, const std::vector<double>& std) {
  GALEN_CHECK(x.defined() && x.dim() >= 3, "normalize: expected (..., C, H, W), got ",
              x.defined() ? x.sizes() : Shape{});
  GALEN_CHECK(is_floating(x.dtype()), "normalize: expected a floating image, got ", dtype_name(x.dtype()));
  const int64_t c = x.size(-3);
  const auto fits = [&](size_t n) { return n == 1 || static_cast<int64_t>(n) == c; };
  GALEN_CHECK(fits(mean.size()) && fits(std.size()), "normalize: image has ", c, " channels but mean has ",
              mean.size(), " and std ", std.size(), " values");
  for (double s : std) GALEN_CHECK(s != 0.0, "normalize: std contains 0");
  const int64_t nm = static_cast<int64_t>(mean.size()), ns = static_cast<int64_t>(std.size());
  Tensor m = from_vector<double>(mean, {nm, 1, 1}).to(x.dtype()).to(x.device());
  Tensor s = from_vector<double>(std, {ns, 1, 1}).to(x.dtype()).to(x.device());
  return div(sub(x.detach(), m), s);
}

Tensor resize(const Tensor& x, int64_t oh, int64_t ow) {
  GALEN_CHECK(oh >= 1 && ow >= 1, "resize: output size must be positive, got ", oh, "x", ow);
  Planes p = planes(x, "resize");
  GALEN_CHECK(p.h >= 1 && p.w >= 1, "resize: empty image ", x.sizes());
  Tensor out = empty(out_shape(p, oh, ow), p.t.dtype());
  on_float(p.t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* in = static_cast<const T*>(p.t.data_ptr());
    T* o = static_cast<T*>(out.data_ptr());
    const T sh = static_cast<T>(p.h) / static_cast<T>(oh), sw = static_cast<T>(p.w) / static_cast<T>(ow);
    std::vector<int64_t> x0(ow), x1(ow);
    std::vector<T> lx(ow);
    for (int64_t j = 0; j < ow; ++j) {
      const T s = source_index(sw, j);
      x0[j] = std::min<int64_t>(static_cast<int64_t>(s), p.w - 1);
      x1[j] = x0[j] + (x0[j] < p.w - 1 ? 1 : 0);
      lx[j] = s - static_cast<T>(x0[j]);
    }
    for (int64_t n = 0; n < p.n; ++n) {
      const T* src = in + n * p.h * p.w;
      T* dst = o + n * oh * ow;
      for (int64_t i = 0; i < oh; ++i) {
        const T s = source_index(sh, i);
        const int64_t y0 = std::min<int64_t>(static_cast<int64_t>(s), p.h - 1);
        const int64_t y1 = y0 + (y0 < p.h - 1 ? 1 : 0);
        const T ly = s - static_cast<T>(y0);
        const T* r0 = src + y0 * p.w;
        const T* r1 = src + y1 * p.w;
        for (int64_t j = 0; j < ow; ++j) {
          const T a = lx[j];
          dst[i * ow + j] = (1 - ly) * ((1 - a) * r0[x0[j]] + a * r0[x1[j]]) + ly * ((1 - a) * r1[x0[j]] + a * r1[x1[j]]);
        }
      }
    }
  });
  return finish(p, out);
}

Tensor resize(const Tensor& x, int64_t size) {
  GALEN_CHECK(x.defined() && x.dim() >= 2, "resize: expected an image (..., H, W)");
  GALEN_CHECK(size >= 1, "resize: size must be positive, got ", size);
  const int64_t h = x.size(-2), w = x.size(-1);
  if (h <= w) return resize(x, size, std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(size) * w / h)));
  return resize(x, std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(size) * h / w)), size);
}

Tensor crop(const Tensor& x, int64_t top, int64_t left, int64_t ch, int64_t cw) {
  GALEN_CHECK(ch >= 1 && cw >= 1, "crop: size must be positive, got ", ch, "x", cw);
  Planes p = planes(x, "crop");
  Tensor out = zeros(out_shape(p, ch, cw), p.t.dtype());
  on_float(p.t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* in = static_cast<const T*>(p.t.data_ptr());
    T* o = static_cast<T*>(out.data_ptr());
    const int64_t y_lo = std::max<int64_t>(0, -top), y_hi = std::min<int64_t>(ch, p.h - top);
    const int64_t x_lo = std::max<int64_t>(0, -left), x_hi = std::min<int64_t>(cw, p.w - left);
    for (int64_t n = 0; n < p.n; ++n)
      for (int64_t i = y_lo; i < y_hi; ++i)
        for (int64_t j = x_lo; j < x_hi; ++j)
          o[(n * ch + i) * cw + j] = in[(n * p.h + top + i) * p.w + left + j];
  });
  return finish(p, out);
}

Tensor center_crop(const Tensor& x, int64_t ch, int64_t cw) {
  GALEN_CHECK(x.defined() && x.dim() >= 2, "center_crop: expected an image (..., H, W)");
  const int64_t h = x.size(-2), w = x.size(-1);
  // torchvision: int(round((H - h) / 2)) with Python's round-half-even; when the
  // crop is larger, pad (left/top gets the floor half) and crop at 0.
  auto start = [](int64_t have, int64_t want) -> int64_t {
    if (want > have) return -((want - have) / 2);
    return static_cast<int64_t>(std::nearbyint(static_cast<double>(have - want) / 2.0));
  };
  return crop(x, start(h, ch), start(w, cw), ch, cw);
}

Tensor five_crop(const Tensor& x, int64_t ch, int64_t cw) {
  GALEN_CHECK(x.defined() && x.dim() == 3, "five_crop: expected a (C, H, W) image, got ",
              x.defined() ? x.sizes() : Shape{});
  const int64_t h = x.size(1), w = x.size(2);
  GALEN_CHECK(ch >= 1 && cw >= 1 && ch <= h && cw <= w, "five_crop: crop ", ch, "x", cw,
              " does not fit in the image ", h, "x", w);
  return stack({crop(x, 0, 0, ch, cw), crop(x, 0, w - cw, ch, cw), crop(x, h - ch, 0, ch, cw),
                crop(x, h - ch, w - cw, ch, cw), center_crop(x, ch, cw)});
}

Tensor ten_crop(const Tensor& x, int64_t ch, int64_t cw) {
  Tensor a = five_crop(x, ch, cw);
  return cat({a, five_crop(hflip(x), ch, cw)}, 0);
}

Tensor hflip(const Tensor& x) {
  Planes p = planes(x, "hflip");
  Tensor out = empty(out_shape(p, p.h, p.w), p.t.dtype());
  on_float(p.t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* in = static_cast<const T*>(p.t.data_ptr());
    T* o = static_cast<T*>(out.data_ptr());
    for (int64_t r = 0; r < p.n * p.h; ++r)
      for (int64_t j = 0; j < p.w; ++j) o[r * p.w + j] = in[r * p.w + (p.w - 1 - j)];
  });
  return finish(p, out);
}

Tensor vflip(const Tensor& x) {
  Planes p = planes(x, "vflip");
  Tensor out = empty(out_shape(p, p.h, p.w), p.t.dtype());
  on_float(p.t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* in = static_cast<const T*>(p.t.data_ptr());
    T* o = static_cast<T*>(out.data_ptr());
    for (int64_t n = 0; n < p.n; ++n)
      for (int64_t i = 0; i < p.h; ++i)
        std::copy_n(in + (n * p.h + (p.h - 1 - i)) * p.w, p.w, o + (n * p.h + i) * p.w);
  });
  return finish(p, out);
}

Tensor affine(const Tensor& x, double degrees, double tx, double ty, double scale) {
  GALEN_CHECK(scale > 0 && std::isfinite(scale), "affine: scale must be positive, got ", scale);
  GALEN_CHECK(std::isfinite(degrees) && std::isfinite(tx) && std::isfinite(ty), "affine: non-finite parameters");
  Planes p = planes(x, "affine");
  const double a = degrees * kPi / 180.0;
  const double c = std::cos(a) / scale, s = std::sin(a) / scale;
  // q = M (p - t), M = [[c, -s], [s, c]]
  const double m00 = c, m01 = -s, m10 = s, m11 = c;
  const double b0 = -(m00 * tx + m01 * ty), b1 = -(m10 * tx + m11 * ty);
  Tensor out = empty(out_shape(p, p.h, p.w), p.t.dtype());
  on_float(p.t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* in = static_cast<const T*>(p.t.data_ptr());
    T* o = static_cast<T*>(out.data_ptr());
    const double hw = 0.5 * static_cast<double>(p.w), hh = 0.5 * static_cast<double>(p.h);
    for (int64_t i = 0; i < p.h; ++i) {
      const double py = static_cast<double>(i) + 0.5 - hh;
      for (int64_t j = 0; j < p.w; ++j) {
        const double px = static_cast<double>(j) + 0.5 - hw;
        const T ix = static_cast<T>(m00 * px + m01 * py + b0 + hw - 0.5);
        const T iy = static_cast<T>(m10 * px + m11 * py + b1 + hh - 0.5);
        for (int64_t n = 0; n < p.n; ++n)
          o[(n * p.h + i) * p.w + j] = sample_zero<T>(in + n * p.h * p.w, p.h, p.w, ix, iy);
      }
    }
  });
  return finish(p, out);
}

Tensor rotate(const Tensor& x, double degrees) { return affine(x, degrees, 0.0, 0.0, 1.0); }

Tensor random_crop(const Tensor& x, int64_t ch, int64_t cw, int64_t padding, Generator* gen) {
  GALEN_CHECK(x.defined() && x.dim() >= 2, "random_crop: expected an image (..., H, W)");
  GALEN_CHECK(padding >= 0, "random_crop: padding must be >= 0, got ", padding);
  const int64_t h = x.size(-2) + 2 * padding, w = x.size(-1) + 2 * padding;
  GALEN_CHECK(ch <= h && cw <= w, "random_crop: crop ", ch, "x", cw, " is larger than the (padded) image ", h, "x", w);
  const auto pick = [&](int64_t range) {
    const int64_t v = static_cast<int64_t>(draw_uniform(gen) * static_cast<double>(range + 1));
    return std::min(v, range);
  };
  const int64_t top = pick(h - ch), left = pick(w - cw);
  return crop(x, top - padding, left - padding, ch, cw);
}

Tensor random_horizontal_flip(const Tensor& x, double prob, Generator* gen) {
  GALEN_CHECK(prob >= 0 && prob <= 1, "random_horizontal_flip: p must be in [0, 1], got ", prob);
  return draw_uniform(gen) < prob ? hflip(x) : x.detach().clone();
}

Tensor random_rotation(const Tensor& x, double degrees, Generator* gen) {
  GALEN_CHECK(degrees >= 0, "random_rotation: degrees must be >= 0, got ", degrees);
  const double a = -degrees + 2.0 * degrees * draw_uniform(gen);
  return rotate(x, a);
}

Tensor random_affine(const Tensor& x, double degrees, std::pair<double, double> translate,
                     std::pair<double, double> scale, Generator* gen) {
  GALEN_CHECK(x.defined() && x.dim() >= 2, "random_affine: expected an image (..., H, W)");
  GALEN_CHECK(degrees >= 0, "random_affine: degrees must be >= 0, got ", degrees);
  GALEN_CHECK(translate.first >= 0 && translate.first <= 1 && translate.second >= 0 && translate.second <= 1,
              "random_affine: translate fractions must be in [0, 1]");
  GALEN_CHECK(scale.first > 0 && scale.second >= scale.first, "random_affine: bad scale range [", scale.first, ", ",
              scale.second, "]");
  const double h = static_cast<double>(x.size(-2)), w = static_cast<double>(x.size(-1));
  const double angle = -degrees + 2.0 * degrees * draw_uniform(gen);
  const double mx = translate.first * w, my = translate.second * h;
  const double tx = std::nearbyint(-mx + 2.0 * mx * draw_uniform(gen));
  const double ty = std::nearbyint(-my + 2.0 * my * draw_uniform(gen));
  const double sc = scale.first + (scale.second - scale.first) * draw_uniform(gen);
  return affine(x, angle, tx, ty, sc);
}

}  // namespace galen::data
