// The CUDA convolution / pooling / batch-norm primitives and both "conv2d"
// variants (im2col + gemm, cuDNN) against the reference backend, on awkward
// geometries: 1x1, 3x3 pad 1, stride 2, dilation 2, groups, odd sizes and
// ceil-mode-like edge windows. Plain C++: device memory through the Backend.
#ifdef GALEN_WITH_CUDA

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "galen/kernels/backend.h"
#include "galen/kernels/cuda/cuda_backend.h"
#include "test_util.h"

namespace {

using galen::DType;
using galen::DeviceType;
using galen::kernels::Backend;
using galen::kernels::Conv2dGeometry;

Backend& gpu() { return galen::kernels::backend(DeviceType::CUDA); }
Backend& ref() { return galen::kernels::ref_backend(); }

template <typename T>
constexpr DType dtype_of() {
  return std::is_same_v<T, float> ? DType::f32 : DType::f64;
}

uint64_t mix(uint64_t x) {  // splitmix64 step
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// n values uniform in [lo, hi); quantum > 0 rounds them to its multiples (ties).
template <typename T>
std::vector<T> random_vec(int64_t n, uint64_t seed, double lo, double hi, double quantum = 0) {
  std::vector<T> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const double u = static_cast<double>(mix(seed * 1000003ull + static_cast<uint64_t>(i)) >> 11) *
                     (1.0 / 9007199254740992.0);
    double x = lo + (hi - lo) * u;
    if (quantum > 0) x = std::round(x / quantum) * quantum;
    v[static_cast<size_t>(i)] = static_cast<T>(x);
  }
  return v;
}

// ---- device buffers --------------------------------------------------------------------
struct Dev {
  void* p = nullptr;
  size_t bytes = 0;
  explicit Dev(size_t nbytes) : bytes(nbytes) { p = gpu().allocate(nbytes, 0); }
  ~Dev() { gpu().deallocate(p, bytes, 0); }
  Dev(const Dev&) = delete;
  Dev& operator=(const Dev&) = delete;
  template <typename T>
  T* at(int64_t elem) const {
    return static_cast<T*>(p) + elem;
  }
};

template <typename T>
std::unique_ptr<Dev> upload(const std::vector<T>& h) {
  auto d = std::make_unique<Dev>(h.size() * sizeof(T));
  gpu().copy_from_host(d->p, h.data(), h.size() * sizeof(T), 0);
  return d;
}

template <typename T>
std::unique_ptr<Dev> dev_alloc(int64_t n) {
  return std::make_unique<Dev>(static_cast<size_t>(n) * sizeof(T));
}

template <typename T>
std::vector<T> download(const Dev& d, int64_t n) {
  std::vector<T> h(static_cast<size_t>(n));
  gpu().copy_to_host(h.data(), d.p, h.size() * sizeof(T), 0);
  return h;
}

// |got - want| <= atol + rtol * |want|; NaN faces NaN, infinities match exactly.
template <typename T, typename U>
void expect_close(const std::vector<T>& got, const std::vector<U>& want, double atol, double rtol,
                  const std::string& what) {
  REQUIRE(got.size() == want.size());
  int64_t bad = 0, first = -1;
  for (size_t i = 0; i < got.size(); ++i) {
    const double a = static_cast<double>(got[i]), b = static_cast<double>(want[i]);
    bool ok;
    if (std::isnan(b)) ok = std::isnan(a);
    else if (std::isinf(b)) ok = a == b;
    else ok = std::fabs(a - b) <= atol + rtol * std::fabs(b);
    if (!ok) {
      if (first < 0) first = static_cast<int64_t>(i);
      ++bad;
    }
  }
  INFO(what << ": " << bad << " of " << got.size() << " differ"
            << (first >= 0 ? "; first at " + std::to_string(first) + ": got " +
                                 std::to_string(static_cast<double>(got[static_cast<size_t>(first)])) +
                                 ", expected " +
                                 std::to_string(static_cast<double>(want[static_cast<size_t>(first)]))
                           : std::string()));
  CHECK(bad == 0);
}

template <typename T>
double tol(double f32, double f64) {
  return std::is_same_v<T, float> ? f32 : f64;
}

// ---- geometries --------------------------------------------------------------------------
struct GeoCase {
  int64_t C, H, W, KH, KW, SH, SW, PH, PW, DH, DW;
  bool ceil;
};

// Output size: PyTorch's floor formula, or ceil mode (the last window must start
// inside the input or the left padding).
int64_t out_size(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil) {
  const int64_t span = in + 2 * p - d * (k - 1) - 1;
  int64_t o = (ceil ? (span + s - 1) / s : span / s) + 1;
  if (ceil && (o - 1) * s >= in + p) --o;
  return o;
}

Conv2dGeometry make_geo(const GeoCase& c) {
  Conv2dGeometry g;
  g.C = c.C;
  g.H = c.H;
  g.W = c.W;
  g.KH = c.KH;
  g.KW = c.KW;
  g.SH = c.SH;
  g.SW = c.SW;
  g.PH = c.PH;
  g.PW = c.PW;
  g.DH = c.DH;
  g.DW = c.DW;
  g.OH = out_size(c.H, c.KH, c.SH, c.PH, c.DH, c.ceil);
  g.OW = out_size(c.W, c.KW, c.SW, c.PW, c.DW, c.ceil);
  return g;
}

std::string describe(const Conv2dGeometry& g) {
  std::ostringstream os;
  os << "C " << g.C << " in " << g.H << "x" << g.W << " k " << g.KH << "x" << g.KW << " s "
     << g.SH << "x" << g.SW << " p " << g.PH << "x" << g.PW << " d " << g.DH << "x" << g.DW
     << " out " << g.OH << "x" << g.OW;
  return os.str();
}

// Window sweeps shared by im2col and pooling (padding at most half the window,
// as pooling requires).
const GeoCase kGeos[] = {
    {3, 5, 7, 1, 1, 1, 1, 0, 0, 1, 1, false},    // 1x1
    {2, 7, 6, 3, 3, 1, 1, 1, 1, 1, 1, false},    // 3x3 pad 1
    {3, 9, 11, 3, 3, 2, 2, 1, 1, 1, 1, false},   // stride 2, odd sizes
    {2, 10, 9, 3, 3, 1, 1, 1, 1, 2, 2, false},   // dilation 2
    {1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, false},    // a single element
    {4, 13, 8, 5, 2, 3, 2, 2, 1, 1, 2, false},   // everything different per axis
    {2, 8, 7, 3, 3, 2, 2, 1, 0, 1, 1, true},     // ceil mode: clipped edge windows
    {2, 6, 5, 2, 2, 2, 2, 0, 0, 1, 1, true},     // ceil mode, no padding
    {3, 12, 12, 7, 7, 2, 2, 3, 3, 1, 1, false},  // a ResNet stem
    {2, 11, 9, 3, 3, 2, 2, 1, 1, 1, 1, true},    // ResNet's max pool, ceil mode
    {1, 4, 3, 4, 3, 1, 1, 0, 0, 1, 1, false},    // one window covering everything
};

// Restores a backend variant on scope exit (REQUIRE may throw).
struct VariantGuard {
  std::string prim, saved;
  explicit VariantGuard(std::string p) : prim(std::move(p)), saved(gpu().variant(prim)) {}
  ~VariantGuard() {
    try {
      gpu().set_variant(prim, saved);
    } catch (...) {
    }
  }
};

// ---- im2col / col2im ----------------------------------------------------------------------
template <typename T>
void check_im2col_col2im() {
  constexpr DType dt = dtype_of<T>();
  uint64_t seed = 11;
  for (const GeoCase& gc : kGeos) {
    const Conv2dGeometry g = make_geo(gc);
    INFO(galen::dtype_name(dt) << " " << describe(g));
    const int64_t nx = g.C * g.H * g.W, nc = g.C * g.KH * g.KW * g.OH * g.OW;

    const auto x = random_vec<T>(nx, ++seed, -2, 2);
    std::vector<T> want(static_cast<size_t>(nc));
    ref().im2col(dt, x.data(), g, want.data());
    auto dx = upload(x);
    auto dcols = dev_alloc<T>(nc);
    gpu().im2col(dt, dx->p, g, dcols->p);
    expect_close(download<T>(*dcols, nc), want, 0, 0, "im2col");  // a pure copy: exact

    const auto cols = random_vec<T>(nc, ++seed, -2, 2);
    std::vector<T> want_x(static_cast<size_t>(nx));
    ref().col2im(dt, cols.data(), g, want_x.data());
    auto dc = upload(cols);
    auto dout = dev_alloc<T>(nx);
    gpu().col2im(dt, dc->p, g, dout->p);
    expect_close(download<T>(*dout, nx), want_x, tol<T>(1e-6, 1e-14), tol<T>(1e-6, 1e-14), "col2im");
  }
}

// ---- pooling --------------------------------------------------------------------------------
template <typename T>
void check_max_pool(bool with_nan) {
  constexpr DType dt = dtype_of<T>();
  uint64_t seed = 101;
  const int64_t planes = 3;
  for (const GeoCase& gc : kGeos) {
    const Conv2dGeometry g = make_geo(gc);
    INFO(galen::dtype_name(dt) << " " << describe(g) << (with_nan ? " with NaN" : ""));
    const int64_t nx = planes * g.H * g.W, no = planes * g.OH * g.OW;
    // Quantised values: many ties, so "the first maximum" is exercised.
    auto x = random_vec<T>(nx, ++seed, -2, 2, 0.5);
    if (with_nan)
      for (int64_t i = 0; i < nx; i += 7) x[static_cast<size_t>(i)] = std::numeric_limits<T>::quiet_NaN();

    std::vector<T> want(static_cast<size_t>(no));
    std::vector<int64_t> want_idx(static_cast<size_t>(no));
    ref().max_pool2d(dt, x.data(), planes, g, want.data(), want_idx.data());
    auto dx = upload(x);
    auto dout = dev_alloc<T>(no);
    auto didx = dev_alloc<int64_t>(no);
    gpu().max_pool2d(dt, dx->p, planes, g, dout->p, didx->at<int64_t>(0));
    expect_close(download<T>(*dout, no), want, 0, 0, "max_pool2d values");
    const auto got_idx = download<int64_t>(*didx, no);
    CHECK(got_idx == want_idx);

    // Indices may be omitted.
    auto dout2 = dev_alloc<T>(no);
    gpu().max_pool2d(dt, dx->p, planes, g, dout2->p, nullptr);
    expect_close(download<T>(*dout2, no), want, 0, 0, "max_pool2d values without indices");

    // Backward from the reference's indices (the same as ours when the above passed).
    const auto gout = random_vec<T>(no, ++seed, -1, 1);
    std::vector<T> want_gx(static_cast<size_t>(nx));
    ref().max_pool2d_backward(dt, gout.data(), want_idx.data(), planes, g, want_gx.data());
    auto dg = upload(gout);
    auto di = upload(want_idx);
    auto dgx = dev_alloc<T>(nx);
    gpu().max_pool2d_backward(dt, dg->p, di->at<int64_t>(0), planes, g, dgx->p);
    expect_close(download<T>(*dgx, nx), want_gx, tol<T>(1e-6, 1e-14), tol<T>(1e-6, 1e-14),
                 "max_pool2d_backward");
  }
}

template <typename T>
void check_avg_pool(bool count_include_pad) {
  constexpr DType dt = dtype_of<T>();
  uint64_t seed = 201;
  const int64_t planes = 4;
  for (const GeoCase& gc : kGeos) {
    if (gc.DH != 1 || gc.DW != 1) continue;  // average pooling has no dilation
    const Conv2dGeometry g = make_geo(gc);
    INFO(galen::dtype_name(dt) << " " << describe(g) << " count_include_pad " << count_include_pad);
    const int64_t nx = planes * g.H * g.W, no = planes * g.OH * g.OW;
    const auto x = random_vec<T>(nx, ++seed, -2, 2);
    std::vector<T> want(static_cast<size_t>(no));
    ref().avg_pool2d(dt, x.data(), planes, g, count_include_pad, want.data());
    auto dx = upload(x);
    auto dout = dev_alloc<T>(no);
    gpu().avg_pool2d(dt, dx->p, planes, g, count_include_pad, dout->p);
    expect_close(download<T>(*dout, no), want, tol<T>(1e-6, 1e-14), tol<T>(1e-6, 1e-14), "avg_pool2d");

    const auto gout = random_vec<T>(no, ++seed, -1, 1);
    std::vector<T> want_gx(static_cast<size_t>(nx));
    ref().avg_pool2d_backward(dt, gout.data(), planes, g, count_include_pad, want_gx.data());
    auto dg = upload(gout);
    auto dgx = dev_alloc<T>(nx);
    gpu().avg_pool2d_backward(dt, dg->p, planes, g, count_include_pad, dgx->p);
    expect_close(download<T>(*dgx, nx), want_gx, tol<T>(1e-6, 1e-14), tol<T>(1e-6, 1e-14),
                 "avg_pool2d_backward");
  }
}

// ---- batch norm -------------------------------------------------------------------------------
struct NCS {
  int64_t N, C, S;
};
// (1,1,1); small odd; BatchNorm1d-like S = 1; many channels; one long channel
// (several chunks per channel); a large batch of tiny planes.
const NCS kNcs[] = {{1, 1, 1}, {2, 3, 5}, {5, 64, 1}, {4, 7, 33}, {3, 2, 70001}, {257, 3, 9}, {2, 300, 49}};

template <typename T>
void check_batch_norm() {
  constexpr DType dt = dtype_of<T>();
  uint64_t seed = 301;
  for (const NCS& s : kNcs) {
    INFO(galen::dtype_name(dt) << " N " << s.N << " C " << s.C << " S " << s.S);
    const int64_t n = s.N * s.C * s.S;
    // An offset mean, so a one-pass E[x^2] - E[x]^2 would lose digits.
    const auto x = random_vec<T>(n, ++seed, 9, 13);
    auto dx = upload(x);

    // Statistics.
    std::vector<T> mean(static_cast<size_t>(s.C)), var(static_cast<size_t>(s.C));
    ref().channel_stats(dt, x.data(), s.N, s.C, s.S, mean.data(), var.data());
    auto dmean = dev_alloc<T>(s.C);
    auto dvar = dev_alloc<T>(s.C);
    gpu().channel_stats(dt, dx->p, s.N, s.C, s.S, dmean->p, dvar->p);
    expect_close(download<T>(*dmean, s.C), mean, tol<T>(1e-6, 1e-13), tol<T>(1e-6, 1e-13), "mean");
    expect_close(download<T>(*dvar, s.C), var, tol<T>(1e-6, 1e-12), tol<T>(1e-5, 1e-12), "var");

    std::vector<T> invstd(static_cast<size_t>(s.C));
    for (int64_t c = 0; c < s.C; ++c)
      invstd[static_cast<size_t>(c)] = static_cast<T>(1.0 / std::sqrt(static_cast<double>(var[static_cast<size_t>(c)]) + 1e-5));
    const auto w = random_vec<T>(s.C, ++seed, 0.5, 1.5);
    const auto b = random_vec<T>(s.C, ++seed, -1, 1);
    auto dm = upload(mean);
    auto dinv = upload(invstd);
    auto dw = upload(w);
    auto db = upload(b);

    // Affine, with and without weight / bias.
    for (int mode = 0; mode < 4; ++mode) {
      const bool use_w = mode & 1, use_b = mode & 2;
      INFO("affine weight " << use_w << " bias " << use_b);
      std::vector<T> want(static_cast<size_t>(n));
      ref().channel_affine(dt, x.data(), s.N, s.C, s.S, mean.data(), invstd.data(),
                           use_w ? w.data() : nullptr, use_b ? b.data() : nullptr, want.data());
      auto dy = dev_alloc<T>(n);
      gpu().channel_affine(dt, dx->p, s.N, s.C, s.S, dm->p, dinv->p, use_w ? dw->p : nullptr,
                           use_b ? db->p : nullptr, dy->p);
      expect_close(download<T>(*dy, n), want, tol<T>(1e-5, 1e-12), tol<T>(1e-5, 1e-12), "channel_affine");
    }

    // Backward, with and without weight, and every subset of outputs.
    const auto gy = random_vec<T>(n, ++seed, -1, 1);
    auto dgy = upload(gy);
    for (int mode = 0; mode < 16; ++mode) {
      const bool use_w = mode & 1, want_gx = mode & 2, want_gw = mode & 4, want_gb = mode & 8;
      if (!want_gx && !want_gw && !want_gb) continue;
      INFO("backward weight " << use_w << " gx " << want_gx << " gw " << want_gw << " gb " << want_gb);
      std::vector<T> rgx(static_cast<size_t>(n)), rgw(static_cast<size_t>(s.C)), rgb(static_cast<size_t>(s.C));
      ref().batch_norm_backward(dt, x.data(), gy.data(), s.N, s.C, s.S, mean.data(), invstd.data(),
                                use_w ? w.data() : nullptr, rgx.data(), rgw.data(), rgb.data());
      auto dgx = dev_alloc<T>(n);
      auto dgw = dev_alloc<T>(s.C);
      auto dgb = dev_alloc<T>(s.C);
      gpu().batch_norm_backward(dt, dx->p, dgy->p, s.N, s.C, s.S, dm->p, dinv->p,
                                use_w ? dw->p : nullptr, want_gx ? dgx->p : nullptr,
                                want_gw ? dgw->p : nullptr, want_gb ? dgb->p : nullptr);
      // gx subtracts per-channel means of gy: absolute tolerance scaled by them.
      if (want_gx) expect_close(download<T>(*dgx, n), rgx, tol<T>(2e-5, 1e-11), tol<T>(1e-4, 1e-10), "gx");
      if (want_gw) expect_close(download<T>(*dgw, s.C), rgw, tol<T>(1e-4, 1e-10), tol<T>(1e-5, 1e-11), "gw");
      if (want_gb) expect_close(download<T>(*dgb, s.C), rgb, tol<T>(1e-4, 1e-10), tol<T>(1e-5, 1e-11), "gb");
    }
  }
}

// ---- convolution ----------------------------------------------------------------------------
struct ConvCase {
  int64_t N, Cin, H, W, OC, KH, KW, SH, SW, PH, PW, DH, DW, groups;
  bool bias;
};

const ConvCase kConvs[] = {
    {2, 3, 7, 6, 4, 1, 1, 1, 1, 0, 0, 1, 1, 1, true},        // 1x1
    {2, 4, 9, 8, 6, 3, 3, 1, 1, 1, 1, 1, 1, 2, true},        // 3x3 pad 1, 2 groups
    {1, 3, 11, 10, 5, 3, 3, 2, 2, 1, 1, 1, 1, 1, false},     // stride 2, odd sizes
    {2, 2, 10, 9, 3, 3, 3, 1, 1, 2, 2, 2, 2, 1, true},       // dilation 2
    {3, 6, 5, 7, 6, 3, 3, 1, 1, 1, 1, 1, 1, 6, true},        // depthwise
    {1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, true},        // a single element
    {2, 3, 13, 12, 8, 7, 7, 2, 2, 3, 3, 1, 1, 1, false},     // a ResNet stem
    {2, 6, 8, 9, 9, 2, 3, 2, 1, 0, 2, 1, 2, 3, true},        // everything different per axis
    {4, 32, 20, 20, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, true},    // big enough for workspace algorithms
};

Conv2dGeometry conv_geo(const ConvCase& c) {
  return make_geo(GeoCase{c.Cin / c.groups, c.H, c.W, c.KH, c.KW, c.SH, c.SW, c.PH, c.PW, c.DH,
                          c.DW, false});
}

// The reference convolution in double through ref im2col / col2im, per image
// and group: y = w_g cols + b; gw_g = sum_n gy_g cols^T; gx = col2im(w_g^T gy_g).
struct ConvRef {
  std::vector<double> y, gx, gw, gb;
};

template <typename T>
ConvRef conv_reference(const ConvCase& c, const Conv2dGeometry& g, const std::vector<T>& x,
                       const std::vector<T>& w, const std::vector<T>& b, const std::vector<T>& gy) {
  const int64_t G = c.groups, Cg = g.C, OCg = c.OC / G, K = Cg * g.KH * g.KW, P = g.OH * g.OW;
  ConvRef r;
  r.y.assign(static_cast<size_t>(c.N * c.OC * P), 0.0);
  r.gx.assign(static_cast<size_t>(c.N * c.Cin * g.H * g.W), 0.0);
  r.gw.assign(static_cast<size_t>(c.OC * K), 0.0);
  r.gb.assign(static_cast<size_t>(c.OC), 0.0);
  std::vector<double> xs(static_cast<size_t>(Cg * g.H * g.W)), cols(static_cast<size_t>(K * P));
  std::vector<double> gcols(static_cast<size_t>(K * P)), gxs(static_cast<size_t>(Cg * g.H * g.W));
  for (int64_t n = 0; n < c.N; ++n)
    for (int64_t gr = 0; gr < G; ++gr) {
      const int64_t xoff = (n * c.Cin + gr * Cg) * g.H * g.W;
      for (size_t i = 0; i < xs.size(); ++i) xs[i] = static_cast<double>(x[static_cast<size_t>(xoff) + i]);
      ref().im2col(DType::f64, xs.data(), g, cols.data());
      for (int64_t o = 0; o < OCg; ++o) {
        const int64_t oc = gr * OCg + o;
        const T* wr = w.data() + oc * K;
        const size_t yoff = static_cast<size_t>((n * c.OC + oc) * P);
        for (int64_t p = 0; p < P; ++p) {
          double s = c.bias ? static_cast<double>(b[static_cast<size_t>(oc)]) : 0.0;
          for (int64_t k = 0; k < K; ++k) s += static_cast<double>(wr[k]) * cols[static_cast<size_t>(k * P + p)];
          r.y[yoff + static_cast<size_t>(p)] = s;
        }
        for (int64_t k = 0; k < K; ++k) {
          double s = 0;
          for (int64_t p = 0; p < P; ++p)
            s += static_cast<double>(gy[yoff + static_cast<size_t>(p)]) * cols[static_cast<size_t>(k * P + p)];
          r.gw[static_cast<size_t>(oc * K + k)] += s;
        }
        for (int64_t p = 0; p < P; ++p) r.gb[static_cast<size_t>(oc)] += static_cast<double>(gy[yoff + static_cast<size_t>(p)]);
      }
      for (int64_t k = 0; k < K; ++k)
        for (int64_t p = 0; p < P; ++p) {
          double s = 0;
          for (int64_t o = 0; o < OCg; ++o) {
            const int64_t oc = gr * OCg + o;
            s += static_cast<double>(w[static_cast<size_t>(oc * K + k)]) *
                 static_cast<double>(gy[static_cast<size_t>((n * c.OC + oc) * P + p)]);
          }
          gcols[static_cast<size_t>(k * P + p)] = s;
        }
      ref().col2im(DType::f64, gcols.data(), g, gxs.data());
      for (size_t i = 0; i < gxs.size(); ++i) r.gx[static_cast<size_t>(xoff) + i] = gxs[i];
    }
  return r;
}

// What core does for the "im2col" variant, on the GPU: per image and group,
// im2col + gemm forward; gemm + col2im and gemm into gw backward (no bias).
template <typename T>
void conv_by_im2col_gpu(const ConvCase& c, const Conv2dGeometry& g, const Dev& x, const Dev& w,
                        const Dev& gy, Dev& y, Dev& gx, Dev& gw) {
  constexpr DType dt = dtype_of<T>();
  const int64_t G = c.groups, Cg = g.C, OCg = c.OC / G, K = Cg * g.KH * g.KW, P = g.OH * g.OW;
  auto cols = dev_alloc<T>(K * P);
  auto gcols = dev_alloc<T>(K * P);
  for (int64_t n = 0; n < c.N; ++n)
    for (int64_t gr = 0; gr < G; ++gr) {
      const int64_t xoff = (n * c.Cin + gr * Cg) * g.H * g.W;
      const int64_t yoff = (n * c.OC + gr * OCg) * P;
      const int64_t woff = gr * OCg * K;
      gpu().im2col(dt, x.at<T>(xoff), g, cols->p);
      // y_g (OCg, P) = w_g (OCg, K) cols (K, P)
      gpu().gemm(dt, false, false, OCg, P, K, 1.0, w.at<T>(woff), K, 0, cols->p, P, 0, 0.0,
                 y.at<T>(yoff), P, 0, 1);
      // gw_g (OCg, K) += gy_g (OCg, P) cols^T (P, K)
      gpu().gemm(dt, false, true, OCg, K, P, 1.0, gy.at<T>(yoff), P, 0, cols->p, P, 0,
                 n == 0 ? 0.0 : 1.0, gw.at<T>(woff), K, 0, 1);
      // gcols (K, P) = w_g^T (K, OCg) gy_g (OCg, P)
      gpu().gemm(dt, true, false, K, P, OCg, 1.0, w.at<T>(woff), K, 0, gy.at<T>(yoff), P, 0, 0.0,
                 gcols->p, P, 0, 1);
      gpu().col2im(dt, gcols->p, g, gx.at<T>(xoff));
    }
}

template <typename T>
void check_conv_variants() {
  constexpr DType dt = dtype_of<T>();
  VariantGuard guard("conv2d");
  uint64_t seed = 401;
  for (const ConvCase& c : kConvs) {
    const Conv2dGeometry g = conv_geo(c);
    INFO(galen::dtype_name(dt) << " N " << c.N << " Cin " << c.Cin << " OC " << c.OC << " groups "
                               << c.groups << " bias " << c.bias << " " << describe(g));
    const int64_t K = g.C * g.KH * g.KW, P = g.OH * g.OW;
    const int64_t nx = c.N * c.Cin * g.H * g.W, ny = c.N * c.OC * P, nw = c.OC * K;
    const auto x = random_vec<T>(nx, ++seed, -1, 1);
    const auto w = random_vec<T>(nw, ++seed, -1, 1);
    const auto b = random_vec<T>(c.OC, ++seed, -1, 1);
    const auto gy = random_vec<T>(ny, ++seed, -1, 1);
    const ConvRef r = conv_reference(c, g, x, w, b, gy);
    // Sums of K (or OC/groups * taps, or N * P) products of values in [-1, 1).
    const double at = tol<T>(4e-5, 1e-12) * std::sqrt(static_cast<double>(std::max({K, P * c.N, c.OC})));
    const double rt = tol<T>(1e-5, 1e-12);

    auto dx = upload(x);
    auto dw = upload(w);
    auto db = upload(b);
    auto dgy = upload(gy);

    for (const std::string& v : gpu().variants("conv2d")) {
      INFO("variant " << v);
      gpu().set_variant("conv2d", v);
      REQUIRE(gpu().variant("conv2d") == v);
      auto dy = dev_alloc<T>(ny);
      auto dgx = dev_alloc<T>(nx);
      auto dgw = dev_alloc<T>(nw);
      auto dgb = dev_alloc<T>(c.OC);
      if (v == "im2col") {
        CHECK_FALSE(gpu().conv2d_forward(dt, dx->p, dw->p, c.bias ? db->p : nullptr, c.N, g, c.OC,
                                         c.groups, dy->p));
        CHECK_FALSE(gpu().conv2d_backward(dt, dx->p, dw->p, dgy->p, c.N, g, c.OC, c.groups, dgx->p,
                                          dgw->p, dgb->p));
        conv_by_im2col_gpu<T>(c, g, *dx, *dw, *dgy, *dy, *dgx, *dgw);
        // No bias in the composition: compare against the reference minus it.
        std::vector<double> y_nobias = r.y;
        if (c.bias)
          for (int64_t i = 0; i < ny; ++i)
            y_nobias[static_cast<size_t>(i)] -= static_cast<double>(b[static_cast<size_t>((i / P) % c.OC)]);
        expect_close(download<T>(*dy, ny), y_nobias, at, rt, "forward (im2col + gemm)");
        expect_close(download<T>(*dgx, nx), r.gx, at, rt, "gx (gemm + col2im)");
        expect_close(download<T>(*dgw, nw), r.gw, at, rt, "gw (im2col + gemm)");
        continue;
      }
      REQUIRE(v == "cudnn");
      const bool fwd = gpu().conv2d_forward(dt, dx->p, dw->p, c.bias ? db->p : nullptr, c.N, g,
                                            c.OC, c.groups, dy->p);
      if (!fwd && dt == DType::f64) {
        WARN("cuDNN declined this f64 convolution; core would fall back to im2col");
        continue;
      }
      REQUIRE(fwd);
      expect_close(download<T>(*dy, ny), r.y, at, rt, "forward (cudnn)");
      // Every subset of outputs; the run twice over checks the algorithm cache.
      for (int mode = 1; mode < 8; ++mode) {
        const bool want_gx = mode & 1, want_gw = mode & 2, want_gb = mode & 4;
        INFO("gx " << want_gx << " gw " << want_gw << " gb " << want_gb);
        REQUIRE(gpu().conv2d_backward(dt, dx->p, dw->p, dgy->p, c.N, g, c.OC, c.groups,
                                      want_gx ? dgx->p : nullptr, want_gw ? dgw->p : nullptr,
                                      want_gb ? dgb->p : nullptr));
        if (want_gx) expect_close(download<T>(*dgx, nx), r.gx, at, rt, "gx (cudnn)");
        if (want_gw) expect_close(download<T>(*dgw, nw), r.gw, at, rt, "gw (cudnn)");
        if (want_gb) expect_close(download<T>(*dgb, c.OC), r.gb, at, rt, "gb (cudnn)");
      }
      // Again: the cached algorithm.
      auto dy2 = dev_alloc<T>(ny);
      REQUIRE(gpu().conv2d_forward(dt, dx->p, dw->p, c.bias ? db->p : nullptr, c.N, g, c.OC,
                                   c.groups, dy2->p));
      expect_close(download<T>(*dy2, ny), r.y, at, rt, "forward again (cudnn, cached algorithm)");
    }
  }
}

}  // namespace

TEST_CASE("cuda nn: im2col and col2im match the reference", "[cuda]") {
  GALEN_REQUIRE_CUDA();
  check_im2col_col2im<float>();
  check_im2col_col2im<double>();
}

TEST_CASE("cuda nn: max_pool2d (+ indices, NaN, ties) and its backward", "[cuda]") {
  GALEN_REQUIRE_CUDA();
  check_max_pool<float>(false);
  check_max_pool<float>(true);
  check_max_pool<double>(false);
  check_max_pool<double>(true);
}

TEST_CASE("cuda nn: avg_pool2d and its backward, both divisor rules", "[cuda]") {
  GALEN_REQUIRE_CUDA();
  for (bool cip : {false, true}) {
    check_avg_pool<float>(cip);
    check_avg_pool<double>(cip);
  }
}

TEST_CASE("cuda nn: channel_stats, channel_affine, batch_norm_backward", "[cuda]") {
  GALEN_REQUIRE_CUDA();
  check_batch_norm<float>();
  check_batch_norm<double>();
}

TEST_CASE("cuda nn: empty pooling / batch-norm calls are no-ops", "[cuda]") {
  GALEN_REQUIRE_CUDA();
  const Conv2dGeometry g = make_geo(GeoCase{1, 4, 4, 2, 2, 2, 2, 0, 0, 1, 1, false});
  auto d = dev_alloc<float>(16);
  gpu().max_pool2d(DType::f32, d->p, 0, g, d->p, nullptr);
  gpu().avg_pool2d_backward(DType::f32, d->p, 0, g, false, d->p);
  gpu().channel_affine(DType::f32, d->p, 0, 3, 5, d->p, d->p, nullptr, nullptr, d->p);
  // N * S == 0: mean and var are 0, as in the reference.
  auto mv = dev_alloc<float>(6);
  gpu().channel_stats(DType::f32, d->p, 0, 3, 5, mv->p, mv->at<float>(3));
  const auto got = download<float>(*mv, 6);
  CHECK(got == std::vector<float>(6, 0.0f));
  gpu().synchronize(0);
}

TEST_CASE("cuda nn: unsupported dtypes are reported", "[cuda]") {
  GALEN_REQUIRE_CUDA();
  const Conv2dGeometry g = make_geo(GeoCase{1, 4, 4, 2, 2, 2, 2, 0, 0, 1, 1, false});
  auto d = dev_alloc<int32_t>(64);
  CHECK_THROWS_AS(gpu().im2col(DType::i32, d->p, g, d->p), galen::Error);
  CHECK_THROWS_AS(gpu().max_pool2d(DType::i64, d->p, 1, g, d->p, nullptr), galen::Error);
  CHECK_THROWS_AS(gpu().channel_stats(DType::u8, d->p, 1, 1, 4, d->p, d->p), galen::Error);
}

TEST_CASE("cuda nn: conv2d variants (im2col + gemm, cuDNN) against the reference", "[cuda]") {
  GALEN_REQUIRE_CUDA();
  check_conv_variants<float>();
  check_conv_variants<double>();
}

TEST_CASE("cuda nn: conv2d variant switch and what cuDNN declines", "[cuda]") {
  GALEN_REQUIRE_CUDA();
  Backend& b = gpu();
  VariantGuard guard("conv2d");
  const auto vs = b.variants("conv2d");
  REQUIRE(vs == std::vector<std::string>{"im2col", "cudnn"});
  CHECK_THROWS_AS(b.set_variant("conv2d", "winograd"), galen::Error);
  for (const auto& v : vs) {
    b.set_variant("conv2d", v);
    CHECK(b.variant("conv2d") == v);
  }
  // The gemm switch is independent.
  CHECK(b.variants("gemm") == std::vector<std::string>{"cublas", "tiled"});

  b.set_variant("conv2d", "cudnn");
  auto d = dev_alloc<float>(4096);
  // An output size that needs asymmetric padding (ceil mode): not expressible.
  Conv2dGeometry g = make_geo(GeoCase{2, 8, 7, 3, 3, 2, 2, 1, 0, 1, 1, true});
  REQUIRE(g.OH == 5);  // the floor formula gives 4
  CHECK_FALSE(b.conv2d_forward(DType::f32, d->p, d->p, nullptr, 1, g, 2, 1, d->p));
  CHECK_FALSE(b.conv2d_backward(DType::f32, d->p, d->p, d->p, 1, g, 2, 1, d->p, d->p, nullptr));
  // Integer dtypes, empty batches, OC not divisible by groups: core's business.
  g = make_geo(GeoCase{2, 5, 5, 3, 3, 1, 1, 1, 1, 1, 1, false});
  CHECK_FALSE(b.conv2d_forward(DType::i32, d->p, d->p, nullptr, 1, g, 2, 1, d->p));
  CHECK_FALSE(b.conv2d_forward(DType::f32, d->p, d->p, nullptr, 0, g, 2, 1, d->p));
  CHECK_FALSE(b.conv2d_forward(DType::f32, d->p, d->p, nullptr, 1, g, 3, 2, d->p));
}

#endif  // GALEN_WITH_CUDA
