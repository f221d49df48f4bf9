// The reference backend: naive, single-threaded, obviously-correct loops. It is
// the specification every other backend is tested against, so clarity wins over
// speed everywhere here. Floating-point math is done in double and rounded once
// at the end; f32 sums accumulate in double.
#include <cmath>
#include <cstring>
#include <limits>
#include <new>
#include <type_traits>
#include <vector>

#include "galen/core/error.h"
#include "galen/kernels/backend.h"
#include "galen/kernels/philox.h"
#include "galen/kernels/ref/dispatch.h"
#include "galen/kernels/ref/ref_graph.h"
#include "galen/kernels/ref/ref_nn.h"
#include "galen/kernels/ref/ref_rnn.h"

namespace galen::kernels {
namespace {

using namespace dispatch;
constexpr DeviceType kDev = DeviceType::CPU;

// Visits every multi-index of `sizes` in row-major order.
struct Walker {
  int ndim = 0;
  int64_t sizes[kMaxDims] = {};
  int64_t idx[kMaxDims] = {};

  explicit Walker(int nd, const int64_t* sz) : ndim(nd) {
    for (int d = 0; d < nd; ++d) sizes[d] = sz[d];
  }
  int64_t numel() const {
    int64_t n = 1;
    for (int d = 0; d < ndim; ++d) n *= sizes[d];
    return n;
  }
  bool next() {
    for (int d = ndim - 1; d >= 0; --d) {
      if (++idx[d] < sizes[d]) return true;
      idx[d] = 0;
    }
    return false;
  }
  // Element offset of the current index in `l`; size-1 dims of `l` broadcast.
  int64_t offset(const Layout& l) const {
    int64_t off = 0;
    for (int d = 0; d < ndim; ++d)
      if (l.sizes[d] != 1) off += idx[d] * l.strides[d];
    return off;
  }
};

// Broadcast output sizes of several layouts of equal ndim.
std::vector<int64_t> broadcast_sizes(std::initializer_list<const Layout*> ls) {
  const int nd = (*ls.begin())->ndim;
  std::vector<int64_t> out(nd, 1);
  for (const Layout* l : ls) {
    GALEN_CHECK(l->ndim == nd, "ref: operands must have the same ndim");
    for (int d = 0; d < nd; ++d)
      if (l->sizes[d] != 1) out[d] = l->sizes[d];
  }
  return out;
}

template <typename T>
bool is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>) return std::isnan(v);
  else return false;
}

// Accumulator type of sum/prod: double for floating types, the type itself otherwise.
template <typename T>
using acc_t = std::conditional_t<std::is_floating_point_v<T>, double, T>;

template <typename T>
T unary_scalar(UnaryOp op, T x, double s) {
  if constexpr (std::is_floating_point_v<T>) {
    const double v = x;
    const double kSqrt1_2 = 0.70710678118654752440;
    const double kInvSqrt2Pi = 0.39894228040143267794;
    double r = 0;
    switch (op) {
      case UnaryOp::Neg: r = -v; break;
      case UnaryOp::Abs: r = std::fabs(v); break;
      case UnaryOp::Exp: r = std::exp(v); break;
      case UnaryOp::Log: r = std::log(v); break;
      case UnaryOp::Sqrt: r = std::sqrt(v); break;
      case UnaryOp::Rsqrt: r = 1.0 / std::sqrt(v); break;
      case UnaryOp::Sigmoid: r = 1.0 / (1.0 + std::exp(-v)); break;
      case UnaryOp::Tanh: r = std::tanh(v); break;
      case UnaryOp::Relu: r = v < 0 ? 0.0 : v; break;  // NaN stays NaN
      // gelu(x) = x * Phi(x), Phi(x) = 0.5 * (1 + erf(x / sqrt2)) = 0.5 * erfc(-x / sqrt2)
      // (erfc keeps the precision for large negative x).
      case UnaryOp::Gelu: r = 0.5 * v * std::erfc(-v * kSqrt1_2); break;
      case UnaryOp::GeluGrad:
        r = 0.5 * std::erfc(-v * kSqrt1_2) + v * kInvSqrt2Pi * std::exp(-0.5 * v * v);
        break;
      case UnaryOp::PowScalar: r = std::pow(v, s); break;
      case UnaryOp::Sign: r = v > 0 ? 1.0 : v < 0 ? -1.0 : v == 0 ? 0.0 : v; break;  // NaN -> NaN
      case UnaryOp::Square: r = v * v; break;
      case UnaryOp::Reciprocal: r = 1.0 / v; break;
      case UnaryOp::Step: r = v > 0 ? 1.0 : 0.0; break;
    }
    return static_cast<T>(r);
  } else {
    switch (op) {
      case UnaryOp::Neg: return static_cast<T>(-x);
      case UnaryOp::Abs: return static_cast<T>(x < 0 ? -x : x);
      case UnaryOp::Sign: return static_cast<T>(x > 0 ? 1 : x < 0 ? -1 : 0);
      case UnaryOp::Square: return static_cast<T>(x * x);
      default: return x;  // unreachable: filtered by unary_types()
    }
  }
}

template <typename T>
T arith_scalar(BinaryOp op, T a, T b) {
  switch (op) {
    case BinaryOp::Add: return static_cast<T>(a + b);
    case BinaryOp::Sub: return static_cast<T>(a - b);
    case BinaryOp::Mul: return static_cast<T>(a * b);
    case BinaryOp::Div: return static_cast<T>(static_cast<double>(a) / static_cast<double>(b));
    case BinaryOp::Pow:
      return static_cast<T>(std::pow(static_cast<double>(a), static_cast<double>(b)));
    case BinaryOp::Maximum:
      if (is_nan(a)) return a;
      if (is_nan(b)) return b;
      return a > b ? a : b;
    case BinaryOp::Minimum:
      if (is_nan(a)) return a;
      if (is_nan(b)) return b;
      return a < b ? a : b;
    default: return a;  // comparisons are handled by compare_scalar
  }
}

template <typename T>
bool compare_scalar(BinaryOp op, T a, T b) {
  switch (op) {
    case BinaryOp::Eq: return a == b;
    case BinaryOp::Ne: return a != b;
    case BinaryOp::Lt: return a < b;
    case BinaryOp::Le: return a <= b;
    case BinaryOp::Gt: return a > b;
    case BinaryOp::Ge: return a >= b;
    default: return false;
  }
}

template <typename T>
T clamp_bound(double v) {
  if constexpr (std::is_floating_point_v<T>) {
    return static_cast<T>(v);
  } else {
    // Integer bounds: saturate to the type's range (lo/hi may be +-inf).
    const double lo = static_cast<double>(std::numeric_limits<T>::lowest());
    const double hi = static_cast<double>(std::numeric_limits<T>::max());
    if (!(v > lo)) return std::numeric_limits<T>::lowest();
    if (!(v < hi)) return std::numeric_limits<T>::max();
    return static_cast<T>(v);
  }
}

class RefBackend final : public Backend {
 public:
  DeviceType type() const override { return kDev; }
  const char* name() const override { return "ref"; }

  void* allocate(size_t nbytes, int) override {
    return ::operator new(nbytes, std::align_val_t{64});
  }
  void deallocate(void* p, size_t, int) override {
    ::operator delete(p, std::align_val_t{64});
  }
  void copy_from_host(void* dst, const void* src, size_t n, int) override {
    if (n) std::memcpy(dst, src, n);
  }
  void copy_to_host(void* dst, const void* src, size_t n, int) override {
    if (n) std::memcpy(dst, src, n);
  }
  void copy_device(void* dst, const void* src, size_t n, int) override {
    if (n) std::memcpy(dst, src, n);
  }
  void synchronize(int) override {}

  void copy(DType sdt, const void* src, const Layout& sl, DType ddt, void* dst,
            const Layout& dl) override {
    on_type<kAll>("copy", kDev, sdt, [&](auto s) {
      using S = decltype(s);
      on_type<kAll>("copy", kDev, ddt, [&](auto d) {
        using D = decltype(d);
        Walker w(dl.ndim, dl.sizes);
        if (w.numel() == 0) return;
        do {
          static_cast<D*>(dst)[w.offset(dl)] =
              static_cast<D>(static_cast<const S*>(src)[w.offset(sl)]);
        } while (w.next());
      });
    });
  }

  void fill(DType dt, void* dst, int64_t n, double value) override {
    on_type<kAll>("fill", kDev, dt, [&](auto tag) {
      using T = decltype(tag);
      for (int64_t i = 0; i < n; ++i) static_cast<T*>(dst)[i] = static_cast<T>(value);
    });
  }

  void unary(UnaryOp op, DType dt, const void* x, const Layout& xl, void* out,
             double scalar) override {
    if (!supports(unary_types(op), dt)) no_kernel(unary_name(op), kDev, dt);
    on_type<kFloat | kSignedInt>(unary_name(op), kDev, dt, [&](auto tag) {
      using T = decltype(tag);
      Walker w(xl.ndim, xl.sizes);
      if (w.numel() == 0) return;
      int64_t i = 0;
      do {
        static_cast<T*>(out)[i++] = unary_scalar<T>(op, static_cast<const T*>(x)[w.offset(xl)], scalar);
      } while (w.next());
    });
  }

  void binary(BinaryOp op, DType dt, const void* a, const Layout& al, const void* b,
              const Layout& bl, void* out) override {
    if (!supports(binary_types(op), dt)) no_kernel(binary_name(op), kDev, dt);
    on_type<kAll>(binary_name(op), kDev, dt, [&](auto tag) {
      using T = decltype(tag);
      const auto sizes = broadcast_sizes({&al, &bl});
      Walker w(al.ndim, sizes.data());
      if (w.numel() == 0) return;
      const T* pa = static_cast<const T*>(a);
      const T* pb = static_cast<const T*>(b);
      int64_t i = 0;
      do {
        const T va = pa[w.offset(al)], vb = pb[w.offset(bl)];
        if (is_comparison(op)) {
          static_cast<bool*>(out)[i++] = compare_scalar(op, va, vb);
        } else if constexpr (!std::is_same_v<T, bool>) {
          static_cast<T*>(out)[i++] = arith_scalar(op, va, vb);
        }
      } while (w.next());
    });
  }

  void where(DType dt, const void* cond, const Layout& cl, const void* a, const Layout& al,
             const void* b, const Layout& bl, void* out) override {
    on_type<kAll>("where", kDev, dt, [&](auto tag) {
      using T = decltype(tag);
      const auto sizes = broadcast_sizes({&cl, &al, &bl});
      Walker w(cl.ndim, sizes.data());
      if (w.numel() == 0) return;
      int64_t i = 0;
      do {
        const bool c = static_cast<const bool*>(cond)[w.offset(cl)];
        static_cast<T*>(out)[i++] =
            c ? static_cast<const T*>(a)[w.offset(al)] : static_cast<const T*>(b)[w.offset(bl)];
      } while (w.next());
    });
  }

  void clamp(DType dt, const void* x, int64_t n, double lo, double hi, void* out) override {
    on_type<kNumeric>("clamp", kDev, dt, [&](auto tag) {
      using T = decltype(tag);
      const T l = clamp_bound<T>(lo), h = clamp_bound<T>(hi);
      for (int64_t i = 0; i < n; ++i) {
        T v = static_cast<const T*>(x)[i];
        if (!is_nan(v)) {
          if (v < l) v = l;
          if (v > h) v = h;
        }
        static_cast<T*>(out)[i] = v;
      }
    });
  }

  void reduce(ReduceOp op, DType dt, const void* x, int64_t outer, int64_t len, int64_t inner,
              void* out, int64_t* indices) override {
    on_type<kNumeric>(reduce_name(op), kDev, dt, [&](auto tag) {
      using T = decltype(tag);
      const T* px = static_cast<const T*>(x);
      T* po = static_cast<T*>(out);
      const bool extreme = op != ReduceOp::Sum && op != ReduceOp::Prod;
      GALEN_CHECK(!(extreme && len == 0 && outer * inner > 0), reduce_name(op),
                  ": cannot reduce an empty dimension");
      for (int64_t o = 0; o < outer; ++o) {
        for (int64_t i = 0; i < inner; ++i) {
          auto at = [&](int64_t j) { return px[(o * len + j) * inner + i]; };
          const int64_t k = o * inner + i;
          if (op == ReduceOp::Sum || op == ReduceOp::Prod) {
            acc_t<T> acc = op == ReduceOp::Sum ? acc_t<T>(0) : acc_t<T>(1);
            for (int64_t j = 0; j < len; ++j)
              acc = op == ReduceOp::Sum ? static_cast<acc_t<T>>(acc + at(j))
                                        : static_cast<acc_t<T>>(acc * at(j));
            po[k] = static_cast<T>(acc);
            continue;
          }
          const bool want_max = op == ReduceOp::Max || op == ReduceOp::ArgMax;
          T best = at(0);
          int64_t bi = 0;
          for (int64_t j = 1; j < len && !is_nan(best); ++j) {
            const T v = at(j);
            if (is_nan(v) || (want_max ? v > best : v < best)) {
              best = v;
              bi = j;
            }
          }
          if (op == ReduceOp::Max || op == ReduceOp::Min) {
            po[k] = best;
            if (indices) indices[k] = bi;
          } else {
            indices[k] = bi;
          }
        }
      }
    });
  }

  void softmax(DType dt, const void* x, int64_t rows, int64_t cols, void* out, bool log) override {
    on_type<kFloat>(log ? "log_softmax" : "softmax", kDev, dt, [&](auto tag) {
      using T = decltype(tag);
      const T* px = static_cast<const T*>(x);
      T* po = static_cast<T*>(out);
      for (int64_t r = 0; r < rows; ++r) {
        const T* row = px + r * cols;
        double m = -std::numeric_limits<double>::infinity();
        for (int64_t c = 0; c < cols; ++c)
          if (std::isnan(static_cast<double>(row[c])) || row[c] > m) m = row[c];
        double s = 0;
        for (int64_t c = 0; c < cols; ++c) s += std::exp(row[c] - m);
        for (int64_t c = 0; c < cols; ++c)
          po[r * cols + c] =
              static_cast<T>(log ? row[c] - m - std::log(s) : std::exp(row[c] - m) / s);
      }
    });
  }

  void softmax_backward(DType dt, const void* y, const void* gy, int64_t rows, int64_t cols,
                        void* gx, bool log) override {
    on_type<kFloat>(log ? "log_softmax_backward" : "softmax_backward", kDev, dt, [&](auto tag) {
      using T = decltype(tag);
      const T* py = static_cast<const T*>(y);
      const T* pg = static_cast<const T*>(gy);
      T* po = static_cast<T*>(gx);
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t base = r * cols;
        double s = 0;
        for (int64_t c = 0; c < cols; ++c)
          s += log ? static_cast<double>(pg[base + c])
                   : static_cast<double>(pg[base + c]) * py[base + c];
        for (int64_t c = 0; c < cols; ++c) {
          const double yv = py[base + c], gv = pg[base + c];
          po[base + c] = static_cast<T>(log ? gv - std::exp(yv) * s : yv * (gv - s));
        }
      }
    });
  }

  void gemm(DType dt, bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha,
            const void* A, int64_t lda, int64_t sa, const void* B, int64_t ldb, int64_t sb,
            double beta, void* C, int64_t ldc, int64_t sc, int64_t batch) override {
    on_type<kFloat>("gemm", kDev, dt, [&](auto tag) {
      using T = decltype(tag);
      for (int64_t p = 0; p < batch; ++p) {
        const T* a = static_cast<const T*>(A) + p * sa;
        const T* b = static_cast<const T*>(B) + p * sb;
        T* c = static_cast<T*>(C) + p * sc;
        for (int64_t m = 0; m < M; ++m) {
          for (int64_t n = 0; n < N; ++n) {
            double acc = 0;
            for (int64_t k = 0; k < K; ++k) {
              const double av = ta ? a[k * lda + m] : a[m * lda + k];
              const double bv = tb ? b[n * ldb + k] : b[k * ldb + n];
              acc += av * bv;
            }
            // beta == 0 never reads C (it may hold garbage).
            const double prev = beta == 0 ? 0.0 : beta * static_cast<double>(c[m * ldc + n]);
            c[m * ldc + n] = static_cast<T>(alpha * acc + prev);
          }
        }
      }
    });
  }

  void index_select(DType dt, const void* x, int64_t outer, int64_t dim, int64_t inner,
                    const int64_t* idx, int64_t n, void* out) override {
    on_type<kAll>("index_select", kDev, dt, [&](auto tag) {
      using T = decltype(tag);
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t j = 0; j < n; ++j)
          for (int64_t i = 0; i < inner; ++i)
            static_cast<T*>(out)[(o * n + j) * inner + i] =
                static_cast<const T*>(x)[(o * dim + idx[j]) * inner + i];
    });
  }

  void index_add(DType dt, void* dst, int64_t outer, int64_t dim, int64_t inner,
                 const int64_t* idx, int64_t n, const void* src) override {
    on_type<kNumeric>("index_add", kDev, dt, [&](auto tag) {
      using T = decltype(tag);
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t j = 0; j < n; ++j)
          for (int64_t i = 0; i < inner; ++i) {
            T& d = static_cast<T*>(dst)[(o * dim + idx[j]) * inner + i];
            d = static_cast<T>(d + static_cast<const T*>(src)[(o * n + j) * inner + i]);
          }
    });
  }

  void gather(DType dt, const void* x, const Layout& xl, int axis, const int64_t* index,
              const Layout& il, void* out) override {
    on_type<kAll>("gather", kDev, dt, [&](auto tag) {
      using T = decltype(tag);
      Walker w(il.ndim, il.sizes);
      if (w.numel() == 0) return;
      int64_t i = 0;
      do {
        int64_t off = 0;
        for (int d = 0; d < il.ndim; ++d)
          off += (d == axis ? index[w.offset(il)] : w.idx[d]) * xl.strides[d];
        static_cast<T*>(out)[i++] = static_cast<const T*>(x)[off];
      } while (w.next());
    });
  }

  void scatter_add(DType dt, void* dst, const Layout& dl, int axis, const int64_t* index,
                   const Layout& il, const void* src, const Layout& sl) override {
    on_type<kNumeric>("scatter_add", kDev, dt, [&](auto tag) {
      using T = decltype(tag);
      Walker w(il.ndim, il.sizes);
      if (w.numel() == 0) return;
      do {
        int64_t off = 0;
        for (int d = 0; d < il.ndim; ++d)
          off += (d == axis ? index[w.offset(il)] : w.idx[d]) * dl.strides[d];
        T& d = static_cast<T*>(dst)[off];
        d = static_cast<T>(d + static_cast<const T*>(src)[w.offset(sl)]);
      } while (w.next());
    });
  }

  void minmax_i64(const int64_t* x, int64_t n, int64_t* mn, int64_t* mx) override {
    GALEN_CHECK(n > 0, "minmax_i64: needs at least one value");
    *mn = *mx = x[0];
    for (int64_t i = 1; i < n; ++i) {
      if (x[i] < *mn) *mn = x[i];
      if (x[i] > *mx) *mx = x[i];
    }
  }

  void adam_step(DType dt, void* p, const void* g, void* m, void* v, void* vmax, int64_t n,
                 const AdamParams& a) override {
    auto run = [&](auto* P) {
      using T = std::remove_pointer_t<decltype(P)>;
      T* vm = static_cast<T*>(vmax);
      for (int64_t i = 0; i < n; ++i)
        adam_element<T>(P[i], static_cast<const T*>(g)[i], static_cast<T*>(m)[i], static_cast<T*>(v)[i],
                        a.amsgrad ? vm + i : nullptr, a);
    };
    if (dt == DType::f32) run(static_cast<float*>(p));
    else if (dt == DType::f64) run(static_cast<double*>(p));
    else no_kernel("adam_step", kDev, dt);
  }
  void random(RandomDist dist, DType dt, void* out, int64_t n, uint64_t seed, uint64_t offset,
              double a, double b) override {
    if (dist == RandomDist::RandInt) {
      on_type<kNumeric>("randint", kDev, dt, [&](auto tag) {
        using T = decltype(tag);
        const auto lo = static_cast<int64_t>(a), hi = static_cast<int64_t>(b);
        GALEN_CHECK(hi > lo, "randint: empty range [", lo, ", ", hi, ")");
        for (int64_t i = 0; i < n; ++i)
          static_cast<T*>(out)[i] = static_cast<T>(philox::randint(seed, offset, i, lo, hi));
      });
      return;
    }
    on_type<kFloat>(dist == RandomDist::Uniform ? "uniform" : "normal", kDev, dt, [&](auto tag) {
      using T = decltype(tag);
      const bool dbl = std::is_same_v<T, double>;
      for (int64_t i = 0; i < n; ++i)
        static_cast<T*>(out)[i] = static_cast<T>(dist == RandomDist::Uniform
                                                     ? philox::uniform(seed, offset, i, dbl, a, b)
                                                     : philox::normal(seed, offset, i, a, b));
    });
  }

  // ---- convolution, pooling, batch norm: the loops live in ref_nn.cpp ----------
  void im2col(DType dt, const void* x, const Conv2dGeometry& g, void* cols) override { ref::im2col(dt, x, g, cols); }
  void col2im(DType dt, const void* cols, const Conv2dGeometry& g, void* x) override { ref::col2im(dt, cols, g, x); }
  void max_pool2d(DType dt, const void* x, int64_t planes, const Conv2dGeometry& g, void* out,
                  int64_t* indices) override {
    ref::max_pool2d(dt, x, planes, g, out, indices);
  }
  void max_pool2d_backward(DType dt, const void* gout, const int64_t* indices, int64_t planes,
                           const Conv2dGeometry& g, void* gx) override {
    ref::max_pool2d_backward(dt, gout, indices, planes, g, gx);
  }
  void avg_pool2d(DType dt, const void* x, int64_t planes, const Conv2dGeometry& g, bool cip,
                  void* out) override {
    ref::avg_pool2d(dt, x, planes, g, cip, out);
  }
  void avg_pool2d_backward(DType dt, const void* gout, int64_t planes, const Conv2dGeometry& g, bool cip,
                           void* gx) override {
    ref::avg_pool2d_backward(dt, gout, planes, g, cip, gx);
  }
  void channel_stats(DType dt, const void* x, int64_t N, int64_t C, int64_t S, void* mean,
                     void* var) override {
    ref::channel_stats(dt, x, N, C, S, mean, var);
  }
  void channel_affine(DType dt, const void* x, int64_t N, int64_t C, int64_t S, const void* mean,
                      const void* invstd, const void* w, const void* b, void* y) override {
    ref::channel_affine(dt, x, N, C, S, mean, invstd, w, b, y);
  }
  void batch_norm_backward(DType dt, const void* x, const void* gy, int64_t N, int64_t C, int64_t S,
                           const void* mean, const void* invstd, const void* w, void* gx, void* gw,
                           void* gb) override {
    ref::batch_norm_backward(dt, x, gy, N, C, S, mean, invstd, w, gx, gw, gb);
  }

  // ---- graph primitives (ref_graph.cpp) ----
  void scatter_reduce(ScatterReduce op, DType dt, const void* src, int64_t E, int64_t F, const int64_t* index,
                      int64_t N, void* out, int64_t* arg) override {
    ref::scatter_reduce(op, dt, src, E, F, index, N, out, arg);
  }
  void scatter_max_backward(DType dt, const void* gout, const int64_t* arg, int64_t N, int64_t F, int64_t E,
                            void* gsrc) override {
    ref::scatter_max_backward(dt, gout, arg, N, F, E, gsrc);
  }
  void segment_softmax(DType dt, const void* src, int64_t E, int64_t F, const int64_t* index, int64_t N,
                       void* out) override {
    ref::segment_softmax(dt, src, E, F, index, N, out);
  }
  void segment_softmax_backward(DType dt, const void* y, const void* gy, int64_t E, int64_t F, const int64_t* index,
                                int64_t N, void* gx) override {
    ref::segment_softmax_backward(dt, y, gy, E, F, index, N, gx);
  }

  // ---- recurrent cells: the loops live in ref_rnn.cpp ---------------------------
  void rnn_cell_forward(const RnnStep& s, DType dt, const void* gi, const void* gh, const void* bi, const void* bh,
                        const void* h_prev, const void* c_prev, void* h_out, void* c_out, void* y, int64_t ldy,
                        void* ws) override {
    ref::rnn_cell_forward(s, dt, gi, gh, bi, bh, h_prev, c_prev, h_out, c_out, y, ldy, ws);
  }
  void rnn_cell_backward(const RnnStep& s, DType dt, const void* ws, const void* h_prev, const void* c_prev,
                         const void* dy, int64_t ldy, const void* dh, const void* dc, void* dgi, void* dgh,
                         void* dh_prev, void* dc_prev) override {
    ref::rnn_cell_backward(s, dt, ws, h_prev, c_prev, dy, ldy, dh, dc, dgi, dgh, dh_prev, dc_prev);
  }
};

}  // namespace

Backend& ref_backend() {
  static RefBackend b;
  return b;
}

}  // namespace galen::kernels
