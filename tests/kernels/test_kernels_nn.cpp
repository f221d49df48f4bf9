// Convolution, pooling and batch-norm primitives: CpuBackend against RefBackend
// on awkward geometries (1x1, padding, stride, dilation, kernel = input, primes,
// C = 1, ceil_mode edge windows, NaN), plus the ops built on them: f64
// gradchecks, PyTorch parity (tests/fixtures/nn_parity.safetensors, made by
// tools/make_nn_fixtures.py) and argument errors.
#include <cmath>
#include <iostream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "test_util.h"

#include "galen/core/json.h"
#include "galen/kernels/backend.h"
#include "galen/kernels/cpu/gemm_tile.h"

GALEN_COVERS_GRADCHECK(conv2d);
GALEN_COVERS_GRADCHECK(max_pool2d);
GALEN_COVERS_GRADCHECK(avg_pool2d);
GALEN_COVERS_GRADCHECK(adaptive_avg_pool2d);
GALEN_COVERS_GRADCHECK(batch_norm);
GALEN_COVERS_PARITY(conv2d);
GALEN_COVERS_PARITY(max_pool2d);
GALEN_COVERS_PARITY(avg_pool2d);
GALEN_COVERS_PARITY(adaptive_avg_pool2d);
GALEN_COVERS_PARITY(batch_norm);

namespace {

namespace gk = galen::kernels;
using galen::DType;
using galen::Tensor;
using gk::Conv2dGeometry;

gk::Backend& cpu() { return gk::cpu_backend(); }
gk::Backend& ref() { return gk::ref_backend(); }

std::mt19937_64& rng() {
  static std::mt19937_64 r(777);
  return r;
}

template <typename T>
std::vector<T> rand_vec(int64_t n, double lo = -2, double hi = 2) {
  std::vector<T> v(static_cast<size_t>(std::max<int64_t>(n, 1)));
  for (auto& e : v) e = static_cast<T>(std::uniform_real_distribution<double>(lo, hi)(rng()));
  return v;
}

template <typename T>
void require_close(const std::vector<T>& a, const std::vector<T>& b, double tol, const std::string& what) {
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    const double x = a[i], y = b[i];
    if (std::isnan(y)) {
      INFO(what << " at " << i << ": expected NaN, got " << x);
      REQUIRE(std::isnan(x));
      continue;
    }
    INFO(what << " at " << i << ": cpu " << x << " ref " << y);
    REQUIRE(std::fabs(x - y) <= tol * (1 + std::fabs(y)));
  }
}

Conv2dGeometry geom(int64_t C, int64_t H, int64_t W, int64_t KH, int64_t KW, int64_t SH, int64_t SW, int64_t PH,
                    int64_t PW, int64_t DH, int64_t DW, bool ceil_mode = false, int64_t OH = -1, int64_t OW = -1) {
  Conv2dGeometry g;
  g.C = C, g.H = H, g.W = W, g.KH = KH, g.KW = KW, g.SH = SH, g.SW = SW, g.PH = PH, g.PW = PW, g.DH = DH, g.DW = DW;
  auto out = [&](int64_t in, int64_t k, int64_t s, int64_t p, int64_t d) {
    int64_t num = in + 2 * p - d * (k - 1) - 1 + (ceil_mode ? s - 1 : 0);
    int64_t o = num / s + 1;
    if (ceil_mode && (o - 1) * s >= in + p) --o;
    return o;
  };
  g.OH = OH >= 0 ? OH : out(H, KH, SH, PH, DH);
  g.OW = OW >= 0 ? OW : out(W, KW, SW, PW, DW);
  return g;
}

// The geometries every primitive is run on.
std::vector<Conv2dGeometry> conv_geometries() {
  return {
      geom(3, 5, 7, 1, 1, 1, 1, 0, 0, 1, 1),      // 1x1
      geom(2, 7, 6, 3, 3, 1, 1, 1, 1, 1, 1),      // 3x3 pad 1
      geom(3, 9, 11, 3, 3, 2, 2, 1, 1, 1, 1),     // stride 2
      geom(2, 11, 9, 3, 3, 1, 1, 2, 2, 2, 2),     // dilation 2
      geom(1, 5, 5, 5, 5, 1, 1, 0, 0, 1, 1),      // kernel = input, C = 1
      geom(5, 13, 7, 2, 3, 3, 2, 1, 0, 1, 2),     // odd mix
      geom(1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1),      // single pixel
      geom(2, 6, 6, 3, 3, 1, 1, 1, 1, 1, 1, false, 6, 6),  // "same"
      geom(2, 6, 5, 2, 4, 1, 1, 0, 1, 1, 1, false, 6, 5),  // "same", asymmetric: extra pad bottom/right
      geom(64, 17, 17, 3, 3, 1, 1, 1, 1, 1, 1),  // above the parallel threshold
  };
}

template <typename T>
void check_im2col(const Conv2dGeometry& g) {
  const DType dt = galen::dtype_v<T>;
  const int64_t n_x = g.C * g.H * g.W, n_c = g.C * g.KH * g.KW * g.OH * g.OW;
  auto x = rand_vec<T>(n_x);
  std::vector<T> a(n_c, T(7)), b(n_c, T(-7));
  cpu().im2col(dt, x.data(), g, a.data());
  ref().im2col(dt, x.data(), g, b.data());
  require_close(a, b, 0, "im2col");
  auto cols = rand_vec<T>(n_c);
  std::vector<T> gx(n_x, T(5)), gr(n_x, T(-5));
  cpu().col2im(dt, cols.data(), g, gx.data());
  ref().col2im(dt, cols.data(), g, gr.data());
  require_close(gx, gr, std::is_same_v<T, float> ? 1e-5 : 1e-12, "col2im");
}

}  // namespace

TEST_CASE("nn kernels: im2col / col2im match the reference", "[kernels]") {
  for (const auto& g : conv_geometries()) {
    INFO("C " << g.C << " H " << g.H << " W " << g.W << " K " << g.KH << "x" << g.KW << " S " << g.SH << "," << g.SW
              << " P " << g.PH << "," << g.PW << " D " << g.DH << "," << g.DW);
    check_im2col<float>(g);
    check_im2col<double>(g);
  }
}

namespace {
// Multiples of 1/4 in [-2, 2].
template <typename T>
std::vector<T> quarter_vec(int64_t n) {
  std::vector<T> v(static_cast<size_t>(std::max<int64_t>(n, 1)));
  for (auto& e : v) e = static_cast<T>(std::uniform_int_distribution<int>(-8, 8)(rng())) / T(4);
  return v;
}

// require_close with one assertion per call (the conv checks compare millions
// of elements): reports the count of mismatches and the first one.
template <typename T>
void require_close_all(const std::vector<T>& a, const std::vector<T>& b, double tol, const std::string& what) {
  REQUIRE(a.size() == b.size());
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double x = a[i], y = b[i];
    if (!(std::fabs(x - y) <= tol * (1 + std::fabs(y))) && bad++ == 0) first = i;
  }
  INFO(what << ": " << bad << " of " << a.size() << " differ; first at " << first << ": cpu "
            << (bad ? double(a[first]) : 0.0) << " ref " << (bad ? double(b[first]) : 0.0));
  REQUIRE(bad == 0);
}

// The whole convolution through the ref backend: im2col / col2im + gemm per
// image and group (the specification the CPU "tiled" conv2d path must match).
template <typename T>
struct RefConv {
  Conv2dGeometry g;
  int64_t N, OC, groups;
  int64_t Cg() const { return g.C; }
  int64_t K() const { return g.C * g.KH * g.KW; }
  int64_t L() const { return g.OH * g.OW; }
  int64_t HW() const { return g.H * g.W; }
  int64_t OCg() const { return OC / groups; }

  std::vector<T> forward(const std::vector<T>& x, const std::vector<T>& w, const T* b) const {
    const DType dt = galen::dtype_v<T>;
    std::vector<T> y(N * OC * L()), cols(K() * L());
    for (int64_t n = 0; n < N; ++n)
      for (int64_t gi = 0; gi < groups; ++gi) {
        ref().im2col(dt, x.data() + (n * groups * Cg() + gi * Cg()) * HW(), g, cols.data());
        ref().gemm(dt, false, false, OCg(), L(), K(), 1.0, w.data() + gi * OCg() * K(), K(), 0, cols.data(), L(), 0,
                   0.0, y.data() + (n * OC + gi * OCg()) * L(), L(), 0, 1);
        if (b)
          for (int64_t oc = 0; oc < OCg(); ++oc)
            for (int64_t l = 0; l < L(); ++l) y[(n * OC + gi * OCg() + oc) * L() + l] += b[gi * OCg() + oc];
      }
    return y;
  }
  void backward(const std::vector<T>& x, const std::vector<T>& w, const std::vector<T>& gy, std::vector<T>& gx,
                std::vector<T>& gw, std::vector<T>& gb) const {
    const DType dt = galen::dtype_v<T>;
    gx.assign(N * groups * Cg() * HW(), T(0));
    gw.assign(OC * K(), T(0));
    gb.assign(OC, T(0));
    std::vector<T> cols(K() * L()), img(Cg() * HW());
    for (int64_t n = 0; n < N; ++n)
      for (int64_t gi = 0; gi < groups; ++gi) {
        const int64_t xo = (n * groups * Cg() + gi * Cg()) * HW(), yo = (n * OC + gi * OCg()) * L();
        ref().im2col(dt, x.data() + xo, g, cols.data());
        ref().gemm(dt, false, true, OCg(), K(), L(), 1.0, gy.data() + yo, L(), 0, cols.data(), L(), 0, 1.0,
                   gw.data() + gi * OCg() * K(), K(), 0, 1);
        ref().gemm(dt, true, false, K(), L(), OCg(), 1.0, w.data() + gi * OCg() * K(), K(), 0, gy.data() + yo, L(),
                   0, 0.0, cols.data(), L(), 0, 1);
        ref().col2im(dt, cols.data(), g, img.data());
        std::copy(img.begin(), img.end(), gx.begin() + xo);
        for (int64_t oc = 0; oc < OCg(); ++oc)
          for (int64_t l = 0; l < L(); ++l) gb[gi * OCg() + oc] += gy[yo + oc * L() + l];
      }
  }
};

// CPU conv2d_forward / conv2d_backward against RefConv. Returns whether the
// CPU backend took the call (it may decline; core then falls back).
template <typename T>
bool check_conv(const Conv2dGeometry& g, int64_t N, int64_t OC, int64_t groups, bool bias) {
  const DType dt = galen::dtype_v<T>;
  const RefConv<T> rc{g, N, OC, groups};
  // f32 on quarter-integers in [-2, 2]: every product and partial sum is exact
  // (multiples of 1/16 far below 2^20), so any summation order gives the same
  // bits and the comparison is exact. f64 on uniform reals, 1e-12.
  constexpr bool f32 = std::is_same_v<T, float>;
  auto make = [](int64_t n) { return f32 ? quarter_vec<T>(n) : rand_vec<T>(n); };
  auto x = make(N * groups * g.C * g.H * g.W), w = make(OC * rc.K()), b = make(OC), gy = make(N * OC * rc.L());
  const double tol = f32 ? 0.0 : 1e-12;
  std::vector<T> y(N * OC * rc.L(), T(-3));
  const bool fwd = cpu().conv2d_forward(dt, x.data(), w.data(), bias ? b.data() : nullptr, N, g, OC, groups,
                                        y.data());
  if (fwd) require_close_all(y, rc.forward(x, w, bias ? b.data() : nullptr), tol, "conv2d_forward");
  std::vector<T> gxr, gwr, gbr;
  rc.backward(x, w, gy, gxr, gwr, gbr);
  std::vector<T> gx(gxr.size(), T(9)), gw(gwr.size(), T(9)), gb(gbr.size(), T(9));
  const bool bwd = cpu().conv2d_backward(dt, x.data(), w.data(), gy.data(), N, g, OC, groups, gx.data(), gw.data(),
                                         gb.data());
  if (bwd) {
    require_close_all(gx, gxr, tol, "conv2d_backward gx");
    require_close_all(gw, gwr, tol, "conv2d_backward gw");
    require_close_all(gb, gbr, tol, "conv2d_backward gb");
    // Each output is optional.
    std::vector<T> gw2(gwr.size(), T(9));
    REQUIRE(cpu().conv2d_backward(dt, x.data(), w.data(), gy.data(), N, g, OC, groups, nullptr, gw2.data(),
                                  nullptr));
    require_close_all(gw2, gwr, tol, "conv2d_backward gw only");
    std::vector<T> gx2(gxr.size(), T(9));
    REQUIRE(cpu().conv2d_backward(dt, x.data(), w.data(), gy.data(), N, g, OC, groups, gx2.data(), nullptr,
                                  nullptr));
    require_close_all(gx2, gxr, tol, "conv2d_backward gx only");
  }
  return fwd && bwd;
}
}  // namespace

TEST_CASE("nn kernels: tiled conv2d forward / backward match im2col + gemm on the ref backend", "[kernels][conv]") {
  REQUIRE(cpu().variant("conv2d") == "tiled");
  int taken = 0;
  for (const auto& g : conv_geometries())
    for (int64_t N : {1, 3})
      for (int64_t groups : {1, 2}) {
        const int64_t OC = groups * (g.C > 8 ? 24 : 5);
        INFO("C " << g.C << " H " << g.H << " W " << g.W << " K " << g.KH << "x" << g.KW << " S " << g.SH << ","
                  << g.SW << " P " << g.PH << "," << g.PW << " D " << g.DH << "," << g.DW << " N " << N
                  << " OC " << OC << " groups " << groups);
        taken += check_conv<float>(g, N, OC, groups, N == 3);
        taken += check_conv<double>(g, N, OC, groups, N == 1);
      }
  // Shapes with several column slices per image, large enough to run threaded:
  // 3x3 pad 1, stride 2, a 1x1 stride 2 (im2col subsampling), a 7x7 stride-2
  // stem on 3 channels, a 1x1 stride 1 (no im2col), depthwise groups.
  struct Big {
    Conv2dGeometry g;
    int64_t N, OC, groups;
  };
  const std::vector<Big> big = {
      {geom(16, 37, 41, 3, 3, 1, 1, 1, 1, 1, 1), 3, 24, 1},  {geom(16, 37, 41, 3, 3, 1, 1, 1, 1, 1, 1), 1, 24, 1},
      {geom(12, 33, 29, 3, 3, 2, 2, 1, 1, 1, 1), 2, 20, 1},  {geom(24, 20, 19, 1, 1, 2, 2, 0, 0, 1, 1), 3, 40, 1},
      {geom(3, 45, 47, 7, 7, 2, 2, 3, 3, 1, 1), 2, 16, 1},   {geom(40, 31, 23, 1, 1, 1, 1, 0, 0, 1, 1), 1, 24, 1},
      {geom(40, 31, 23, 1, 1, 1, 1, 0, 0, 1, 1), 4, 24, 2},  {geom(1, 30, 30, 3, 3, 1, 1, 1, 1, 1, 1), 2, 16, 16},
      {geom(64, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1), 8, 64, 1},    {geom(64, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1), 1, 100, 1},
      {geom(48, 9, 9, 1, 1, 1, 1, 0, 0, 1, 1), 1, 72, 1},  // batch 1, small map: output channels split
      {geom(16, 5, 4, 3, 3, 1, 1, 1, 1, 1, 1), 3, 72, 1},  // more filters than columns: shared im2col
      {geom(8, 4, 4, 3, 3, 2, 1, 1, 0, 1, 1), 2, 80, 2},   // the same with groups, stride (2, 1)
  };
  for (const auto& c : big) {
    INFO("big: C " << c.g.C << " H " << c.g.H << " W " << c.g.W << " K " << c.g.KH << " S " << c.g.SH << " N "
                   << c.N << " OC " << c.OC << " groups " << c.groups);
    const bool f = check_conv<float>(c.g, c.N, c.OC, c.groups, true);
    const bool d = check_conv<double>(c.g, c.N, c.OC, c.groups, false);
    if (c.N > 1) REQUIRE((f && d));  // enough work: never declined
    if (galen::kernels::cpu::tile::available()) REQUIRE(f);  // the tile path takes every f32 forward
  }
  REQUIRE(taken > 60);  // most of the 80 calls are taken (a few batch-1 ones may decline)
}

TEST_CASE("nn kernels: AVX-512 tile gemm matches the ref gemm", "[kernels][conv]") {
  namespace tile = galen::kernels::cpu::tile;
  if (!tile::available()) {
    std::cout << "SKIPPED: tile gemm not compiled in (no AVX-512 at build time)" << std::endl;
    return;
  }
  // Edge rows (M % 8), edge columns (N % 16, N % 48), K across the 256 block,
  // M across the 256-row block; accumulate; packed from A or from Aᵀ.
  for (int64_t M : {1, 7, 8, 13, 264})
    for (int64_t N : {1, 15, 16, 33, 48, 50, 97})
      for (int64_t K : {1, 5, 300}) {
        INFO("M " << M << " N " << N << " K " << K);
        const int64_t ldb = N + 3, ldc = N + 5;
        auto a = quarter_vec<float>(M * K), b = quarter_vec<float>(K * ldb), c0 = quarter_vec<float>(M * ldc);
        std::vector<float> at(K * M);
        for (int64_t i = 0; i < M; ++i)
          for (int64_t k = 0; k < K; ++k) at[k * M + i] = a[i * K + k];
        std::vector<float> ap(tile::packed_size(M, K)), apt(tile::packed_size(M, K));
        tile::pack_a(a.data(), K, false, M, K, ap.data());
        tile::pack_a(at.data(), M, true, M, K, apt.data());
        REQUIRE(ap == apt);
        for (bool acc : {false, true}) {
          std::vector<float> want = c0, got = c0;
          ref().gemm(DType::f32, false, false, M, N, K, 1.0, a.data(), K, 0, b.data(), ldb, 0, acc ? 1.0 : 0.0,
                     want.data(), ldc, 0, 1);
          tile::gemm(M, N, K, ap.data(), b.data(), ldb, got.data(), ldc, acc);
          require_close_all(got, want, 0, acc ? "tile gemm accumulate" : "tile gemm");  // exact (quarter values)
          std::vector<float> got2 = c0, a_ld(M * (K + 2));
          for (int64_t i = 0; i < M; ++i) std::copy_n(a.begin() + i * K, K, a_ld.begin() + i * (K + 2));
          tile::gemm_unpacked(M, N, K, a_ld.data(), K + 2, b.data(), ldb, got2.data(), ldc, acc);
          require_close_all(got2, want, 0, "tile gemm, A in place");
        }
      }
}

TEST_CASE("nn kernels: conv2d variants give the same op results", "[kernels][conv]") {
  using namespace galen;
  manual_seed(5);
  // Quarter-integer values: both paths are exact in f32, so they must agree bit for bit.
  auto q = [](const Shape& s) {
    int64_t n = 1;
    for (int64_t d : s) n *= d;
    return from_vector<float>(quarter_vec<float>(n), s).requires_grad_();
  };
  Tensor x = q({3, 8, 23, 19}), w = q({12, 4, 3, 3}), b = q({12});
  auto run = [&](const char* v) {
    cpu().set_variant("conv2d", v);
    Tensor y = conv2d(x, w, b, {2, 1}, 1, 1, 2);
    mul(y, y).sum().backward();
    std::vector<Tensor> r = {y.detach(), x.grad(), w.grad(), b.grad()};
    x.zero_grad();
    w.zero_grad();
    b.zero_grad();
    return r;
  };
  const auto a = run("im2col"), t = run("tiled");
  REQUIRE(cpu().variant("conv2d") == "tiled");
  for (size_t i = 0; i < a.size(); ++i) REQUIRE_CLOSE(t[i], a[i], 0, 0);
  REQUIRE_THROWS_AS(cpu().set_variant("conv2d", "winograd"), galen::Error);
}

TEST_CASE("nn kernels: im2col of a small known case", "[kernels]") {
  // x = 1..9 (3x3), 2x2 kernel, pad 1, stride 2 -> 2x2 output.
  const Conv2dGeometry g = geom(1, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1);
  REQUIRE(g.OH == 2);
  std::vector<float> x = {1, 2, 3, 4, 5, 6, 7, 8, 9}, cols(16);
  cpu().im2col(DType::f32, x.data(), g, cols.data());
  const std::vector<float> want = {0, 0, 0, 5, 0, 0, 4, 6, 0, 2, 0, 8, 1, 3, 7, 9};
  require_close(cols, want, 0, "im2col known");
}

namespace {
template <typename T>
void check_pools(const Conv2dGeometry& g, int64_t planes, bool with_nan) {
  const DType dt = galen::dtype_v<T>;
  const int64_t n_x = planes * g.H * g.W, n_o = planes * g.OH * g.OW;
  auto x = rand_vec<T>(n_x);
  if (with_nan) x[n_x / 2] = std::numeric_limits<T>::quiet_NaN();
  // Ties: repeat values so "the first maximum" matters.
  for (int64_t i = 0; i + 3 < n_x; i += 7) x[i + 1] = x[i];
  std::vector<T> oc(n_o), orf(n_o);
  std::vector<int64_t> ic(n_o, -9), ir(n_o, -9);
  cpu().max_pool2d(dt, x.data(), planes, g, oc.data(), ic.data());
  ref().max_pool2d(dt, x.data(), planes, g, orf.data(), ir.data());
  require_close(oc, orf, 0, "max_pool2d");
  REQUIRE(ic == ir);
  auto gout = rand_vec<T>(n_o);
  std::vector<T> gc(n_x), gr(n_x);
  cpu().max_pool2d_backward(dt, gout.data(), ic.data(), planes, g, gc.data());
  ref().max_pool2d_backward(dt, gout.data(), ir.data(), planes, g, gr.data());
  require_close(gc, gr, 1e-6, "max_pool2d_backward");
  if (g.DH == 1 && g.DW == 1 && !with_nan) {
    for (bool cip : {true, false}) {
      std::vector<T> ac(n_o), ar(n_o);
      cpu().avg_pool2d(dt, x.data(), planes, g, cip, ac.data());
      ref().avg_pool2d(dt, x.data(), planes, g, cip, ar.data());
      require_close(ac, ar, std::is_same_v<T, float> ? 1e-6 : 1e-13, "avg_pool2d");
      std::vector<T> bc(n_x), br(n_x);
      cpu().avg_pool2d_backward(dt, gout.data(), planes, g, cip, bc.data());
      ref().avg_pool2d_backward(dt, gout.data(), planes, g, cip, br.data());
      require_close(bc, br, std::is_same_v<T, float> ? 1e-6 : 1e-13, "avg_pool2d_backward");
    }
  }
}

std::vector<Conv2dGeometry> pool_geometries() {
  return {
      geom(1, 4, 4, 2, 2, 2, 2, 0, 0, 1, 1),
      geom(1, 7, 5, 3, 3, 2, 2, 1, 1, 1, 1),
      geom(1, 7, 5, 3, 3, 2, 2, 1, 1, 1, 1, true),   // ceil_mode
      geom(1, 6, 6, 3, 3, 2, 2, 0, 0, 1, 1, true),   // ceil_mode, last window half outside
      geom(1, 5, 5, 2, 2, 2, 2, 1, 1, 1, 1, true),   // ceil_mode with padding: dropped window rule
      geom(1, 9, 8, 3, 2, 1, 3, 1, 1, 2, 1),         // dilation
      geom(1, 5, 5, 5, 5, 1, 1, 2, 2, 1, 1),         // kernel = input, padding
      geom(1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1),
      geom(1, 13, 11, 3, 3, 3, 3, 1, 1, 1, 1, true),
  };
}
}  // namespace

TEST_CASE("nn kernels: max / avg pooling match the reference", "[kernels]") {
  for (const auto& g : pool_geometries())
    for (int64_t planes : {1, 3, 257}) {
      INFO("H " << g.H << " W " << g.W << " K " << g.KH << "x" << g.KW << " S " << g.SH << "," << g.SW << " P "
                << g.PH << "," << g.PW << " D " << g.DH << "," << g.DW << " OH " << g.OH << " OW " << g.OW
                << " planes " << planes);
      check_pools<float>(g, planes, false);
      check_pools<double>(g, planes, false);
      check_pools<float>(g, planes, true);
    }
}

namespace {
template <typename T>
void check_bn(int64_t N, int64_t C, int64_t S, bool affine, double offset) {
  const DType dt = galen::dtype_v<T>;
  const int64_t n = N * C * S;
  auto x = rand_vec<T>(n, offset - 2, offset + 2);
  std::vector<T> mc(C), vc(C), mr(C), vr(C);
  cpu().channel_stats(dt, x.data(), N, C, S, mc.data(), vc.data());
  ref().channel_stats(dt, x.data(), N, C, S, mr.data(), vr.data());
  const double tol = std::is_same_v<T, float> ? 2e-6 : 1e-12;
  require_close(mc, mr, tol, "channel_stats mean");
  require_close(vc, vr, tol, "channel_stats var");
  std::vector<T> invstd(C);
  for (int64_t c = 0; c < C; ++c) invstd[c] = static_cast<T>(1.0 / std::sqrt(double(vr[c]) + 1e-5));
  auto w = rand_vec<T>(C, 0.5, 1.5), b = rand_vec<T>(C);
  const T* pw = affine ? w.data() : nullptr;
  const T* pb = affine ? b.data() : nullptr;
  std::vector<T> yc(n), yr(n);
  cpu().channel_affine(dt, x.data(), N, C, S, mr.data(), invstd.data(), pw, pb, yc.data());
  ref().channel_affine(dt, x.data(), N, C, S, mr.data(), invstd.data(), pw, pb, yr.data());
  require_close(yc, yr, std::is_same_v<T, float> ? 1e-5 : 1e-12, "channel_affine");
  auto gy = rand_vec<T>(n);
  std::vector<T> gxc(n), gxr(n), gwc(C), gwr(C), gbc(C), gbr(C);
  cpu().batch_norm_backward(dt, x.data(), gy.data(), N, C, S, mr.data(), invstd.data(), pw, gxc.data(), gwc.data(),
                            gbc.data());
  ref().batch_norm_backward(dt, x.data(), gy.data(), N, C, S, mr.data(), invstd.data(), pw, gxr.data(), gwr.data(),
                            gbr.data());
  const double gtol = std::is_same_v<T, float> ? 5e-5 : 1e-10;
  require_close(gxc, gxr, gtol, "batch_norm_backward gx");
  require_close(gwc, gwr, gtol, "batch_norm_backward gw");
  require_close(gbc, gbr, gtol, "batch_norm_backward gb");
  // Optional outputs may be null.
  cpu().batch_norm_backward(dt, x.data(), gy.data(), N, C, S, mr.data(), invstd.data(), pw, gxc.data(), nullptr,
                            nullptr);
  require_close(gxc, gxr, gtol, "batch_norm_backward gx only");
}
}  // namespace

TEST_CASE("nn kernels: batch-norm statistics, affine and backward match the reference", "[kernels]") {
  check_bn<float>(4, 3, 25, true, 0);
  check_bn<double>(4, 3, 25, true, 0);
  check_bn<float>(2, 1, 1, false, 0);
  check_bn<float>(7, 5, 1, true, 0);       // (N, C) input: S = 1
  check_bn<float>(3, 67, 97, true, 100);   // large mean: two-pass variance stays accurate
  check_bn<double>(2, 129, 300, false, 0); // parallel over channels
}

TEST_CASE("nn kernels: unsupported dtypes are refused", "[kernels]") {
  const Conv2dGeometry g = geom(1, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1);
  std::vector<int64_t> x(9), cols(16);
  for (gk::Backend* be : {&cpu(), &ref()}) {
    REQUIRE_THROWS_AS(be->im2col(DType::i64, x.data(), g, cols.data()), galen::Error);
    REQUIRE_THROWS_AS(be->col2im(DType::i64, cols.data(), g, x.data()), galen::Error);
    REQUIRE_THROWS_AS(be->max_pool2d(DType::i64, x.data(), 1, g, cols.data(), cols.data()), galen::Error);
    REQUIRE_THROWS_AS(be->avg_pool2d(DType::i32, x.data(), 1, g, true, cols.data()), galen::Error);
    REQUIRE_THROWS_AS(be->channel_stats(DType::u8, x.data(), 1, 1, 9, cols.data(), cols.data()), galen::Error);
  }
}

// ---- ops: values, gradchecks, errors ---------------------------------------------------

namespace {
using namespace galen;

Tensor r64(const Shape& s, bool grad = true) {
  return randn(s, TensorOptions(DType::f64).with_requires_grad(grad));
}

void expect_gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f, const std::vector<Tensor>& in) {
  auto r = gradcheck(f, in);
  INFO(r.message);
  REQUIRE(r.ok);
}

// conv2d the slow way: explicit loops in double.
Tensor conv2d_naive(const Tensor& x, const Tensor& w, const Tensor& b, Int2 s, Int2 p, Int2 d, int64_t groups) {
  const auto xv = x.to(DType::f64).contiguous().to_vector<double>();
  const auto wv = w.to(DType::f64).contiguous().to_vector<double>();
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3), OC = w.size(0), KH = w.size(2),
                KW = w.size(3);
  const int64_t OH = (H + 2 * p.h - d.h * (KH - 1) - 1) / s.h + 1, OW = (W + 2 * p.w - d.w * (KW - 1) - 1) / s.w + 1;
  const int64_t Cg = C / groups, OCg = OC / groups;
  std::vector<double> y(N * OC * OH * OW, 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t oc = 0; oc < OC; ++oc)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          double acc = b.defined() ? b.to(DType::f64).to_vector<double>()[oc] : 0.0;
          const int64_t gi = oc / OCg;
          for (int64_t c = 0; c < Cg; ++c)
            for (int64_t kh = 0; kh < KH; ++kh)
              for (int64_t kw = 0; kw < KW; ++kw) {
                const int64_t h = oh * s.h - p.h + kh * d.h, ww = ow * s.w - p.w + kw * d.w;
                if (h < 0 || h >= H || ww < 0 || ww >= W) continue;
                acc += xv[((n * C + gi * Cg + c) * H + h) * W + ww] * wv[((oc * Cg + c) * KH + kh) * KW + kw];
              }
          y[((n * OC + oc) * OH + oh) * OW + ow] = acc;
        }
  return from_vector<double>(y, {N, OC, OH, OW});
}
}  // namespace

TEST_CASE("conv2d: forward equals the naive definition", "[kernels][ops]") {
  struct C_ {
    Shape x, w;
    Int2 s, p, d;
    int64_t g;
    bool bias;
  };
  const std::vector<C_> cases = {
      {{2, 3, 5, 7}, {4, 3, 1, 1}, 1, 0, 1, 1, true},    // 1x1 fast path
      {{2, 4, 5, 7}, {6, 2, 1, 1}, 1, 0, 1, 2, false},   // 1x1 fast path, groups
      {{1, 3, 7, 6}, {2, 3, 3, 3}, 1, 1, 1, 1, true},
      {{2, 3, 9, 11}, {5, 3, 3, 3}, 2, 1, 1, 1, true},
      {{2, 2, 11, 9}, {3, 2, 3, 3}, 1, 2, 2, 1, false},
      {{1, 1, 5, 5}, {2, 1, 5, 5}, 1, 0, 1, 1, true},
      {{2, 6, 7, 5}, {6, 1, 3, 3}, 1, 1, 1, 6, true},    // depthwise
      {{1, 4, 8, 7}, {6, 2, 2, 3}, {2, 1}, {1, 0}, {1, 2}, 2, true},
  };
  for (const auto& c : cases) {
    for (DType dt : {DType::f32, DType::f64}) {
      Tensor x = randn(c.x, dt), w = randn(c.w, dt), b = c.bias ? randn({c.w[0]}, dt) : Tensor();
      Tensor y = conv2d(x, w, b, c.s, Conv2dPadding(c.p), c.d, c.g);
      REQUIRE_CLOSE(y, conv2d_naive(x, w, b, c.s, c.p, c.d, c.g), dt == DType::f32 ? 1e-4 : 1e-11, 1e-4);
    }
  }
  // Unbatched input.
  Tensor x = randn({3, 6, 5}), w = randn({2, 3, 3, 3});
  Tensor y = conv2d(x, w, Tensor(), 1, 1);
  REQUIRE(y.sizes() == Shape{2, 6, 5});
  REQUIRE_CLOSE(y, conv2d(x.unsqueeze(0), w, Tensor(), 1, 1).squeeze(0), 0, 0);
}

TEST_CASE("conv2d: gradcheck (f64)", "[kernels][ops]") {
  manual_seed(11);
  // 3x3 pad 1 with bias
  expect_gradcheck([](const std::vector<Tensor>& v) { return conv2d(v[0], v[1], v[2], 1, 1); },
                   {r64({2, 2, 5, 4}), r64({3, 2, 3, 3}), r64({3})});
  // stride 2, dilation 2, asymmetric padding
  expect_gradcheck([](const std::vector<Tensor>& v) { return conv2d(v[0], v[1], Tensor(), {2, 1}, {1, 2}, {2, 1}); },
                   {r64({1, 2, 7, 6}), r64({2, 2, 2, 3})});
  // groups, 1x1 fast path
  expect_gradcheck([](const std::vector<Tensor>& v) { return conv2d(v[0], v[1], v[2], 1, 0, 1, 2); },
                   {r64({2, 4, 3, 3}), r64({6, 2, 1, 1}), r64({6})});
  // depthwise, "same" with an even kernel (asymmetric padding)
  expect_gradcheck([](const std::vector<Tensor>& v) { return conv2d(v[0], v[1], v[2], 1, "same", 1, 3); },
                   {r64({1, 3, 5, 4}), r64({3, 1, 2, 4}), r64({3})});
  // unbatched input, only x requires grad
  expect_gradcheck([](const std::vector<Tensor>& v) { return conv2d(v[0], v[1], Tensor(), 2, 0); },
                   {r64({2, 5, 5}), r64({2, 2, 3, 3}, false)});
}

TEST_CASE("pooling: gradchecks (f64)", "[kernels][ops]") {
  manual_seed(12);
  // max pool: distinct values so the argmax is stable under the finite-difference step
  auto perm = [](const Shape& s) {
    int64_t n = 1;
    for (int64_t v : s) n *= v;
    Tensor t = mul(randperm(n).to(DType::f64), 0.01).reshape(s);
    return t.requires_grad_();
  };
  expect_gradcheck([](const std::vector<Tensor>& v) { return max_pool2d(v[0], 2); }, {perm({2, 2, 4, 5})});
  expect_gradcheck([](const std::vector<Tensor>& v) { return max_pool2d(v[0], 3, 2, 1, 1, true); },
                   {perm({1, 2, 6, 7})});
  expect_gradcheck([](const std::vector<Tensor>& v) { return max_pool2d(v[0], {2, 3}, 1, {1, 0}, {2, 1}); },
                   {perm({1, 2, 7, 6})});
  expect_gradcheck([](const std::vector<Tensor>& v) { return avg_pool2d(v[0], 3, 2, 1, true, false); },
                   {r64({2, 2, 6, 7})});
  expect_gradcheck([](const std::vector<Tensor>& v) { return avg_pool2d(v[0], {2, 3}, {2, 1}, {1, 1}, true, true); },
                   {r64({1, 2, 5, 6})});
  expect_gradcheck([](const std::vector<Tensor>& v) { return adaptive_avg_pool2d(v[0], {3, 2}); },
                   {r64({2, 2, 7, 5})});
  expect_gradcheck([](const std::vector<Tensor>& v) { return adaptive_avg_pool2d(v[0], 1); }, {r64({2, 3, 4, 5})});
  expect_gradcheck([](const std::vector<Tensor>& v) { return adaptive_avg_pool2d(v[0], {2, 3}); },
                   {r64({2, 4, 6})});
}

TEST_CASE("batch_norm: gradchecks (f64), train and eval", "[kernels][ops]") {
  manual_seed(13);
  for (const Shape& s : {Shape{5, 3}, Shape{4, 3, 5}, Shape{2, 3, 4, 3}}) {
    INFO("shape " << shape_str(s));
    expect_gradcheck(
        [](const std::vector<Tensor>& v) { return batch_norm(v[0], Tensor(), Tensor(), v[1], v[2], true, 0.1, 1e-5); },
        {r64(s), r64({3}), r64({3})});
    // no affine parameters
    expect_gradcheck(
        [](const std::vector<Tensor>& v) { return batch_norm(v[0], Tensor(), Tensor(), Tensor(), Tensor(), true); },
        {r64(s)});
    Tensor rm = randn({3}, DType::f64), rv = add(rand({3}, DType::f64), 0.5);
    expect_gradcheck(
        [rm, rv](const std::vector<Tensor>& v) { return batch_norm(v[0], rm, rv, v[1], v[2], false); },
        {r64(s), r64({3}), r64({3})});
  }
}

TEST_CASE("batch_norm: running statistics and eval mode", "[kernels][ops]") {
  Tensor x = randn({6, 2, 3, 3}, DType::f64);
  Tensor rm = zeros({2}, DType::f64), rv = ones({2}, DType::f64);
  Tensor y = batch_norm(x, rm, rv, Tensor(), Tensor(), true, 0.25, 1e-5);
  Tensor bm = mean(x, {0, 2, 3}), bv = var(x, {0, 2, 3}, true);
  REQUIRE_CLOSE(rm, mul(bm, 0.25), 1e-12, 1e-12);
  REQUIRE_CLOSE(rv, add(mul(bv, 0.25), 0.75), 1e-12, 1e-12);
  // normalised with the biased variance
  Tensor bvb = var(x, {0, 2, 3}, false);
  Tensor expect = div(sub(x, bm.view({1, 2, 1, 1})), sqrt(add(bvb, 1e-5)).view({1, 2, 1, 1}));
  REQUIRE_CLOSE(y, expect, 1e-10, 1e-10);
  // eval uses the running stats
  Tensor ye = batch_norm(x, rm, rv, Tensor(), Tensor(), false, 0.25, 1e-5);
  REQUIRE_CLOSE(ye, div(sub(x, rm.view({1, 2, 1, 1})), sqrt(add(rv, 1e-5)).view({1, 2, 1, 1})), 1e-12, 1e-12);
  // f32 input with large offset: stats stay accurate
  Tensor xf = add(randn({8, 3, 16}), 1000.0);
  Tensor yf = batch_norm(xf, Tensor(), Tensor(), Tensor(), Tensor(), true);
  Tensor yd = batch_norm(xf.to(DType::f64), Tensor(), Tensor(), Tensor(), Tensor(), true);
  REQUIRE_CLOSE(yf, yd, 1e-3, 1e-3);
}

TEST_CASE("nn ops: pooling values and shapes", "[kernels][ops]") {
  // ceil_mode: 5 with k2 s2 -> 3 windows; with padding 1 and ceil the last window
  // would start in the right padding and is dropped: (5+2-2+1)/2+1 = 4 -> 3.
  Tensor x = arange(0, 25, 1, DType::f32).reshape({1, 1, 5, 5});
  REQUIRE(max_pool2d(x, 2, 2, 0, 1, true).sizes() == Shape{1, 1, 3, 3});
  REQUIRE(max_pool2d(x, 2, 2, 1, 1, true).sizes() == Shape{1, 1, 3, 3});
  REQUIRE(max_pool2d(x, 2, 2, 0, 1, false).sizes() == Shape{1, 1, 2, 2});
  auto [v, idx] = max_pool2d_with_indices(x, 2, 2, 0, 1, true);
  REQUIRE(v.to_vector<float>() == std::vector<float>{6, 8, 9, 16, 18, 19, 21, 23, 24});
  REQUIRE(idx.to_vector<int64_t>() == std::vector<int64_t>{6, 8, 9, 16, 18, 19, 21, 23, 24});
  // avg pool with ceil_mode: the last window holds one column
  Tensor a = avg_pool2d(x, 2, 2, 0, true, true);
  REQUIRE(a.to_vector<float>()[2] == Approx((4 + 9) / 2.0));
  // adaptive, non-divisible: 5 -> 3 bins [0,2) [1,4) [3,5)
  Tensor r = arange(0, 5, 1, DType::f64).reshape({1, 1, 1, 5});
  Tensor ad = adaptive_avg_pool2d(r, {1, 3});
  REQUIRE_CLOSE(ad, from_vector<double>({0.5, 2.0, 3.5}, {1, 1, 1, 3}), 1e-12, 0);
  // global average pooling
  Tensor g = randn({2, 3, 4, 5});
  REQUIRE_CLOSE(adaptive_avg_pool2d(g, 1), mean(g, {2, 3}, true), 1e-6, 1e-5);
}

TEST_CASE("nn ops: bad arguments are galen::Error", "[kernels][ops]") {
  Tensor x = randn({2, 4, 6, 6}), w = randn({8, 2, 3, 3});
  REQUIRE_THROWS_AS(conv2d(randn({4, 6}), w), Error);                        // not 3-D/4-D
  REQUIRE_THROWS_AS(conv2d(x, randn({8, 4, 3})), Error);                     // weight not 4-D
  REQUIRE_THROWS_AS(conv2d(x, w), Error);                                    // channel mismatch
  REQUIRE_THROWS_AS(conv2d(x, randn({6, 2, 3, 3}), Tensor(), 1, 0, 1, 4), Error);  // 4 % groups ok, OC: 6%4
  REQUIRE_THROWS_AS(conv2d(randn({2, 5, 6, 6}), randn({4, 2, 3, 3}), Tensor(), 1, 0, 1, 2), Error);  // C % groups
  REQUIRE_THROWS_AS(conv2d(x, w, randn({7}), 1, 0, 1, 2), Error);           // bias size
  REQUIRE_THROWS_AS(conv2d(x, randn({8, 4, 7, 7})), Error);                  // kernel > input
  REQUIRE_THROWS_AS(conv2d(x, randn({8, 4, 3, 3}), Tensor(), 2, "same"), Error);  // same needs stride 1
  REQUIRE_THROWS_AS(conv2d(x, randn({8, 4, 3, 3}), Tensor(), 1, "full"), Error);  // unknown mode
  REQUIRE_THROWS_AS(conv2d(x, randn({8, 4, 3, 3}), Tensor(), 0), Error);          // stride 0
  REQUIRE_THROWS_AS(conv2d(x, randn({8, 4, 3, 3}, DType::f64)), Error);           // dtype
  REQUIRE_THROWS_AS(conv2d(x.to(DType::i64), randn({8, 4, 3, 3}).to(DType::i64)), Error);
  REQUIRE_THROWS_AS(max_pool2d(x, 3, 1, 2), Error);       // padding > kernel/2
  REQUIRE_THROWS_AS(max_pool2d(x, 7), Error);             // output would be empty
  REQUIRE_THROWS_AS(max_pool2d(randn({6, 6}), 2), Error);
  REQUIRE_THROWS_AS(avg_pool2d(x, 0), Error);
  REQUIRE_THROWS_AS(adaptive_avg_pool2d(x, 0), Error);
  REQUIRE_THROWS_AS(batch_norm(randn({4}), Tensor(), Tensor(), Tensor(), Tensor(), true), Error);
  REQUIRE_THROWS_AS(batch_norm(x, Tensor(), Tensor(), randn({3}), Tensor(), true), Error);  // weight size
  REQUIRE_THROWS_AS(batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), false), Error);    // eval w/o stats
  REQUIRE_THROWS_AS(batch_norm(randn({1, 4}), Tensor(), Tensor(), Tensor(), Tensor(), true), Error);  // 1 value
  try {
    conv2d(x, w);
  } catch (const Error& e) {
    REQUIRE(std::string(e.what()).find("conv2d") != std::string::npos);
  }
}

// ---- PyTorch parity ------------------------------------------------------------------------

namespace {
const SafetensorsFile& nn_fixture() {
  static const SafetensorsFile f = load_safetensors(std::string(GALEN_FIXTURES_DIR) + "/nn_parity.safetensors");
  return f;
}
Tensor fx(const std::string& key) {
  auto it = nn_fixture().tensors.find(key);
  INFO("fixture key " << key);
  REQUIRE(it != nn_fixture().tensors.end());
  return it->second;
}
bool has(const std::string& key) { return nn_fixture().tensors.count(key) > 0; }
Int2 int2(const json::Value& v) {
  const auto& a = v.as_array();
  return Int2(a.at(0).as_int(), a.at(1).as_int());
}
}  // namespace

TEST_CASE("nn ops: PyTorch parity (outputs and gradients, f64 and f32)", "[kernels][ops][parity]") {
  int n_cases = 0;
  for (const auto& [name, text] : nn_fixture().metadata) {
    if (name.rfind("__", 0) == 0) continue;
    const json::Value meta = json::parse(text);
    const std::string op = meta.find("op")->as_string();
    for (DType dt : {DType::f64, DType::f32}) {
      INFO("case " << name << " (" << op << ") in " << dtype_name(dt));
      const double tol = dt == DType::f64 ? 1e-10 : 2e-4;
      std::vector<Tensor> ins;
      for (int i = 0; has(name + ".in" + std::to_string(i)); ++i) {
        Tensor t = fx(name + ".in" + std::to_string(i)).to(dt).detach();
        ins.push_back(t.requires_grad_());
      }
      Tensor out;
      Tensor rm, rv;
      if (op == "conv2d") {
        const json::Value* pad = meta.find("padding");
        Conv2dPadding p = pad->is_string() ? Conv2dPadding(pad->as_string()) : Conv2dPadding(int2(*pad));
        out = conv2d(ins[0], ins[1], ins.size() > 2 ? ins[2] : Tensor(), int2(*meta.find("stride")), p,
                     int2(*meta.find("dilation")), meta.find("groups")->as_int());
      } else if (op == "max_pool2d") {
        out = max_pool2d(ins[0], int2(*meta.find("kernel")), int2(*meta.find("stride")), int2(*meta.find("padding")),
                         int2(*meta.find("dilation")), meta.find("ceil_mode")->as_bool());
      } else if (op == "avg_pool2d") {
        out = avg_pool2d(ins[0], int2(*meta.find("kernel")), int2(*meta.find("stride")), int2(*meta.find("padding")),
                         meta.find("ceil_mode")->as_bool(), meta.find("count_include_pad")->as_bool());
      } else if (op == "adaptive_avg_pool2d") {
        out = adaptive_avg_pool2d(ins[0], int2(*meta.find("output_size")));
      } else if (op == "batch_norm") {
        const bool training = meta.find("training")->as_bool();
        if (has(name + ".rm")) {
          rm = fx(name + ".rm").to(dt).clone();
          rv = fx(name + ".rv").to(dt).clone();
        }
        const bool affine = ins.size() > 1;
        out = batch_norm(ins[0], rm, rv, affine ? ins[1] : Tensor(), affine ? ins[2] : Tensor(), training,
                         meta.find("momentum")->as_double(), meta.find("eps")->as_double());
      } else {
        FAIL("unknown op " << op);
      }
      REQUIRE_CLOSE(out, fx(name + ".out"), tol, tol);
      sum(mul(out, fx(name + ".w").to(dt))).backward();
      for (size_t i = 0; i < ins.size(); ++i) {
        INFO("gradient of input " << i);
        REQUIRE(ins[i].grad().defined());
        REQUIRE_CLOSE(ins[i].grad(), fx(name + ".grad" + std::to_string(i)), tol, tol);
      }
      if (has(name + ".rm_out")) {
        REQUIRE_CLOSE(rm, fx(name + ".rm_out"), tol, tol);
        REQUIRE_CLOSE(rv, fx(name + ".rv_out"), tol, tol);
      }
    }
    ++n_cases;
  }
  REQUIRE(n_cases >= 20);
}
