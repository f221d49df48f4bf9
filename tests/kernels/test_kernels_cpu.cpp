// CpuBackend against RefBackend, primitive by primitive, at the raw-pointer
// level: odd shapes (size 1, primes, empty), non-contiguous and broadcast
// operands, sizes above the OpenMP threshold, every supported dtype, NaN and
// tie rules, duplicate indices, every gemm variant, and the dtype combinations
// that must be refused.
#include <omp.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

// philox.h first: it calls sqrt/log/cos unqualified, which galen::log(Tensor)
// from galen.h would otherwise hide.
#include "galen/kernels/philox.h"

#include "test_util.h"

#include "galen/kernels/backend.h"
#include "galen/kernels/ref/dispatch.h"

namespace {

namespace gk = galen::kernels;
using galen::DType;
using gk::BinaryOp;
using gk::Layout;
using gk::RandomDist;
using gk::ReduceOp;
using gk::UnaryOp;
using Sizes = std::vector<int64_t>;

gk::Backend& cpu() { return gk::cpu_backend(); }
gk::Backend& ref() { return gk::ref_backend(); }

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
const DType kAllTypes[] = {DType::f32, DType::f64, DType::i32, DType::i64, DType::u8, DType::boolean};

// Calls f(T{}) for a runtime dtype (all six).
template <typename F>
void with_type(DType dt, F&& f) {
  gk::dispatch::on_type<gk::dispatch::kAll>("test", galen::DeviceType::CPU, dt, f);
}

// std::vector<bool> packs bits; keep bools as bytes.
template <typename T>
using store_t = std::conditional_t<std::is_same_v<T, bool>, uint8_t, T>;

template <typename T>
struct Buf {
  std::vector<store_t<T>> v;
  explicit Buf(int64_t n = 0) : v(static_cast<size_t>(std::max<int64_t>(n, 1))) {}
  T* p() { return reinterpret_cast<T*>(v.data()); }
  const T* p() const { return reinterpret_cast<const T*>(v.data()); }
  int64_t size() const { return static_cast<int64_t>(v.size()); }
};

std::mt19937_64& rng() {
  static std::mt19937_64 r(12345);
  return r;
}

// Random values of T; floats in [lo, hi], integers in a small range that keeps
// sums and products of the tests far from overflow (u8 uses all of 0..255).
template <typename T>
Buf<T> random_buf(int64_t n, double lo = -3, double hi = 3, bool specials = false) {
  Buf<T> b(n);
  for (int64_t i = 0; i < b.size(); ++i) {
    if constexpr (std::is_same_v<T, bool>) {
      b.v[i] = static_cast<uint8_t>(rng()() & 1);
    } else if constexpr (std::is_floating_point_v<T>) {
      b.v[i] = static_cast<T>(std::uniform_real_distribution<double>(lo, hi)(rng()));
    } else if constexpr (std::is_same_v<T, uint8_t>) {
      b.v[i] = static_cast<uint8_t>(rng()() & 255);
    } else {
      b.v[i] = static_cast<T>(std::uniform_int_distribution<int>(int(lo * 10), int(hi * 10))(rng()));
    }
  }
  if constexpr (std::is_floating_point_v<T>) {
    if (specials) {
      const double sp[] = {kNaN, kInf, -kInf, 0.0, -0.0, 1.0, -1.0};
      for (int64_t i = 0; i < b.size(); i += 11) b.v[i] = static_cast<T>(sp[(i / 11) % 7]);
    }
  }
  return b;
}

std::string shape_s(const Sizes& s) {
  std::ostringstream os;
  os << '(';
  for (size_t i = 0; i < s.size(); ++i) os << (i ? "," : "") << s[i];
  os << ')';
  return os.str();
}

template <typename T>
std::pair<double, double> tol() {
  if constexpr (std::is_same_v<T, float>) return {1e-6, 1e-5};
  else if constexpr (std::is_same_v<T, double>) return {1e-12, 1e-12};
  else return {0, 0};
}

// |got - want| <= atol + rtol |want| element-wise; NaN must face NaN and
// infinities must match. Integral types compare exactly.
template <typename T>
void require_close(const T* got, const T* want, int64_t n, const std::string& what,
                   double atol = tol<T>().first, double rtol = tol<T>().second) {
  int64_t bad = 0, worst = -1;
  for (int64_t i = 0; i < n; ++i) {
    bool ok;
    if constexpr (std::is_floating_point_v<T>) {
      const double g = got[i], w = want[i];
      if (std::isnan(w)) ok = std::isnan(g);
      else if (std::isinf(w)) ok = g == w;
      else ok = std::fabs(g - w) <= atol + rtol * std::fabs(w);
    } else {
      ok = got[i] == want[i];
    }
    if (!ok && bad++ == 0) worst = i;
  }
  std::ostringstream os;
  os << what << ": " << bad << " of " << n << " elements differ";
  if (worst >= 0)
    os << "; first at " << worst << ": got " << +got[worst] << ", expected " << +want[worst];
  INFO(os.str());
  REQUIRE(bad == 0);
}

// ---- layouts -------------------------------------------------------------------
enum class LK { Contig, Transposed, Stepped, Expanded, SizeOne };
const char* lk_name(LK k) {
  switch (k) {
    case LK::Contig: return "contig";
    case LK::Transposed: return "transposed";
    case LK::Stepped: return "stepped";
    case LK::Expanded: return "expanded";
    case LK::SizeOne: return "size1";
  }
  return "?";
}

// A layout of `sizes` of the given kind. Transposed: column-major strides;
// Stepped: every dim strided by 2 (a slice [::2] of a bigger tensor); Expanded:
// even dims broadcast with stride 0; SizeOne: odd dims have size 1 (to be
// broadcast against the other operands' sizes).
Layout make_layout(const Sizes& sizes, LK k) {
  const int nd = static_cast<int>(sizes.size());
  Sizes sz = sizes, st(nd);
  int64_t s = 1;
  switch (k) {
    case LK::Contig:
      for (int d = nd - 1; d >= 0; --d) st[d] = s, s *= std::max<int64_t>(1, sz[d]);
      break;
    case LK::Transposed:
      for (int d = 0; d < nd; ++d) st[d] = s, s *= std::max<int64_t>(1, sz[d]);
      break;
    case LK::Stepped:
      s = 2;
      for (int d = nd - 1; d >= 0; --d) st[d] = s, s *= 2 * std::max<int64_t>(1, sz[d]);
      break;
    case LK::Expanded:
      for (int d = nd - 1; d >= 0; --d) {
        st[d] = d % 2 == 0 ? 0 : s;
        if (d % 2) s *= std::max<int64_t>(1, sz[d]);
      }
      break;
    case LK::SizeOne:
      for (int d = 0; d < nd; ++d)
        if (d % 2) sz[d] = 1;
      for (int d = nd - 1; d >= 0; --d) st[d] = s, s *= std::max<int64_t>(1, sz[d]);
      break;
  }
  return Layout::strided(sz, st);
}

// Elements of storage a layout touches (0 for an empty one).
int64_t span(const Layout& l) {
  if (l.numel() == 0) return 0;
  int64_t s = 1;
  for (int d = 0; d < l.ndim; ++d) s += (l.sizes[d] - 1) * l.strides[d];
  return s;
}

const std::vector<Sizes> kShapes = {
    {}, {1}, {7}, {13, 127}, {0}, {4, 0, 3}, {3, 5, 7, 2}, {1, 1, 1}, {41, 1031},  // 42271 > 32768
};
bool is_large(const Sizes& s) {
  int64_t n = 1;
  for (auto v : s) n *= v;
  return n > 40000;
}

}  // namespace

// =====================================================================================
TEST_CASE("cpu backend: registration, names, memory", "[kernels][cpu]") {
  REQUIRE(&gk::backend(galen::DeviceType::CPU) == &cpu());
  REQUIRE(std::string(cpu().name()) == "cpu");
  REQUIRE(std::string(ref().name()) == "ref");
  REQUIRE(cpu().type() == galen::DeviceType::CPU);
  REQUIRE(cpu().device_count() == 1);
  for (size_t n : {size_t(0), size_t(1), size_t(63), size_t(64), size_t(1000), size_t(1 << 20)}) {
    for (gk::Backend* b : {&cpu(), &ref()}) {
      void* p = b->allocate(n, 0);
      REQUIRE(p != nullptr);
      REQUIRE(reinterpret_cast<uintptr_t>(p) % 64 == 0);
      std::vector<uint8_t> src(n + 1, 7), back(n + 1, 0);
      b->copy_from_host(p, src.data(), n, 0);
      void* q = b->allocate(n, 0);
      b->copy_device(q, p, n, 0);
      b->copy_to_host(back.data(), q, n, 0);
      b->synchronize(0);
      REQUIRE(std::memcmp(src.data(), back.data(), n) == 0);
      b->deallocate(q, n, 0);
      b->deallocate(p, n, 0);
    }
  }
}

TEST_CASE("cpu copy: every dtype pair, strided, broadcast and strided destinations", "[kernels][cpu]") {
  for (DType sdt : kAllTypes)
    for (DType ddt : kAllTypes)
      with_type(sdt, [&](auto s) {
        using S = decltype(s);
        with_type(ddt, [&](auto d) {
          using D = decltype(d);
          for (const Sizes& sz : kShapes) {
            const bool big = is_large(sz);
            for (LK sk : {LK::Contig, LK::Transposed, LK::Stepped, LK::Expanded}) {
              for (LK dk : {LK::Contig, LK::Transposed, LK::Stepped}) {
                if (big && sdt != ddt && (sk != LK::Contig || dk != LK::Contig)) continue;
                const Layout sl = make_layout(sz, sk), dl = make_layout(sz, dk);
                // Float -> integer is only defined for representable values.
                constexpr bool f2i = std::is_floating_point_v<S> && !std::is_floating_point_v<D> &&
                                     !std::is_same_v<D, bool>;
                const auto src = f2i ? random_buf<S>(span(sl), 0, 250)
                                     : random_buf<S>(span(sl), -300, 300, true);
                auto dc = random_buf<D>(span(dl));  // untouched elements must survive
                auto dr = dc;
                cpu().copy(sdt, src.p(), sl, ddt, dc.p(), dl);
                ref().copy(sdt, src.p(), sl, ddt, dr.p(), dl);
                require_close(dc.p(), dr.p(), dc.size(),
                              std::string("copy ") + galen::dtype_name(sdt) + "->" +
                                  galen::dtype_name(ddt) + " " + shape_s(sz) + " " + lk_name(sk) +
                                  "->" + lk_name(dk));
              }
            }
          }
        });
      });
  // Spot values: truncation toward zero, bool is "!= 0" (NaN -> true).
  const double in[] = {2.7, -2.7, 0.0, kNaN, -0.0, 0.25};
  const Layout l = Layout::contiguous({6});
  int32_t oi[6];
  cpu().copy(DType::f64, in, l, DType::i32, oi, l);
  REQUIRE((oi[0] == 2 && oi[1] == -2 && oi[2] == 0 && oi[5] == 0));
  uint8_t ob[6];
  cpu().copy(DType::f64, in, l, DType::boolean, ob, l);
  REQUIRE((ob[0] == 1 && ob[1] == 1 && ob[2] == 0 && ob[3] == 1 && ob[4] == 0 && ob[5] == 1));
}

TEST_CASE("cpu fill: every dtype, empty and large", "[kernels][cpu]") {
  for (DType dt : kAllTypes)
    with_type(dt, [&](auto tag) {
      using T = decltype(tag);
      for (int64_t n : {0, 1, 7, 1031, 100003})
        for (double v : {0.0, 1.0, -2.5, 3.0}) {
          Buf<T> c(n), r(n);
          cpu().fill(dt, c.p(), n, v);
          ref().fill(dt, r.p(), n, v);
          require_close(c.p(), r.p(), n, std::string("fill ") + galen::dtype_name(dt));
        }
    });
  float f[3];
  cpu().fill(DType::f32, f, 3, kNaN);
  REQUIRE(std::isnan(f[2]));
}

TEST_CASE("cpu unary: every op and dtype on odd, strided and broadcast inputs", "[kernels][cpu]") {
  const UnaryOp ops[] = {UnaryOp::Neg, UnaryOp::Abs, UnaryOp::Exp, UnaryOp::Log,
                         UnaryOp::Sqrt, UnaryOp::Rsqrt, UnaryOp::Sigmoid, UnaryOp::Tanh,
                         UnaryOp::Relu, UnaryOp::Gelu, UnaryOp::PowScalar, UnaryOp::Sign,
                         UnaryOp::Square, UnaryOp::Reciprocal, UnaryOp::GeluGrad, UnaryOp::Step};
  int ran = 0;
  for (UnaryOp op : ops)
    for (DType dt : kAllTypes) {
      if (!gk::dispatch::supports(gk::dispatch::unary_types(op), dt)) {
        float x = 1, o = 0;
        const Layout l = Layout::contiguous({1});
        REQUIRE_THROWS_AS(cpu().unary(op, dt, &x, l, &o, 2.0), galen::Error);
        REQUIRE_THROWS_AS(ref().unary(op, dt, &x, l, &o, 2.0), galen::Error);
        continue;
      }
      with_type(dt, [&](auto tag) {
        using T = decltype(tag);
        for (const Sizes& sz : kShapes)
          for (LK k : {LK::Contig, LK::Transposed, LK::Stepped, LK::Expanded}) {
            if (is_large(sz) && k == LK::Stepped) continue;
            const Layout xl = make_layout(sz, k);
            const auto x = random_buf<T>(span(xl), -4, 4, true);
            for (double s : op == UnaryOp::PowScalar ? std::vector<double>{2.0, 0.5, -1.5, 3.0, 1.0}
                                                     : std::vector<double>{0.0}) {
              Buf<T> c(xl.numel()), r(xl.numel());
              cpu().unary(op, dt, x.p(), xl, c.p(), s);
              ref().unary(op, dt, x.p(), xl, r.p(), s);
              require_close(c.p(), r.p(), xl.numel(),
                            std::string(gk::unary_name(op)) + " " + galen::dtype_name(dt) + " " +
                                shape_s(sz) + " " + lk_name(k) + " s=" + std::to_string(s));
              ++ran;
            }
          }
      });
    }
  REQUIRE(ran > 500);
  // Spot semantics.
  const double in[] = {-1.5, 0.0, 2.0, kNaN};
  const Layout l = Layout::contiguous({4});
  double o[4];
  cpu().unary(UnaryOp::Sign, DType::f64, in, l, o, 0);
  REQUIRE((o[0] == -1 && o[1] == 0 && o[2] == 1 && std::isnan(o[3])));
  cpu().unary(UnaryOp::Step, DType::f64, in, l, o, 0);
  REQUIRE((o[0] == 0 && o[1] == 0 && o[2] == 1 && o[3] == 0));
  cpu().unary(UnaryOp::Relu, DType::f64, in, l, o, 0);
  REQUIRE((o[0] == 0 && o[1] == 0 && o[2] == 2 && std::isnan(o[3])));
  cpu().unary(UnaryOp::Gelu, DType::f64, in, l, o, 0);
  REQUIRE(o[2] == Approx(2.0 * 0.5 * (1 + std::erf(2.0 / std::sqrt(2.0)))).epsilon(1e-15));
  REQUIRE(o[0] == Approx(-1.5 * 0.5 * (1 + std::erf(-1.5 / std::sqrt(2.0)))).epsilon(1e-14));
  // gelu'(x) against a central difference of gelu.
  for (double x0 : {-2.0, -0.3, 0.0, 0.7, 3.0}) {
    const double h = 1e-6, xs[3] = {x0 - h, x0 + h, x0};
    double g[3], gg[3];
    const Layout l3 = Layout::contiguous({3});
    cpu().unary(UnaryOp::Gelu, DType::f64, xs, l3, g, 0);
    cpu().unary(UnaryOp::GeluGrad, DType::f64, xs, l3, gg, 0);
    REQUIRE(gg[2] == Approx((g[1] - g[0]) / (2 * h)).margin(1e-8));
  }
  int32_t ii[4] = {-7, 0, 5, -1}, io[4];
  cpu().unary(UnaryOp::Abs, DType::i32, ii, l, io, 0);
  REQUIRE((io[0] == 7 && io[1] == 0 && io[2] == 5 && io[3] == 1));
}

TEST_CASE("cpu binary: every op and dtype with strided and broadcast operands", "[kernels][cpu]") {
  const BinaryOp ops[] = {BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div, BinaryOp::Pow,
                          BinaryOp::Maximum, BinaryOp::Minimum, BinaryOp::Eq, BinaryOp::Ne,
                          BinaryOp::Lt, BinaryOp::Le, BinaryOp::Gt, BinaryOp::Ge};
  const LK kinds[] = {LK::Contig, LK::Transposed, LK::Stepped, LK::Expanded, LK::SizeOne};
  int ran = 0;
  for (BinaryOp op : ops)
    for (DType dt : kAllTypes) {
      if (!gk::dispatch::supports(gk::dispatch::binary_types(op), dt)) {
        double a = 1, b = 2, o = 0;
        const Layout l = Layout::contiguous({1});
        REQUIRE_THROWS_AS(cpu().binary(op, dt, &a, l, &b, l, &o), galen::Error);
        REQUIRE_THROWS_AS(ref().binary(op, dt, &a, l, &b, l, &o), galen::Error);
        continue;
      }
      with_type(dt, [&](auto tag) {
        using T = decltype(tag);
        for (const Sizes& sz : kShapes)
          for (LK ka : kinds)
            for (LK kb : kinds) {
              if (ka == LK::SizeOne && kb == LK::SizeOne) continue;
              if (is_large(sz) && !((ka == LK::Contig) || (kb == LK::Contig))) continue;
              const Layout al = make_layout(sz, ka), bl = make_layout(sz, kb);
              // Small values collide often, so comparisons see equal pairs.
              auto a = random_buf<T>(span(al), -2, 2, true);
              auto b = random_buf<T>(span(bl), -2, 2, true);
              if constexpr (std::is_floating_point_v<T>)
                for (auto* buf : {&a, &b})
                  for (auto& v : buf->v) v = static_cast<T>(std::round(v * 2) / 2);
              int64_t n = 1;
              for (auto s : sz) n *= s;
              const std::string what = std::string(gk::binary_name(op)) + " " +
                                       galen::dtype_name(dt) + " " + shape_s(sz) + " " +
                                       lk_name(ka) + "," + lk_name(kb);
              if (gk::is_comparison(op)) {
                Buf<bool> c(n), r(n);
                cpu().binary(op, dt, a.p(), al, b.p(), bl, c.p());
                ref().binary(op, dt, a.p(), al, b.p(), bl, r.p());
                require_close(c.p(), r.p(), n, what);
              } else {
                Buf<T> c(n), r(n);
                cpu().binary(op, dt, a.p(), al, b.p(), bl, c.p());
                ref().binary(op, dt, a.p(), al, b.p(), bl, r.p());
                require_close(c.p(), r.p(), n, what);
              }
              ++ran;
            }
      });
    }
  REQUIRE(ran > 2000);
  // NaN propagation of maximum/minimum (either side), like torch.maximum.
  const double a[] = {1, kNaN, 3, kNaN}, b[] = {kNaN, 2, 1, kNaN};
  const Layout l = Layout::contiguous({4});
  double o[4];
  cpu().binary(BinaryOp::Maximum, DType::f64, a, l, b, l, o);
  REQUIRE((std::isnan(o[0]) && std::isnan(o[1]) && o[2] == 3 && std::isnan(o[3])));
  cpu().binary(BinaryOp::Minimum, DType::f64, a, l, b, l, o);
  REQUIRE((std::isnan(o[0]) && std::isnan(o[1]) && o[2] == 1 && std::isnan(o[3])));
  // Broadcast through size-1 dims: (3,1) + (1,4) -> (3,4).
  const float col[] = {1, 2, 3}, row[] = {10, 20, 30, 40};
  float out[12];
  cpu().binary(BinaryOp::Add, DType::f32, col, Layout::contiguous({3, 1}), row,
               Layout::contiguous({1, 4}), out);
  REQUIRE((out[0] == 11 && out[3] == 41 && out[4] == 12 && out[11] == 43));
}

TEST_CASE("cpu where: every dtype, broadcast condition and operands", "[kernels][cpu]") {
  for (DType dt : kAllTypes)
    with_type(dt, [&](auto tag) {
      using T = decltype(tag);
      for (const Sizes& sz : kShapes)
        for (LK kc : {LK::Contig, LK::Expanded, LK::SizeOne, LK::Transposed})
          for (LK ka : {LK::Contig, LK::Stepped, LK::SizeOne})
            for (LK kb : {LK::Contig, LK::Expanded, LK::Transposed}) {
              if (is_large(sz) && kc != LK::Contig) continue;
              const Layout cl = make_layout(sz, kc), al = make_layout(sz, ka), bl = make_layout(sz, kb);
              const auto c = random_buf<bool>(span(cl));
              const auto a = random_buf<T>(span(al)), b = random_buf<T>(span(bl));
              int64_t n = 1;
              for (auto s : sz) n *= s;
              Buf<T> oc(n), orf(n);
              cpu().where(dt, c.p(), cl, a.p(), al, b.p(), bl, oc.p());
              ref().where(dt, c.p(), cl, a.p(), al, b.p(), bl, orf.p());
              require_close(oc.p(), orf.p(), n,
                            std::string("where ") + galen::dtype_name(dt) + " " + shape_s(sz) +
                                " " + lk_name(kc) + "," + lk_name(ka) + "," + lk_name(kb));
            }
    });
}

TEST_CASE("cpu clamp: numeric dtypes, infinite / crossed bounds, NaN passes", "[kernels][cpu]") {
  const std::pair<double, double> bounds[] = {{-1, 1}, {-kInf, 0.5}, {0.5, kInf}, {2, 1},
                                              {-kInf, kInf}, {-10, 300}, {300, kInf}};
  for (DType dt : {DType::f32, DType::f64, DType::i32, DType::i64, DType::u8})
    with_type(dt, [&](auto tag) {
      using T = decltype(tag);
      for (int64_t n : {0, 1, 7, 1031, 70001})
        for (auto [lo, hi] : bounds) {
          const auto x = random_buf<T>(n, -3, 3, true);
          Buf<T> c(n), r(n);
          cpu().clamp(dt, x.p(), n, lo, hi, c.p());
          ref().clamp(dt, x.p(), n, lo, hi, r.p());
          require_close(c.p(), r.p(), n,
                        std::string("clamp ") + galen::dtype_name(dt) + " [" + std::to_string(lo) +
                            "," + std::to_string(hi) + "] n=" + std::to_string(n));
        }
    });
  const double x[] = {kNaN, -5, 5, 0.3};
  double o[4];
  cpu().clamp(DType::f64, x, 4, -1, 1, o);
  REQUIRE((std::isnan(o[0]) && o[1] == -1 && o[2] == 1 && o[3] == 0.3));
  bool bx = true, bo;
  REQUIRE_THROWS_AS(cpu().clamp(DType::boolean, &bx, 1, 0, 1, &bo), galen::Error);
}

TEST_CASE("cpu reduce: every op and dtype, row and column paths, NaN and ties", "[kernels][cpu]") {
  struct Shape3 {
    int64_t outer, len, inner;
  };
  const Shape3 shapes[] = {{1, 1, 1},    {1, 7, 1},     {3, 13, 1},    {1, 1031, 1},
                           {2, 127, 5},  {13, 7, 127},  {2, 9, 300},   {1, 100003, 1},
                           {3, 40000, 1}, {4, 100, 1031}, {5, 1, 7},   {0, 5, 3},
                           {4, 0, 3},    {2, 3, 0}};
  const ReduceOp ops[] = {ReduceOp::Sum, ReduceOp::Prod, ReduceOp::Max,
                          ReduceOp::Min, ReduceOp::ArgMax, ReduceOp::ArgMin};
  for (ReduceOp op : ops)
    for (DType dt : {DType::f32, DType::f64, DType::i32, DType::i64, DType::u8})
      with_type(dt, [&](auto tag) {
        using T = decltype(tag);
        for (const auto& s : shapes) {
          const int64_t n = s.outer * s.len * s.inner, m = s.outer * s.inner;
          const std::string what = std::string(gk::reduce_name(op)) + " " + galen::dtype_name(dt) +
                                   " (" + std::to_string(s.outer) + "," + std::to_string(s.len) +
                                   "," + std::to_string(s.inner) + ")";
          const bool extreme = op != ReduceOp::Sum && op != ReduceOp::Prod;
          if (extreme && s.len == 0 && m > 0) {
            Buf<T> x(1), o(m);
            Buf<int64_t> idx(m);
            REQUIRE_THROWS_AS(cpu().reduce(op, dt, x.p(), s.outer, 0, s.inner, o.p(), idx.p()), galen::Error);
            REQUIRE_THROWS_AS(ref().reduce(op, dt, x.p(), s.outer, 0, s.inner, o.p(), idx.p()), galen::Error);
            continue;
          }
          if (op == ReduceOp::Prod && s.len > 2000) continue;
          Buf<T> x;
          if (op == ReduceOp::Prod) {
            x = std::is_floating_point_v<T> ? random_buf<T>(n, 0.5, 1.5) : random_buf<T>(n, -0.1, 0.1);
          } else if (extreme && std::is_floating_point_v<T>) {
            // Integer-valued floats: many ties (first index must win); a few NaNs.
            x = random_buf<T>(n, -5, 5);
            for (auto& v : x.v) v = static_cast<T>(std::round(v));
            for (int64_t i = 17; i < n; i += 997) x.v[i] = static_cast<T>(kNaN);
          } else {
            x = random_buf<T>(n, -5, 5);
          }
          Buf<T> oc(m), orf(m);
          Buf<int64_t> ic(m), ir(m);
          const bool want_out = op != ReduceOp::ArgMax && op != ReduceOp::ArgMin;
          for (bool with_idx : {true, false}) {
            if (!extreme && with_idx) continue;
            if (!want_out && !with_idx) continue;
            cpu().reduce(op, dt, x.p(), s.outer, s.len, s.inner, want_out ? oc.p() : nullptr,
                         with_idx ? ic.p() : nullptr);
            ref().reduce(op, dt, x.p(), s.outer, s.len, s.inner, want_out ? orf.p() : nullptr,
                         with_idx ? ir.p() : nullptr);
            if (want_out) {
              // A long f32 sum: ref accumulates in double; allow 1e-5 relative.
              require_close(oc.p(), orf.p(), m, what, tol<T>().first,
                            std::is_same_v<T, double> ? 1e-12 : tol<T>().second);
            }
            if (with_idx) require_close(ic.p(), ir.p(), m, what + " indices");
          }
        }
      });
  // f32 sum of 1e6 values (row path and split path) within 1e-5 of ref.
  for (int64_t outer : {1, 3}) {
    const int64_t len = 1000000;
    auto x = random_buf<float>(outer * len, 0, 1);
    Buf<float> c(outer), r(outer);
    cpu().reduce(ReduceOp::Sum, DType::f32, x.p(), outer, len, 1, c.p(), nullptr);
    ref().reduce(ReduceOp::Sum, DType::f32, x.p(), outer, len, 1, r.p(), nullptr);
    require_close(c.p(), r.p(), outer, "sum f32 1e6", 0, 1e-6);
  }
  // Hand-checked NaN / tie rules.
  const float v[] = {1, kNaN, 3, kNaN, 3};
  float mx;
  int64_t im;
  cpu().reduce(ReduceOp::Max, DType::f32, v, 1, 5, 1, &mx, &im);
  REQUIRE((std::isnan(mx) && im == 1));
  cpu().reduce(ReduceOp::ArgMin, DType::f32, v, 1, 5, 1, nullptr, &im);
  REQUIRE(im == 1);
  const float t[] = {1, 3, 2, 3, 0, 0};
  cpu().reduce(ReduceOp::ArgMax, DType::f32, t, 1, 6, 1, nullptr, &im);
  REQUIRE(im == 1);
  cpu().reduce(ReduceOp::ArgMin, DType::f32, t, 1, 6, 1, nullptr, &im);
  REQUIRE(im == 4);
  // Empty dim: sum 0, prod 1.
  float s0 = 5, p0 = 5;
  cpu().reduce(ReduceOp::Sum, DType::f32, v, 1, 0, 1, &s0, nullptr);
  cpu().reduce(ReduceOp::Prod, DType::f32, v, 1, 0, 1, &p0, nullptr);
  REQUIRE((s0 == 0 && p0 == 1));
  bool b = true;
  REQUIRE_THROWS_AS(cpu().reduce(ReduceOp::Sum, DType::boolean, &b, 1, 1, 1, &b, nullptr), galen::Error);
}

TEST_CASE("cpu softmax and its backward: log and plain, stable for large inputs", "[kernels][cpu]") {
  struct RC {
    int64_t rows, cols;
  };
  for (DType dt : {DType::f32, DType::f64})
    with_type(dt, [&](auto tag) {
      using T = decltype(tag);
      if constexpr (std::is_floating_point_v<T>) {
        for (RC s : {RC{1, 1}, RC{7, 13}, RC{3, 1031}, RC{127, 300}, RC{0, 5}, RC{4, 0}, RC{1, 100003}})
          for (bool log : {false, true}) {
            const int64_t n = s.rows * s.cols;
            auto x = random_buf<T>(n, -10, 10);
            if (n > 3) x.v[1] = 1000, x.v[2] = 1001, x.v[3] = -1000;  // needs the max shift
            Buf<T> yc(n), yr(n);
            cpu().softmax(dt, x.p(), s.rows, s.cols, yc.p(), log);
            ref().softmax(dt, x.p(), s.rows, s.cols, yr.p(), log);
            const std::string what = std::string(log ? "log_softmax " : "softmax ") +
                                     galen::dtype_name(dt) + " " + std::to_string(s.rows) + "x" +
                                     std::to_string(s.cols);
            require_close(yc.p(), yr.p(), n, what);
            for (int64_t i = 0; i < n; ++i) REQUIRE(std::isfinite(static_cast<double>(yr.p()[i])));
            const auto gy = random_buf<T>(n, -1, 1);
            Buf<T> gc(n), gr(n);
            cpu().softmax_backward(dt, yr.p(), gy.p(), s.rows, s.cols, gc.p(), log);
            ref().softmax_backward(dt, yr.p(), gy.p(), s.rows, s.cols, gr.p(), log);
            require_close(gc.p(), gr.p(), n, what + " backward");
          }
      }
    });
  int32_t xi = 0, yi = 0;
  REQUIRE_THROWS_AS(cpu().softmax(DType::i32, &xi, 1, 1, &yi, false), galen::Error);
  REQUIRE_THROWS_AS(cpu().softmax_backward(DType::i64, &xi, &xi, 1, 1, &yi, true), galen::Error);
}

// ---- gemm ---------------------------------------------------------------------------
namespace {

struct GemmCase {
  bool ta, tb;
  int64_t M, N, K, batch;
  int64_t pad;        // leading dims are the width + pad
  bool bcast_a, bcast_b;  // batch stride 0
  double alpha, beta;
};

template <typename T>
void run_gemm_case(const GemmCase& g, DType dt, const std::string& variant) {
  const int64_t arows = g.ta ? g.K : g.M, acols = g.ta ? g.M : g.K;
  const int64_t brows = g.tb ? g.N : g.K, bcols = g.tb ? g.K : g.N;
  const int64_t lda = acols + g.pad, ldb = bcols + g.pad, ldc = g.N + g.pad;
  const int64_t sa = g.bcast_a ? 0 : arows * lda + 3, sb = g.bcast_b ? 0 : brows * ldb + 1;
  const int64_t sc = g.M * ldc + 2;
  const int64_t na = (g.bcast_a ? 1 : g.batch) * (arows * lda + 3);
  const int64_t nb = (g.bcast_b ? 1 : g.batch) * (brows * ldb + 1);
  const int64_t nc = g.batch * sc;
  const auto A = random_buf<T>(na, -1, 1), B = random_buf<T>(nb, -1, 1);
  auto Cc = random_buf<T>(nc, -1, 1);
  if (g.beta == 0)
    for (auto& v : Cc.v) v = static_cast<T>(kNaN);  // beta == 0 must not read C
  auto Cr = Cc;
  cpu().set_variant("gemm", variant);
  cpu().gemm(dt, g.ta, g.tb, g.M, g.N, g.K, g.alpha, A.p(), lda, sa, B.p(), ldb, sb, g.beta,
             Cc.p(), ldc, sc, g.batch);
  ref().gemm(dt, g.ta, g.tb, g.M, g.N, g.K, g.alpha, A.p(), lda, sa, B.p(), ldb, sb, g.beta,
             Cr.p(), ldc, sc, g.batch);
  cpu().set_variant("gemm", "openblas");
  // Padding elements of C (beyond N in each row) must be untouched: compare all of C.
  // NaN padding stays NaN on both sides.
  std::ostringstream os;
  os << "gemm[" << variant << "] " << galen::dtype_name(dt) << " ta=" << g.ta << " tb=" << g.tb
     << " M=" << g.M << " N=" << g.N << " K=" << g.K << " batch=" << g.batch << " pad=" << g.pad
     << " bcast=" << g.bcast_a << g.bcast_b << " alpha=" << g.alpha << " beta=" << g.beta;
  const double atol = std::is_same_v<T, float> ? 1e-6 * (g.K + 1) : 1e-13 * (g.K + 1);
  require_close(Cc.p(), Cr.p(), nc, os.str(), atol, tol<T>().second);
  if (g.beta == 0 && g.M * g.N > 0 && g.batch > 0)
    REQUIRE(!std::isnan(static_cast<double>(Cc.p()[0])));
}

}  // namespace

TEST_CASE("cpu gemm: every variant, trans flags, padding, batch broadcast, empty dims", "[kernels][cpu]") {
  REQUIRE(cpu().variants("gemm") == std::vector<std::string>{"openblas", "naive"});
  REQUIRE(cpu().variant("gemm") == "openblas");
  std::vector<GemmCase> cases;
  const int64_t dims[][3] = {{1, 1, 1}, {7, 13, 5}, {13, 1, 7}, {1, 127, 13}, {31, 17, 1031},
                             {0, 5, 3}, {5, 0, 3}, {5, 3, 0}, {64, 96, 80}};
  const std::pair<double, double> ab[] = {{1, 0}, {0.5, 2}, {-1, 1}};
  for (auto& d : dims)
    for (int t = 0; t < 4; ++t)
      for (auto [alpha, beta] : ab)
        for (int64_t batch : {1, 3})
          for (int64_t pad : {0, 3}) {
            const bool bc = batch > 1 && (t % 2 == 0);
            cases.push_back({bool(t & 1), bool(t & 2), d[0], d[1], d[2], batch, pad, bc,
                             batch > 1 && !bc, alpha, beta});
          }
  // Many small matrices (the batch-parallel path) and a batch of zero.
  cases.push_back({false, false, 8, 9, 10, 600, 1, false, false, 1, 0});
  cases.push_back({true, true, 8, 9, 10, 600, 0, false, true, 0.5, 1});
  cases.push_back({false, true, 4, 5, 6, 0, 0, false, false, 1, 0});
  for (const std::string& v : cpu().variants("gemm"))
    for (const auto& g : cases) {
      run_gemm_case<float>(g, DType::f32, v);
      run_gemm_case<double>(g, DType::f64, v);
    }
  // Unsupported dtypes on every variant; unknown variants and primitives throw.
  int32_t a = 1, b = 1, c = 0;
  for (const std::string& v : cpu().variants("gemm")) {
    cpu().set_variant("gemm", v);
    REQUIRE(cpu().variant("gemm") == v);
    REQUIRE_THROWS_AS(cpu().gemm(DType::i32, false, false, 1, 1, 1, 1, &a, 1, 0, &b, 1, 0, 0, &c, 1, 0, 1),
                      galen::Error);
  }
  cpu().set_variant("gemm", "openblas");
  REQUIRE_THROWS_AS(cpu().set_variant("gemm", "cublas"), galen::Error);
  REQUIRE_THROWS_AS(cpu().set_variant("conv", "openblas"), galen::Error);
  REQUIRE(cpu().variant("gemm") == "openblas");
  REQUIRE(cpu().variants("conv").empty());
  // Hand-checked 2x2: [[1,2],[3,4]] @ [[5,6],[7,8]] = [[19,22],[43,50]].
  const double A[] = {1, 2, 3, 4}, B[] = {5, 6, 7, 8};
  double C[4];
  cpu().gemm(DType::f64, false, false, 2, 2, 2, 1, A, 2, 0, B, 2, 0, 0, C, 2, 0, 1);
  REQUIRE((C[0] == 19 && C[1] == 22 && C[2] == 43 && C[3] == 50));
}

// ---- indexing ------------------------------------------------------------------------
TEST_CASE("cpu index_select and index_add: all dtypes, duplicate indices", "[kernels][cpu]") {
  struct IS {
    int64_t outer, dim, inner, n;
  };
  const IS shapes[] = {{1, 1, 1, 1}, {3, 7, 13, 5}, {2, 13, 1, 40}, {0, 3, 2, 4},
                       {3, 5, 2, 0}, {4, 13, 1031, 17}, {1031, 7, 1, 29}};
  for (DType dt : kAllTypes)
    with_type(dt, [&](auto tag) {
      using T = decltype(tag);
      for (const auto& s : shapes)
        for (bool all_same : {false, true}) {
          std::vector<int64_t> idx(std::max<int64_t>(s.n, 1));
          for (auto& i : idx) i = all_same ? s.dim - 1 : int64_t(rng()() % s.dim);
          const std::string what = galen::dtype_name(dt) + std::string(" (") +
                                   std::to_string(s.outer) + "," + std::to_string(s.dim) + "," +
                                   std::to_string(s.inner) + ") n=" + std::to_string(s.n) +
                                   (all_same ? " one index" : "");
          const auto x = random_buf<T>(s.outer * s.dim * s.inner);
          const int64_t no = s.outer * s.n * s.inner;
          Buf<T> oc(no), orf(no);
          cpu().index_select(dt, x.p(), s.outer, s.dim, s.inner, idx.data(), s.n, oc.p());
          ref().index_select(dt, x.p(), s.outer, s.dim, s.inner, idx.data(), s.n, orf.p());
          require_close(oc.p(), orf.p(), no, "index_select " + what);
          if (dt == DType::boolean) {
            REQUIRE_THROWS_AS(cpu().index_add(dt, oc.p(), s.outer, s.dim, s.inner, idx.data(), s.n, x.p()), galen::Error);
            continue;
          }
          const auto src = random_buf<T>(no);
          auto dc = random_buf<T>(s.outer * s.dim * s.inner);
          auto dr = dc;
          cpu().index_add(dt, dc.p(), s.outer, s.dim, s.inner, idx.data(), s.n, src.p());
          ref().index_add(dt, dr.p(), s.outer, s.dim, s.inner, idx.data(), s.n, src.p());
          require_close(dc.p(), dr.p(), dc.size(), "index_add " + what, 1e-5, 1e-6);
        }
    });
  // Duplicates accumulate: three adds into row 0.
  double dst[2] = {0, 0};
  const double src[3] = {1, 2, 4};
  const int64_t idx[3] = {0, 0, 0};
  cpu().index_add(DType::f64, dst, 1, 2, 1, idx, 3, src);
  REQUIRE((dst[0] == 7 && dst[1] == 0));
}

TEST_CASE("cpu gather and scatter_add: every axis, strided operands, duplicates", "[kernels][cpu]") {
  struct GS {
    Sizes x, idx;
  };
  const GS shapes[] = {{{1}, {1}},           {{7}, {13}},          {{5, 7}, {5, 3}},
                       {{13, 11}, {4, 11}},  {{3, 5, 7}, {2, 5, 4}}, {{4, 0, 3}, {4, 0, 3}},
                       {{41, 1031}, {41, 1031}}, {{3, 1031, 17}, {3, 700, 17}}};
  for (DType dt : kAllTypes)
    with_type(dt, [&](auto tag) {
      using T = decltype(tag);
      for (const auto& s : shapes)
        for (int axis = 0; axis < int(s.x.size()); ++axis) {
          Sizes isz = s.idx;
          for (int d = 0; d < int(isz.size()); ++d)  // index may be smaller off-axis
            if (d != axis) isz[d] = std::min(isz[d], s.x[d]);
          if (s.x[axis] == 0) continue;  // nothing valid to index with
          for (LK xk : {LK::Contig, LK::Transposed})
            for (LK ik : {LK::Contig, LK::Transposed, LK::Stepped}) {
              const Layout xl = make_layout(s.x, xk), il = make_layout(isz, ik);
              const auto x = random_buf<T>(span(xl));
              std::vector<int64_t> index(std::max<int64_t>(span(il), 1));
              for (auto& v : index) v = int64_t(rng()() % s.x[axis]);
              const int64_t n = il.numel();
              const std::string what = std::string(galen::dtype_name(dt)) + " x" + shape_s(s.x) +
                                       " idx" + shape_s(isz) + " axis " + std::to_string(axis) +
                                       " " + lk_name(xk) + "," + lk_name(ik);
              Buf<T> oc(n), orf(n);
              cpu().gather(dt, x.p(), xl, axis, index.data(), il, oc.p());
              ref().gather(dt, x.p(), xl, axis, index.data(), il, orf.p());
              require_close(oc.p(), orf.p(), n, "gather " + what);
              if (dt == DType::boolean) continue;
              // scatter_add into x's layout (dst may be transposed), src strided or broadcast.
              for (LK sk : {LK::Contig, LK::Stepped, LK::Expanded}) {
                const Layout sl = make_layout(isz, sk);
                const auto src = random_buf<T>(span(sl));
                auto dc = random_buf<T>(span(xl));
                auto dr = dc;
                cpu().scatter_add(dt, dc.p(), xl, axis, index.data(), il, src.p(), sl);
                ref().scatter_add(dt, dr.p(), xl, axis, index.data(), il, src.p(), sl);
                require_close(dc.p(), dr.p(), dc.size(), "scatter_add " + what + "," + lk_name(sk),
                              1e-5, 1e-6);
              }
            }
        }
    });
  // Duplicates accumulate; a different column is untouched.
  float dst[4] = {0, 0, 0, 0};  // (2,2)
  const float src[4] = {1, 2, 3, 4};
  const int64_t index[4] = {0, 1, 0, 1};  // (2,2) along axis 0
  const Layout l = Layout::contiguous({2, 2});
  cpu().scatter_add(DType::f32, dst, l, 0, index, l, src, l);
  REQUIRE((dst[0] == 4 && dst[1] == 0 && dst[2] == 0 && dst[3] == 6));
  bool bd[4] = {};
  REQUIRE_THROWS_AS(cpu().scatter_add(DType::boolean, bd, l, 0, index, l, bd, l), galen::Error);
}

TEST_CASE("cpu minmax_i64", "[kernels][cpu]") {
  for (int64_t n : {1, 7, 1031, 100003}) {
    std::vector<int64_t> x(n);
    for (auto& v : x) v = int64_t(rng()()) >> 3;
    x[n / 2] = std::numeric_limits<int64_t>::min();
    int64_t a, b, c, d;
    cpu().minmax_i64(x.data(), n, &a, &b);
    ref().minmax_i64(x.data(), n, &c, &d);
    REQUIRE((a == c && b == d));
    REQUIRE(a == std::numeric_limits<int64_t>::min());
  }
}

// ---- random --------------------------------------------------------------------------
TEST_CASE("philox known-answer vectors (Random123)", "[kernels][cpu]") {
  const auto z = gk::philox::block(0, 0, 0);
  REQUIRE((z.x == 0x6627e8d5u && z.y == 0xe169c58du && z.z == 0xbc57ac4cu && z.w == 0x9b00dbd8u));
  const auto f = gk::philox::block(~0ull, ~0ull, ~0ull);
  REQUIRE((f.x == 0x408f276du && f.y == 0x41c83b0eu && f.z == 0xa20bc7c6u && f.w == 0x6d5451fdu));
  const auto p = gk::philox::block(0x85a308d3243f6a88ull, 0x0370734413198a2eull, 0x299f31d0a4093822ull);
  REQUIRE((p.x == 0xd16cfe09u && p.y == 0x94fdccebu && p.z == 0x5001e420u && p.w == 0x24126ea1u));
}

TEST_CASE("cpu random: bit-identical to ref and across thread counts", "[kernels][cpu]") {
  struct RC {
    RandomDist dist;
    DType dt;
    double a, b;
  };
  const RC cases[] = {{RandomDist::Uniform, DType::f32, -2, 3},  {RandomDist::Uniform, DType::f64, 0, 1},
                      {RandomDist::Normal, DType::f32, 1, 2},    {RandomDist::Normal, DType::f64, 0, 1},
                      {RandomDist::RandInt, DType::i32, -5, 17}, {RandomDist::RandInt, DType::i64, 0, 1e12},
                      {RandomDist::RandInt, DType::u8, 0, 256},  {RandomDist::RandInt, DType::f32, 3, 9},
                      {RandomDist::RandInt, DType::f64, -1, 1}};
  const int saved = galen::get_num_threads();
  for (const auto& c : cases)
    with_type(c.dt, [&](auto tag) {
      using T = decltype(tag);
      for (int64_t n : {1, 13, 1031, 100003})
        for (uint64_t seed : {0ull, 42ull, 0xdeadbeefcafef00dull})
          for (uint64_t offset : {0ull, 7ull, 1ull << 40}) {
            Buf<T> r(n), c1(n), c2(n);
            ref().random(c.dist, c.dt, r.p(), n, seed, offset, c.a, c.b);
            galen::set_num_threads(1);
            cpu().random(c.dist, c.dt, c1.p(), n, seed, offset, c.a, c.b);
            galen::set_num_threads(2);
            cpu().random(c.dist, c.dt, c2.p(), n, seed, offset, c.a, c.b);
            INFO("random " << int(c.dist) << " " << galen::dtype_name(c.dt) << " n=" << n);
            REQUIRE(std::memcmp(r.v.data(), c1.v.data(), n * sizeof(T)) == 0);
            REQUIRE(std::memcmp(r.v.data(), c2.v.data(), n * sizeof(T)) == 0);
            if (n == 100003) {  // the numbers are plausible, not just equal
              double s = 0, s2 = 0, lo = 1e300, hi = -1e300;
              for (int64_t i = 0; i < n; ++i) {
                const double v = static_cast<double>(r.p()[i]);
                s += v, s2 += v * v, lo = std::min(lo, v), hi = std::max(hi, v);
              }
              const double mean = s / n, sd = std::sqrt(s2 / n - mean * mean);
              if (c.dist == RandomDist::Normal) {
                REQUIRE(std::fabs(mean - c.a) < 0.02 * c.b);
                REQUIRE(std::fabs(sd - c.b) < 0.02 * c.b);
              } else {
                REQUIRE(lo >= c.a);
                REQUIRE(hi < c.b);
                REQUIRE(std::fabs(mean - (c.dist == RandomDist::Uniform ? (c.a + c.b) / 2
                                                                         : (c.a + c.b - 1) / 2)) <
                        0.02 * (c.b - c.a));
              }
            }
          }
    });
  galen::set_num_threads(saved);
  // Offsets address the same stream: element i of (offset 7) == element i+7 of (offset 0).
  std::vector<double> a(20), b(13);
  cpu().random(RandomDist::Normal, DType::f64, a.data(), 20, 9, 0, 0, 1);
  cpu().random(RandomDist::Normal, DType::f64, b.data(), 13, 9, 7, 0, 1);
  for (int i = 0; i < 13; ++i) REQUIRE(a[i + 7] == b[i]);
  int32_t oi[4];
  REQUIRE_THROWS_AS(cpu().random(RandomDist::Uniform, DType::i32, oi, 4, 1, 0, 0, 1), galen::Error);
  REQUIRE_THROWS_AS(cpu().random(RandomDist::Normal, DType::i64, oi, 2, 1, 0, 0, 1), galen::Error);
  REQUIRE_THROWS_AS(cpu().random(RandomDist::RandInt, DType::boolean, oi, 4, 1, 0, 0, 2), galen::Error);
  REQUIRE_THROWS_AS(cpu().random(RandomDist::RandInt, DType::i32, oi, 4, 1, 0, 5, 5), galen::Error);
}

TEST_CASE("cpu kernels refuse f16 / bf16 everywhere", "[kernels][cpu]") {
  uint16_t h[4] = {};
  float f[4] = {};
  int64_t idx[4] = {};
  const Layout l = Layout::contiguous({4});
  for (DType dt : {DType::f16, DType::bf16}) {
    REQUIRE_THROWS_AS(cpu().copy(dt, h, l, DType::f32, f, l), galen::Error);
    REQUIRE_THROWS_AS(cpu().copy(DType::f32, f, l, dt, h, l), galen::Error);
    REQUIRE_THROWS_AS(cpu().fill(dt, h, 4, 1), galen::Error);
    REQUIRE_THROWS_AS(cpu().unary(UnaryOp::Neg, dt, h, l, h, 0), galen::Error);
    REQUIRE_THROWS_AS(cpu().binary(BinaryOp::Add, dt, h, l, h, l, h), galen::Error);
    REQUIRE_THROWS_AS(cpu().binary(BinaryOp::Eq, dt, h, l, h, l, h), galen::Error);
    REQUIRE_THROWS_AS(cpu().where(dt, h, l, h, l, h, l, h), galen::Error);
    REQUIRE_THROWS_AS(cpu().clamp(dt, h, 4, 0, 1, h), galen::Error);
    REQUIRE_THROWS_AS(cpu().reduce(ReduceOp::Sum, dt, h, 1, 4, 1, h, nullptr), galen::Error);
    REQUIRE_THROWS_AS(cpu().softmax(dt, h, 1, 4, h, false), galen::Error);
    REQUIRE_THROWS_AS(cpu().gemm(dt, false, false, 2, 2, 1, 1, h, 1, 0, h, 2, 0, 0, f, 2, 0, 1), galen::Error);
    REQUIRE_THROWS_AS(cpu().index_select(dt, h, 1, 4, 1, idx, 1, h), galen::Error);
    REQUIRE_THROWS_AS(cpu().gather(dt, h, l, 0, idx, l, h), galen::Error);
    REQUIRE_THROWS_AS(cpu().random(RandomDist::Uniform, dt, h, 4, 1, 0, 0, 1), galen::Error);
  }
  // The message names the primitive, the device and the dtype.
  try {
    cpu().unary(UnaryOp::Exp, DType::i32, h, l, h, 0);
    FAIL("no throw");
  } catch (const galen::Error& e) {
    const std::string m = e.what();
    REQUIRE(m.find("exp") != std::string::npos);
    REQUIRE(m.find("CPU") != std::string::npos);
    REQUIRE(m.find("i32") != std::string::npos);
  }
}

TEST_CASE("thread control: set/get, invalid counts", "[kernels][cpu]") {
  const int saved = galen::get_num_threads();
  REQUIRE(saved >= 1);
  REQUIRE_THROWS_AS(galen::set_num_threads(0), galen::Error);
  REQUIRE_THROWS_AS(galen::set_num_threads(-3), galen::Error);
  galen::set_num_threads(1);
  REQUIRE(galen::get_num_threads() == 1);
  REQUIRE(omp_get_max_threads() == 1);
  galen::set_num_threads(3);
  REQUIRE(galen::get_num_threads() == 3);
  REQUIRE(omp_get_max_threads() == 3);
  galen::set_num_threads(saved);
  REQUIRE(galen::get_num_threads() == saved);
}
