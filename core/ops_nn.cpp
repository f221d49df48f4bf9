// Convolution, pooling and batch norm: conv2d (im2col + GEMM per image and
// group, a 1x1 path that feeds x to the GEMM directly, or the backend's library
// path), max / avg / adaptive-avg pooling, batch_norm (fused statistics,
// normalisation and backward kernels). Shapes follow PyTorch.
#include <cmath>
#include <cstring>
#include <string>

#include "galen/core/autograd.h"
#include "galen/core/internal.h"
#include "galen/core/ops.h"

namespace galen {

using autograd::record;
using detail::backend_of;
using detail::make_empty;

Conv2dPadding::Conv2dPadding(const char* mode) {
  GALEN_CHECK(mode != nullptr, "conv2d: padding mode must be \"same\" or \"valid\", got a null string");
  const std::string m(mode);
  GALEN_CHECK(m == "same" || m == "valid", "conv2d: padding mode must be \"same\" or \"valid\", got \"", m, "\"");
  same = m == "same";
}

namespace {

using Saved = std::vector<Tensor>;
using Grads = std::vector<Tensor>;

// Byte offset helper for raw pointers into contiguous buffers.
inline void* at(const Tensor& t, int64_t elems) {
  return static_cast<char*>(t.data_ptr()) + elems * static_cast<int64_t>(t.element_size());
}
inline const void* at_or_null(const Tensor& t) { return t.defined() ? t.data_ptr() : nullptr; }

int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// (C, H, W) -> (1, C, H, W); (N, C, H, W) unchanged; anything else an Error.
Tensor as_batch(const char* op, const Tensor& x, bool& unbatched) {
  detail::check_defined(op, x);
  GALEN_CHECK(x.dim() == 3 || x.dim() == 4, op, ": expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got shape ",
              x.sizes());
  GALEN_CHECK(is_floating(x.dtype()), op, ": expected a floating point input, got ", dtype_name(x.dtype()));
  unbatched = x.dim() == 3;
  return unbatched ? x.unsqueeze(0) : x;
}

// ---- conv2d --------------------------------------------------------------------------

bool is_pointwise(const kernels::Conv2dGeometry& g) {
  return g.KH == 1 && g.KW == 1 && g.SH == 1 && g.SW == 1 && g.PH == 0 && g.PW == 0 && g.OH == g.H &&
         g.OW == g.W;
}

// x (N, Cin, H, W), w (OC, Cin/groups, KH, KW) contiguous, b (OC) or undefined;
// g describes one group's slice (g.C = Cin/groups).
Tensor conv2d_forward_raw(const Tensor& x, const Tensor& w, const Tensor& b, const kernels::Conv2dGeometry& g,
                          int64_t groups) {
  const int64_t N = x.size(0), Cin = x.size(1), OC = w.size(0);
  const int64_t Cg = g.C, OCg = OC / groups, K = Cg * g.KH * g.KW, L = g.OH * g.OW, HW = g.H * g.W;
  const DType dt = x.dtype();
  auto& be = backend_of(x);
  Tensor y = make_empty({N, OC, g.OH, g.OW}, dt, x.device());
  if (y.numel() == 0) return y;
  if (be.conv2d_forward(dt, x.data_ptr(), w.data_ptr(), at_or_null(b), N, g, OC, groups, y.data_ptr())) return y;
  if (is_pointwise(g)) {
    // y[n, group] (OCg, HW) = w_g (OCg, Cg) . x[n, group] (Cg, HW), batched over n.
    for (int64_t gi = 0; gi < groups; ++gi)
      be.gemm(dt, false, false, OCg, L, Cg, 1.0, at(w, gi * OCg * K), K, 0, at(x, gi * Cg * HW), HW, Cin * HW, 0.0,
              at(y, gi * OCg * L), L, OC * L, N);
  } else {
    Tensor cols = make_empty({K, L}, dt, x.device());
    for (int64_t n = 0; n < N; ++n)
      for (int64_t gi = 0; gi < groups; ++gi) {
        be.im2col(dt, at(x, (n * Cin + gi * Cg) * HW), g, cols.data_ptr());
        be.gemm(dt, false, false, OCg, L, K, 1.0, at(w, gi * OCg * K), K, 0, cols.data_ptr(), L, 0, 0.0,
                at(y, (n * OC + gi * OCg) * L), L, 0, 1);
      }
  }
  if (b.defined()) {
    NoGradGuard ng;
    y = add(y, b.view({1, OC, 1, 1}));
  }
  return y;
}

struct ConvGrads {
  Tensor gx, gw, gb;
};

ConvGrads conv2d_backward_raw(const Tensor& gy_in, const Tensor& x, const Tensor& w, const kernels::Conv2dGeometry& g,
                              int64_t groups, bool need_x, bool need_w, bool need_b) {
  const int64_t N = x.size(0), Cin = x.size(1), OC = w.size(0);
  const int64_t Cg = g.C, OCg = OC / groups, K = Cg * g.KH * g.KW, L = g.OH * g.OW, HW = g.H * g.W;
  const DType dt = x.dtype();
  auto& be = backend_of(x);
  Tensor gy = gy_in.contiguous();
  ConvGrads r;
  if (need_x) r.gx = make_empty(x.sizes(), dt, x.device());
  if (need_w) r.gw = make_empty(w.sizes(), dt, x.device());
  if (need_b) r.gb = make_empty({OC}, dt, x.device());
  if (N == 0 || L == 0) {
    for (Tensor* t : {&r.gx, &r.gw, &r.gb})
      if (t->defined()) t->fill_(0.0);
    return r;
  }
  if (be.conv2d_backward(dt, x.data_ptr(), w.data_ptr(), gy.data_ptr(), N, g, OC, groups,
                         need_x ? r.gx.data_ptr() : nullptr, need_w ? r.gw.data_ptr() : nullptr,
                         need_b ? r.gb.data_ptr() : nullptr))
    return r;
  if (need_b) r.gb = sum(gy, {0, 2, 3});
  if (is_pointwise(g)) {
    for (int64_t gi = 0; gi < groups; ++gi) {
      // gx[n, group] (Cg, HW) = w_gᵀ (Cg, OCg) . gy[n, group] (OCg, HW), batched over n.
      if (need_x)
        be.gemm(dt, true, false, Cg, L, OCg, 1.0, at(w, gi * OCg * K), K, 0, at(gy, gi * OCg * L), L, OC * L, 0.0,
                at(r.gx, gi * Cg * HW), HW, Cin * HW, N);
      // gw_g (OCg, Cg) = sum_n gy[n, group] . x[n, group]ᵀ
      if (need_w)
        for (int64_t n = 0; n < N; ++n)
          be.gemm(dt, false, true, OCg, Cg, L, 1.0, at(gy, (n * OC + gi * OCg) * L), L, 0,
                  at(x, (n * Cin + gi * Cg) * HW), HW, 0, n == 0 ? 0.0 : 1.0, at(r.gw, gi * OCg * K), K, 0, 1);
    }
    return r;
  }
  Tensor cols = make_empty({K, L}, dt, x.device());
  for (int64_t n = 0; n < N; ++n)
    for (int64_t gi = 0; gi < groups; ++gi) {
      const void* gys = at(gy, (n * OC + gi * OCg) * L);
      if (need_w) {
        // gw_g (OCg, K) += gy[n, group] (OCg, L) . cols (K, L)ᵀ
        be.im2col(dt, at(x, (n * Cin + gi * Cg) * HW), g, cols.data_ptr());
        be.gemm(dt, false, true, OCg, K, L, 1.0, gys, L, 0, cols.data_ptr(), L, 0, n == 0 ? 0.0 : 1.0,
                at(r.gw, gi * OCg * K), K, 0, 1);
      }
      if (need_x) {
        // dcols (K, L) = w_gᵀ (K, OCg) . gy[n, group] (OCg, L), then scattered back.
        be.gemm(dt, true, false, K, L, OCg, 1.0, at(w, gi * OCg * K), K, 0, gys, L, 0, 0.0, cols.data_ptr(), L, 0,
                1);
        be.col2im(dt, cols.data_ptr(), g, at(r.gx, (n * Cin + gi * Cg) * HW));
      }
    }
  return r;
}

}  // namespace

Tensor conv2d(const Tensor& x_in, const Tensor& w, const Tensor& b, Int2 stride, Conv2dPadding padding,
              Int2 dilation, int64_t groups) {
  const char* op = "conv2d";
  bool unbatched = false;
  Tensor x = as_batch(op, x_in, unbatched);
  detail::check_defined(op, w, "weight");
  detail::check_same_device(op, {&x_in, &w, &b});
  GALEN_CHECK(w.dim() == 4, "conv2d: weight must be 4-D (out_channels, in_channels/groups, kH, kW), got shape ",
              w.sizes());
  GALEN_CHECK(w.dtype() == x.dtype(), "conv2d: weight dtype ", dtype_name(w.dtype()), " differs from input dtype ",
              dtype_name(x.dtype()));
  GALEN_CHECK(groups > 0, "conv2d: groups must be positive, got ", groups);
  GALEN_CHECK(stride.h > 0 && stride.w > 0, "conv2d: stride must be positive, got (", stride.h, ", ", stride.w, ")");
  GALEN_CHECK(dilation.h > 0 && dilation.w > 0, "conv2d: dilation must be positive, got (", dilation.h, ", ",
              dilation.w, ")");
  GALEN_CHECK(padding.same || (padding.h >= 0 && padding.w >= 0), "conv2d: padding must be non-negative, got (",
              padding.h, ", ", padding.w, ")");
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t OC = w.size(0), KH = w.size(2), KW = w.size(3);
  GALEN_CHECK(C % groups == 0, "conv2d: input channels (", C, ") must be divisible by groups (", groups,
              "); input shape ", x_in.sizes());
  GALEN_CHECK(OC % groups == 0, "conv2d: output channels (", OC, ") must be divisible by groups (", groups,
              "); weight shape ", w.sizes());
  GALEN_CHECK(w.size(1) * groups == C, "conv2d: weight ", w.sizes(), " expects ", w.size(1) * groups,
              " input channels (", w.size(1), " per group x ", groups, " groups), but the input ", x_in.sizes(),
              " has ", C);
  GALEN_CHECK(KH > 0 && KW > 0, "conv2d: empty kernel in weight shape ", w.sizes());
  if (b.defined()) {
    GALEN_CHECK(b.dim() == 1 && b.size(0) == OC, "conv2d: bias must have shape (", OC, "), got ", b.sizes());
    GALEN_CHECK(b.dtype() == x.dtype(), "conv2d: bias dtype ", dtype_name(b.dtype()), " differs from input dtype ",
                dtype_name(x.dtype()));
  }
  kernels::Conv2dGeometry g;
  g.C = C / groups;
  g.H = H;
  g.W = W;
  g.KH = KH;
  g.KW = KW;
  g.SH = stride.h;
  g.SW = stride.w;
  g.DH = dilation.h;
  g.DW = dilation.w;
  const int64_t ekh = dilation.h * (KH - 1) + 1, ekw = dilation.w * (KW - 1) + 1;  // effective kernel
  if (padding.same) {
    GALEN_CHECK(stride.h == 1 && stride.w == 1, "conv2d: padding=\"same\" needs stride 1, got (", stride.h, ", ",
                stride.w, ")");
    // Total padding ekh-1 splits as floor/ceil: the extra row/column is read past
    // the bottom/right edge, where im2col sees zeros.
    g.PH = (ekh - 1) / 2;
    g.PW = (ekw - 1) / 2;
    g.OH = H;
    g.OW = W;
  } else {
    g.PH = padding.h;
    g.PW = padding.w;
    GALEN_CHECK(ekh <= H + 2 * g.PH && ekw <= W + 2 * g.PW, "conv2d: kernel (", KH, ", ", KW, ") with dilation (",
                dilation.h, ", ", dilation.w, ") spans (", ekh, ", ", ekw, "), larger than the padded input (",
                H + 2 * g.PH, ", ", W + 2 * g.PW, ")");
    g.OH = (H + 2 * g.PH - ekh) / g.SH + 1;
    g.OW = (W + 2 * g.PW - ekw) / g.SW + 1;
  }
  (void)N;
  Tensor xc = x.detach().contiguous(), wc = w.detach().contiguous();
  Tensor bc = b.defined() ? b.detach().contiguous() : Tensor();
  Tensor y = conv2d_forward_raw(xc, wc, bc, g, groups);
  const bool need_x = x.requires_grad(), need_w = w.requires_grad(), need_b = b.defined() && b.requires_grad();
  y = record("conv2d", y, {x, w, b}, {xc, wc}, [g, groups, need_x, need_w, need_b](const Tensor& gy, const Saved& s) {
    ConvGrads r = conv2d_backward_raw(gy, s[0], s[1], g, groups, need_x, need_w, need_b);
    return Grads{r.gx, r.gw, r.gb};
  });
  return unbatched ? y.squeeze(0) : y;
}

// ---- pooling ------------------------------------------------------------------------------

namespace {

// PyTorch's pooling output size, including ceil_mode's rule that the last
// window must start inside the input or the left padding.
int64_t pool_out_size(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode) {
  int64_t out = floor_div(in + 2 * p - d * (k - 1) - 1 + (ceil_mode ? s - 1 : 0), s) + 1;
  if (ceil_mode && (out - 1) * s >= in + p) --out;
  return out;
}

kernels::Conv2dGeometry pool_geometry(const char* op, const Tensor& x, Int2 kernel, Int2 stride, Int2 padding,
                                      Int2 dilation, bool ceil_mode) {
  if (stride.h == 0 && stride.w == 0) stride = kernel;
  GALEN_CHECK(kernel.h > 0 && kernel.w > 0, op, ": kernel size must be positive, got (", kernel.h, ", ", kernel.w,
              ")");
  GALEN_CHECK(stride.h > 0 && stride.w > 0, op, ": stride must be positive, got (", stride.h, ", ", stride.w, ")");
  GALEN_CHECK(dilation.h > 0 && dilation.w > 0, op, ": dilation must be positive, got (", dilation.h, ", ",
              dilation.w, ")");
  GALEN_CHECK(padding.h >= 0 && padding.w >= 0, op, ": padding must be non-negative, got (", padding.h, ", ",
              padding.w, ")");
  GALEN_CHECK(padding.h <= kernel.h / 2 && padding.w <= kernel.w / 2, op, ": padding (", padding.h, ", ", padding.w,
              ") must be at most half the kernel size (", kernel.h, ", ", kernel.w, ")");
  kernels::Conv2dGeometry g;
  g.C = x.size(1);
  g.H = x.size(2);
  g.W = x.size(3);
  g.KH = kernel.h;
  g.KW = kernel.w;
  g.SH = stride.h;
  g.SW = stride.w;
  g.PH = padding.h;
  g.PW = padding.w;
  g.DH = dilation.h;
  g.DW = dilation.w;
  g.OH = pool_out_size(g.H, g.KH, g.SH, g.PH, g.DH, ceil_mode);
  g.OW = pool_out_size(g.W, g.KW, g.SW, g.PW, g.DW, ceil_mode);
  GALEN_CHECK(g.OH >= 1 && g.OW >= 1, op, ": input ", x.sizes(), " is too small for kernel (", kernel.h, ", ",
              kernel.w, "), stride (", stride.h, ", ", stride.w, "), padding (", padding.h, ", ", padding.w,
              "), dilation (", dilation.h, ", ", dilation.w, "): output size would be (", g.OH, ", ", g.OW, ")");
  return g;
}

}  // namespace

std::pair<Tensor, Tensor> max_pool2d_with_indices(const Tensor& x_in, Int2 kernel, Int2 stride, Int2 padding,
                                                  Int2 dilation, bool ceil_mode) {
  bool unbatched = false;
  Tensor x = as_batch("max_pool2d", x_in, unbatched);
  const kernels::Conv2dGeometry g = pool_geometry("max_pool2d", x, kernel, stride, padding, dilation, ceil_mode);
  const int64_t N = x.size(0), C = x.size(1), planes = N * C;
  Tensor xc = x.detach().contiguous();
  Tensor out = make_empty({N, C, g.OH, g.OW}, x.dtype(), x.device());
  Tensor idx = make_empty({N, C, g.OH, g.OW}, DType::i64, x.device());
  if (planes > 0 && g.H * g.W > 0)
    backend_of(x).max_pool2d(x.dtype(), xc.data_ptr(), planes, g, out.data_ptr(),
                             static_cast<int64_t*>(idx.data_ptr()));
  const Shape in_shape = x.sizes();
  out = record("max_pool2d", out, {x}, {idx}, [g, planes, in_shape](const Tensor& gy, const Saved& s) {
    Tensor gyc = gy.contiguous();
    Tensor gx = make_empty(in_shape, gy.dtype(), gy.device());
    if (gx.numel() > 0)
      backend_of(gy).max_pool2d_backward(gy.dtype(), gyc.data_ptr(), static_cast<const int64_t*>(s[0].data_ptr()),
                                         planes, g, gx.data_ptr());
    return Grads{gx};
  });
  if (unbatched) return {out.squeeze(0), idx.squeeze(0)};
  return {out, idx};
}

Tensor max_pool2d(const Tensor& x, Int2 kernel, Int2 stride, Int2 padding, Int2 dilation, bool ceil_mode) {
  return max_pool2d_with_indices(x, kernel, stride, padding, dilation, ceil_mode).first;
}

Tensor avg_pool2d(const Tensor& x_in, Int2 kernel, Int2 stride, Int2 padding, bool ceil_mode,
                  bool count_include_pad) {
  bool unbatched = false;
  Tensor x = as_batch("avg_pool2d", x_in, unbatched);
  const kernels::Conv2dGeometry g = pool_geometry("avg_pool2d", x, kernel, stride, padding, 1, ceil_mode);
  const int64_t N = x.size(0), C = x.size(1), planes = N * C;
  Tensor xc = x.detach().contiguous();
  Tensor out = make_empty({N, C, g.OH, g.OW}, x.dtype(), x.device());
  if (out.numel() > 0)
    backend_of(x).avg_pool2d(x.dtype(), xc.data_ptr(), planes, g, count_include_pad, out.data_ptr());
  const Shape in_shape = x.sizes();
  out = record("avg_pool2d", out, {x}, {}, [g, planes, in_shape, count_include_pad](const Tensor& gy, const Saved&) {
    Tensor gyc = gy.contiguous();
    Tensor gx = make_empty(in_shape, gy.dtype(), gy.device());
    if (gx.numel() > 0)
      backend_of(gy).avg_pool2d_backward(gy.dtype(), gyc.data_ptr(), planes, g, count_include_pad, gx.data_ptr());
    return Grads{gx};
  });
  return unbatched ? out.squeeze(0) : out;
}

namespace {
// (out, in) matrix averaging PyTorch's adaptive bins [floor(i*in/out), ceil((i+1)*in/out)).
Tensor adaptive_matrix(int64_t out, int64_t in, DType dt, Device dev) {
  std::vector<double> m(static_cast<size_t>(out * in), 0.0);
  for (int64_t i = 0; i < out; ++i) {
    const int64_t s = (i * in) / out, e = ((i + 1) * in + out - 1) / out;
    for (int64_t j = s; j < e; ++j) m[i * in + j] = 1.0 / static_cast<double>(e - s);
  }
  return from_vector<double>(m, {out, in}).to(dt).to(dev);
}
}  // namespace

Tensor adaptive_avg_pool2d(const Tensor& x_in, Int2 output_size) {
  bool unbatched = false;
  Tensor x = as_batch("adaptive_avg_pool2d", x_in, unbatched);
  const int64_t H = x.size(2), W = x.size(3), oh = output_size.h, ow = output_size.w;
  GALEN_CHECK(oh > 0 && ow > 0, "adaptive_avg_pool2d: output size must be positive, got (", oh, ", ", ow, ")");
  GALEN_CHECK(H > 0 && W > 0, "adaptive_avg_pool2d: input ", x_in.sizes(), " has an empty spatial dim");
  Tensor y;
  if (oh == 1 && ow == 1) {
    y = mean(x, {2, 3}, true);  // global average pooling
  } else if (H % oh == 0 && W % ow == 0) {
    y = avg_pool2d(x, Int2(H / oh, W / ow));
  } else {
    // The bins are rectangles, so the average separates: y = Ph . x . Pwᵀ.
    Tensor pw = adaptive_matrix(ow, W, x.dtype(), x.device());
    Tensor ph = adaptive_matrix(oh, H, x.dtype(), x.device());
    Tensor t = matmul(x, pw.t());                        // (N, C, H, ow)
    t = matmul(t.transpose(2, 3), ph.t());               // (N, C, ow, oh)
    y = t.transpose(2, 3).contiguous();                  // (N, C, oh, ow)
  }
  return unbatched ? y.squeeze(0) : y;
}

// ---- batch norm ----------------------------------------------------------------------------

Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum, double eps) {
  const char* op = "batch_norm";
  detail::check_defined(op, x);
  detail::check_same_device(op, {&x, &running_mean, &running_var, &weight, &bias});
  GALEN_CHECK(x.dim() >= 2, "batch_norm: expected an input of shape (N, C), (N, C, L) or (N, C, H, W), got ",
              x.sizes());
  GALEN_CHECK(is_floating(x.dtype()), "batch_norm: expected a floating point input, got ", dtype_name(x.dtype()));
  GALEN_CHECK(eps >= 0, "batch_norm: eps must be non-negative, got ", eps);
  const int64_t N = x.size(0), C = x.size(1), S = N * C == 0 ? 0 : x.numel() / (N * C);
  auto check_vec = [&](const Tensor& t, const char* what, bool same_dtype) {
    if (!t.defined()) return;
    GALEN_CHECK(t.dim() == 1 && t.size(0) == C, "batch_norm: ", what, " must have shape (", C, ") for input ",
                x.sizes(), ", got ", t.sizes());
    if (same_dtype)
      GALEN_CHECK(t.dtype() == x.dtype(), "batch_norm: ", what, " dtype ", dtype_name(t.dtype()),
                  " differs from input dtype ", dtype_name(x.dtype()));
    else
      GALEN_CHECK(is_floating(t.dtype()), "batch_norm: ", what, " must be floating point, got ",
                  dtype_name(t.dtype()));
  };
  check_vec(weight, "weight", true);
  check_vec(bias, "bias", true);
  check_vec(running_mean, "running_mean", false);
  check_vec(running_var, "running_var", false);
  GALEN_CHECK(running_mean.defined() == running_var.defined(),
              "batch_norm: running_mean and running_var must be given together");
  const DType dt = x.dtype();
  auto& be = backend_of(x);
  Tensor xc = x.detach().contiguous();
  Tensor wc = weight.defined() ? weight.detach().contiguous() : Tensor();
  Tensor bc = bias.defined() ? bias.detach().contiguous() : Tensor();
  Tensor y = make_empty(x.sizes(), dt, x.device());

  if (!training) {
    GALEN_CHECK(running_mean.defined(), "batch_norm: evaluation mode needs running_mean and running_var");
    Tensor mu, invstd;
    {
      NoGradGuard ng;
      mu = running_mean.detach().to(dt).contiguous();
      invstd = rsqrt(add(running_var.detach().to(dt), eps)).contiguous();
    }
    if (y.numel() > 0)
      be.channel_affine(dt, xc.data_ptr(), N, C, S, mu.data_ptr(), invstd.data_ptr(), at_or_null(wc),
                        at_or_null(bc), y.data_ptr());
    // y = xhat * w + b with fixed statistics: an affine map of x.
    Shape bshape(x.dim(), 1);
    bshape[1] = C;
    std::vector<int64_t> rdims;
    for (int64_t d = 0; d < x.dim(); ++d)
      if (d != 1) rdims.push_back(d);
    return record("batch_norm", y, {x, weight, bias}, {xc, mu, invstd, wc},
                  [bshape, rdims](const Tensor& gy, const Saved& s) {
                    Tensor scale = s[3].defined() ? mul(s[2], s[3]) : s[2];
                    Tensor gx = mul(gy, scale.view(bshape));
                    Tensor gw, gb = sum(gy, rdims);
                    if (s[3].defined()) {
                      Tensor xhat = mul(sub(s[0], s[1].view(bshape)), s[2].view(bshape));
                      gw = sum(mul(gy, xhat), rdims);
                    }
                    return Grads{gx, gw, gb};
                  });
  }

  GALEN_CHECK(N * S > 1, "batch_norm: expected more than 1 value per channel when training, got input shape ",
              x.sizes());
  Tensor mu = make_empty({C}, dt, x.device()), var = make_empty({C}, dt, x.device());
  be.channel_stats(dt, xc.data_ptr(), N, C, S, mu.data_ptr(), var.data_ptr());
  Tensor invstd;
  {
    NoGradGuard ng;
    invstd = rsqrt(add(var, eps)).contiguous();
    if (running_mean.defined()) {
      // In place on the caller's buffers (they are state, not graph inputs).
      const double M = static_cast<double>(N * S);
      Tensor rm = running_mean, rv = running_var;
      rm.mul_(1.0 - momentum).add_(mu.to(rm.dtype()), momentum);
      rv.mul_(1.0 - momentum).add_(mul(var, M / (M - 1.0)).to(rv.dtype()), momentum);
    }
  }
  be.channel_affine(dt, xc.data_ptr(), N, C, S, mu.data_ptr(), invstd.data_ptr(), at_or_null(wc), at_or_null(bc),
                    y.data_ptr());
  const bool need_x = x.requires_grad(), need_w = weight.defined() && weight.requires_grad(),
             need_b = bias.defined() && bias.requires_grad();
  return record("batch_norm", y, {x, weight, bias}, {xc, mu, invstd, wc},
                [N, C, S, need_x, need_w, need_b](const Tensor& gy, const Saved& s) {
                  Tensor gyc = gy.contiguous();
                  const DType d = gy.dtype();
                  Tensor gx = need_x ? make_empty(s[0].sizes(), d, gy.device()) : Tensor();
                  Tensor gw = need_w ? make_empty({C}, d, gy.device()) : Tensor();
                  Tensor gb = need_b ? make_empty({C}, d, gy.device()) : Tensor();
                  backend_of(gy).batch_norm_backward(d, s[0].data_ptr(), gyc.data_ptr(), N, C, S, s[1].data_ptr(),
                                                     s[2].data_ptr(), at_or_null(s[3]),
                                                     need_x ? gx.data_ptr() : nullptr,
                                                     need_w ? gw.data_ptr() : nullptr,
                                                     need_b ? gb.data_ptr() : nullptr);
                  return Grads{gx, gw, gb};
                });
}

}  // namespace galen
