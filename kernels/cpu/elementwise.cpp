// CPU elementwise families: copy/cast, fill, unary, binary, where, clamp. Each
// family is one generic strided loop (common.h Plan) instantiated with a small
// functor per op; the stride-1 inner loops are plain enough to vectorise.
#include <cmath>
#include <limits>
#include <type_traits>

#include "galen/core/error.h"
#include "galen/kernels/cpu/common.h"
#include "galen/kernels/cpu/cpu_kernels.h"
#include "galen/kernels/ref/dispatch.h"

namespace galen::kernels::cpu {
namespace {

using namespace dispatch;

// Transposed operands (out unit-stride along the last dim, a along the one
// before it, or the reverse): walking either one in order makes the other
// miss the cache on every element, so walk square tiles instead. Returns false
// when the plan has no such pair of dims.
template <typename O, typename A, typename F>
bool map1_tiled(const Plan<2>& p, O* out, const A* a, F f) {
  constexpr int64_t kTile = 16;  // measured: 16 beats 8, 32, 64 on 4096^2 f32
  const int nd = p.ndim;
  if (nd < 2) return false;
  const int64_t R = p.sizes[nd - 2], C = p.sizes[nd - 1];
  const int64_t so_r = p.strides[0][nd - 2], so_c = p.strides[0][nd - 1];
  const int64_t sa_r = p.strides[1][nd - 2], sa_c = p.strides[1][nd - 1];
  const bool transposed = (so_c == 1 && sa_r == 1 && sa_c != 1) || (sa_c == 1 && so_r == 1 && so_c != 1);
  if (!transposed || R < 8 || C < 8) return false;
  const int64_t tr = (R + kTile - 1) / kTile, tc = (C + kTile - 1) / kTile;
  const int64_t outer = p.numel / (R * C), per = tr * tc;
  parallel_for(outer * per, p.numel, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      // Offsets of the leading (outer) dims.
      int64_t rem = t / per, oo = 0, oa = 0;
      for (int d = nd - 3; d >= 0; --d) {
        const int64_t i = rem % p.sizes[d];
        rem /= p.sizes[d];
        oo += i * p.strides[0][d];
        oa += i * p.strides[1][d];
      }
      const int64_t r0 = (t % per) / tc * kTile, c0 = (t % per) % tc * kTile;
      const int64_t r1 = std::min(R, r0 + kTile), c1 = std::min(C, c0 + kTile);
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t c = c0; c < c1; ++c)
          out[oo + r * so_r + c * so_c] = f(a[oa + r * sa_r + c * sa_c]);
    }
  });
  return true;
}

// out = f(a) over a 2-operand plan (operand 0 = out, 1 = a).
template <typename O, typename A, typename F>
void map1(const Plan<2>& p, O* out, const A* a, F f) {
  if (map1_tiled(p, out, a, f)) return;
  const int64_t so = p.inner_stride(0), sa = p.inner_stride(1);
  p.run_parallel([&](const int64_t* off, int64_t n) {
    O* o = out + off[0];
    const A* x = a + off[1];
    if (so == 1 && sa == 1) {
      for (int64_t i = 0; i < n; ++i) o[i] = f(x[i]);
    } else if (so == 1 && sa == 0) {
      const O v = f(x[0]);
      for (int64_t i = 0; i < n; ++i) o[i] = v;
    } else {
      for (int64_t i = 0; i < n; ++i) o[i * so] = f(x[i * sa]);
    }
  });
}

// out = f(a, b) over a 3-operand plan (out contiguous).
template <typename O, typename T, typename F>
void map2(const Plan<3>& p, O* out, const T* a, const T* b, F f) {
  const int64_t sa = p.inner_stride(1), sb = p.inner_stride(2);
  p.run_parallel([&](const int64_t* off, int64_t n) {
    O* o = out + off[0];
    const T* x = a + off[1];
    const T* y = b + off[2];
    if (sa == 1 && sb == 1) {
      for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], y[i]);
    } else if (sa == 1 && sb == 0) {
      const T v = y[0];
      for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], v);
    } else if (sa == 0 && sb == 1) {
      const T v = x[0];
      for (int64_t i = 0; i < n; ++i) o[i] = f(v, y[i]);
    } else {
      for (int64_t i = 0; i < n; ++i) o[i] = f(x[i * sa], y[i * sb]);
    }
  });
}

// ---- unary -------------------------------------------------------------------
template <typename T>
void unary_t(UnaryOp op, const Plan<2>& p, T* o, const T* x, double s) {
  if constexpr (std::is_floating_point_v<T>) {
    const T kSqrt1_2 = static_cast<T>(0.70710678118654752440);
    const T kInvSqrt2Pi = static_cast<T>(0.39894228040143267794);
    const T half = static_cast<T>(0.5), one = 1, zero = 0;
    switch (op) {
      case UnaryOp::Neg: return map1(p, o, x, [](T v) { return -v; });
      case UnaryOp::Abs: return map1(p, o, x, [](T v) { return std::fabs(v); });
      case UnaryOp::Exp: return map1(p, o, x, [](T v) { return std::exp(v); });
      case UnaryOp::Log: return map1(p, o, x, [](T v) { return std::log(v); });
      case UnaryOp::Sqrt: return map1(p, o, x, [](T v) { return std::sqrt(v); });
      case UnaryOp::Rsqrt: return map1(p, o, x, [=](T v) { return one / std::sqrt(v); });
      case UnaryOp::Sigmoid:
        return map1(p, o, x, [=](T v) { return one / (one + std::exp(-v)); });
      case UnaryOp::Tanh: return map1(p, o, x, [](T v) { return std::tanh(v); });
      case UnaryOp::Relu: return map1(p, o, x, [=](T v) { return v < zero ? zero : v; });
      case UnaryOp::Gelu:
        return map1(p, o, x, [=](T v) { return half * v * std::erfc(-v * kSqrt1_2); });
      case UnaryOp::GeluGrad:
        return map1(p, o, x, [=](T v) {
          return half * std::erfc(-v * kSqrt1_2) + v * kInvSqrt2Pi * std::exp(-half * v * v);
        });
      case UnaryOp::PowScalar: {
        const T e = static_cast<T>(s);
        if (s == 2) return map1(p, o, x, [](T v) { return v * v; });
        if (s == 1) return map1(p, o, x, [](T v) { return v; });
        return map1(p, o, x, [=](T v) { return std::pow(v, e); });
      }
      case UnaryOp::Sign:
        return map1(p, o, x, [=](T v) { return v > zero ? one : v < zero ? -one : v == zero ? zero : v; });
      case UnaryOp::Square: return map1(p, o, x, [](T v) { return v * v; });
      case UnaryOp::Reciprocal: return map1(p, o, x, [=](T v) { return one / v; });
      case UnaryOp::Step: return map1(p, o, x, [=](T v) { return v > zero ? one : zero; });
    }
  } else {
    switch (op) {
      case UnaryOp::Neg: return map1(p, o, x, [](T v) { return static_cast<T>(-v); });
      case UnaryOp::Abs: return map1(p, o, x, [](T v) { return static_cast<T>(v < 0 ? -v : v); });
      case UnaryOp::Sign:
        return map1(p, o, x, [](T v) { return static_cast<T>((v > 0) - (v < 0)); });
      case UnaryOp::Square: return map1(p, o, x, [](T v) { return static_cast<T>(v * v); });
      default: no_kernel(unary_name(op), kDev, dtype_v<T>);
    }
  }
}

// ---- binary ------------------------------------------------------------------
template <typename T>
void binary_t(BinaryOp op, const Plan<3>& p, void* out, const T* a, const T* b) {
  if (is_comparison(op)) {
    bool* o = static_cast<bool*>(out);
    switch (op) {
      case BinaryOp::Eq: return map2(p, o, a, b, [](T x, T y) { return x == y; });
      case BinaryOp::Ne: return map2(p, o, a, b, [](T x, T y) { return x != y; });
      case BinaryOp::Lt: return map2(p, o, a, b, [](T x, T y) { return x < y; });
      case BinaryOp::Le: return map2(p, o, a, b, [](T x, T y) { return x <= y; });
      case BinaryOp::Gt: return map2(p, o, a, b, [](T x, T y) { return x > y; });
      case BinaryOp::Ge: return map2(p, o, a, b, [](T x, T y) { return x >= y; });
      default: break;
    }
  }
  if constexpr (!std::is_same_v<T, bool>) {
    T* o = static_cast<T*>(out);
    switch (op) {
      case BinaryOp::Add: return map2(p, o, a, b, [](T x, T y) { return static_cast<T>(x + y); });
      case BinaryOp::Sub: return map2(p, o, a, b, [](T x, T y) { return static_cast<T>(x - y); });
      case BinaryOp::Mul: return map2(p, o, a, b, [](T x, T y) { return static_cast<T>(x * y); });
      // NaN-propagating like torch.maximum / minimum: x != x only for NaN.
      case BinaryOp::Maximum:
        return map2(p, o, a, b, [](T x, T y) { return (x > y || x != x) ? x : y; });
      case BinaryOp::Minimum:
        return map2(p, o, a, b, [](T x, T y) { return (x < y || x != x) ? x : y; });
      default: break;
    }
    if constexpr (std::is_floating_point_v<T>) {
      if (op == BinaryOp::Div) return map2(p, o, a, b, [](T x, T y) { return x / y; });
      if (op == BinaryOp::Pow) return map2(p, o, a, b, [](T x, T y) { return std::pow(x, y); });
    }
  }
  no_kernel(binary_name(op), kDev, dtype_v<T>);
}

template <typename T>
T clamp_bound(double v) {
  if constexpr (std::is_floating_point_v<T>) {
    return static_cast<T>(v);
  } else {
    // Integer bounds saturate to the type's range (an absent bound is +-inf).
    if (!(v > static_cast<double>(std::numeric_limits<T>::lowest())))
      return std::numeric_limits<T>::lowest();
    if (!(v < static_cast<double>(std::numeric_limits<T>::max())))
      return std::numeric_limits<T>::max();
    return static_cast<T>(v);
  }
}

}  // namespace

void copy(DType sdt, const void* src, const Layout& sl, DType ddt, void* dst, const Layout& dl) {
  GALEN_CHECK(sl.ndim == dl.ndim, "copy: source and destination must have the same ndim");
  int64_t ss[kMaxDims];
  broadcast_strides(sl, dl.sizes, ss);
  const Plan<2> p(dl.ndim, dl.sizes, {dl.strides, ss});
  on_type<kAll>("copy", kDev, sdt, [&](auto s) {
    using S = decltype(s);
    on_type<kAll>("copy", kDev, ddt, [&](auto d) {
      using D = decltype(d);
      map1(p, static_cast<D*>(dst), static_cast<const S*>(src),
           [](S v) { return static_cast<D>(v); });
    });
  });
}

void fill(DType dt, void* dst, int64_t n, double value) {
  on_type<kAll>("fill", kDev, dt, [&](auto tag) {
    using T = decltype(tag);
    const T v = static_cast<T>(value);
    T* o = static_cast<T*>(dst);
    parallel_for(n, n, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) o[i] = v;
    });
  });
}

void unary(UnaryOp op, DType dt, const void* x, const Layout& xl, void* out, double scalar) {
  if (!supports(unary_types(op), dt)) no_kernel(unary_name(op), kDev, dt);
  int64_t os[kMaxDims];
  contiguous_strides(xl.ndim, xl.sizes, os);
  const Plan<2> p(xl.ndim, xl.sizes, {os, xl.strides});
  on_type<kFloat | kSignedInt>(unary_name(op), kDev, dt, [&](auto tag) {
    using T = decltype(tag);
    unary_t<T>(op, p, static_cast<T*>(out), static_cast<const T*>(x), scalar);
  });
}

void binary(BinaryOp op, DType dt, const void* a, const Layout& al, const void* b,
            const Layout& bl, void* out) {
  if (!supports(binary_types(op), dt)) no_kernel(binary_name(op), kDev, dt);
  GALEN_CHECK(al.ndim == bl.ndim, binary_name(op), ": operands must have the same ndim");
  int64_t sizes[kMaxDims], os[kMaxDims], as[kMaxDims], bs[kMaxDims];
  for (int d = 0; d < al.ndim; ++d) sizes[d] = al.sizes[d] == 1 ? bl.sizes[d] : al.sizes[d];
  contiguous_strides(al.ndim, sizes, os);
  broadcast_strides(al, sizes, as);
  broadcast_strides(bl, sizes, bs);
  const Plan<3> p(al.ndim, sizes, {os, as, bs});
  on_type<kAll>(binary_name(op), kDev, dt, [&](auto tag) {
    using T = decltype(tag);
    binary_t<T>(op, p, out, static_cast<const T*>(a), static_cast<const T*>(b));
  });
}

void where(DType dt, const void* cond, const Layout& cl, const void* a, const Layout& al,
           const void* b, const Layout& bl, void* out) {
  GALEN_CHECK(cl.ndim == al.ndim && al.ndim == bl.ndim, "where: operands must have the same ndim");
  int64_t sizes[kMaxDims], os[kMaxDims], cs[kMaxDims], as[kMaxDims], bs[kMaxDims];
  for (int d = 0; d < cl.ndim; ++d) {
    sizes[d] = 1;
    for (const Layout* l : {&cl, &al, &bl})
      if (l->sizes[d] != 1) sizes[d] = l->sizes[d];
  }
  contiguous_strides(cl.ndim, sizes, os);
  broadcast_strides(cl, sizes, cs);
  broadcast_strides(al, sizes, as);
  broadcast_strides(bl, sizes, bs);
  const Plan<4> p(cl.ndim, sizes, {os, cs, as, bs});
  on_type<kAll>("where", kDev, dt, [&](auto tag) {
    using T = decltype(tag);
    T* o = static_cast<T*>(out);
    const bool* c = static_cast<const bool*>(cond);
    const T* x = static_cast<const T*>(a);
    const T* y = static_cast<const T*>(b);
    const int64_t sc = p.inner_stride(1), sa = p.inner_stride(2), sb = p.inner_stride(3);
    p.run_parallel([&](const int64_t* off, int64_t n) {
      T* po = o + off[0];
      const bool* pc = c + off[1];
      const T* px = x + off[2];
      const T* py = y + off[3];
      if (sc == 1 && sa == 1 && sb == 1) {
        for (int64_t i = 0; i < n; ++i) po[i] = pc[i] ? px[i] : py[i];
      } else {
        for (int64_t i = 0; i < n; ++i) po[i] = pc[i * sc] ? px[i * sa] : py[i * sb];
      }
    });
  });
}

void clamp(DType dt, const void* x, int64_t n, double lo, double hi, void* out) {
  on_type<kNumeric>("clamp", kDev, dt, [&](auto tag) {
    using T = decltype(tag);
    const T l = clamp_bound<T>(lo), h = clamp_bound<T>(hi);
    const T* px = static_cast<const T*>(x);
    T* po = static_cast<T*>(out);
    // std::max/min return their first argument when a comparison is false, so
    // a NaN x passes through both.
    parallel_for(n, n, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) po[i] = std::min(std::max(px[i], l), h);
    });
  });
}

}  // namespace galen::kernels::cpu
