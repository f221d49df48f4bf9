// CUDA unary and binary elementwise ops: one functor per op, applied through
// the shared strided/broadcast kernel (cuda_common.cuh). dtype rules match the
// CPU backend: float-only math on f32/f64; neg/abs/sign/square also on i32/i64;
// add/sub/mul/maximum/minimum and comparisons on every numeric dtype
// (comparisons on bool too); div/pow on f32/f64 only.
#include <cuda_runtime.h>

#include "galen/kernels/cuda/cuda_common.cuh"

namespace galen::kernels::cuda {

namespace {

// float/double overloads of the device math library, so the functors below are
// written once for both.
__device__ __forceinline__ float m_exp(float x) { return expf(x); }
__device__ __forceinline__ double m_exp(double x) { return exp(x); }
__device__ __forceinline__ float m_log(float x) { return logf(x); }
__device__ __forceinline__ double m_log(double x) { return log(x); }
__device__ __forceinline__ float m_sqrt(float x) { return sqrtf(x); }
__device__ __forceinline__ double m_sqrt(double x) { return sqrt(x); }
__device__ __forceinline__ float m_rsqrt(float x) { return rsqrtf(x); }
__device__ __forceinline__ double m_rsqrt(double x) { return rsqrt(x); }
__device__ __forceinline__ float m_tanh(float x) { return tanhf(x); }
__device__ __forceinline__ double m_tanh(double x) { return tanh(x); }
__device__ __forceinline__ float m_erfc(float x) { return erfcf(x); }
__device__ __forceinline__ double m_erfc(double x) { return erfc(x); }
__device__ __forceinline__ float m_pow(float x, float y) { return powf(x, y); }
__device__ __forceinline__ double m_pow(double x, double y) { return pow(x, y); }
__device__ __forceinline__ float m_abs(float x) { return fabsf(x); }
__device__ __forceinline__ double m_abs(double x) { return fabs(x); }

constexpr double kSqrtHalf = 0.70710678118654752440;      // 1/sqrt(2)
constexpr double kInvSqrt2Pi = 0.39894228040143267794;    // 1/sqrt(2*pi)

// ---- unary functors ---------------------------------------------------------------
struct UNeg {
  template <typename T> __device__ T operator()(T x) const { return static_cast<T>(-x); }
};
struct UAbs {
  template <typename T> __device__ T operator()(T x) const {
    if constexpr (std::is_floating_point_v<T>) return m_abs(x);
    else return x < 0 ? static_cast<T>(-x) : x;
  }
};
struct USign {  // -1, 0, 1; NaN stays NaN
  template <typename T> __device__ T operator()(T x) const {
    if (x > T(0)) return T(1);
    if (x < T(0)) return T(-1);
    return x;
  }
};
struct USquare {
  template <typename T> __device__ T operator()(T x) const { return static_cast<T>(x * x); }
};
struct UExp {
  template <typename T> __device__ T operator()(T x) const { return m_exp(x); }
};
struct ULog {
  template <typename T> __device__ T operator()(T x) const { return m_log(x); }
};
struct USqrt {
  template <typename T> __device__ T operator()(T x) const { return m_sqrt(x); }
};
struct URsqrt {
  template <typename T> __device__ T operator()(T x) const { return m_rsqrt(x); }
};
struct USigmoid {
  template <typename T> __device__ T operator()(T x) const { return T(1) / (T(1) + m_exp(-x)); }
};
struct UTanh {
  template <typename T> __device__ T operator()(T x) const { return m_tanh(x); }
};
struct URelu {  // NaN propagates (as in PyTorch)
  template <typename T> __device__ T operator()(T x) const { return x < T(0) ? T(0) : x; }
};
// Phi(x) = 0.5 * (1 + erf(x / sqrt2)) is computed as 0.5 * erfc(-x / sqrt2), which
// keeps its precision for large negative x (as the reference does).
struct UGelu {  // x * Phi(x), exact erf form
  template <typename T> __device__ T operator()(T x) const {
    return T(0.5) * x * m_erfc(-x * T(kSqrtHalf));
  }
};
struct UGeluGrad {  // Phi(x) + x * phi(x)
  template <typename T> __device__ T operator()(T x) const {
    const T cdf = T(0.5) * m_erfc(-x * T(kSqrtHalf));
    const T pdf = m_exp(T(-0.5) * x * x) * T(kInvSqrt2Pi);
    return cdf + x * pdf;
  }
};
struct UPowScalar {
  double p;
  template <typename T> __device__ T operator()(T x) const { return m_pow(x, static_cast<T>(p)); }
};
struct UReciprocal {
  template <typename T> __device__ T operator()(T x) const { return T(1) / x; }
};
struct UStep {
  template <typename T> __device__ T operator()(T x) const { return x > T(0) ? T(1) : T(0); }
};

template <typename T, typename F>
struct UnaryApply {
  T* out;
  const T* x;
  F f;
  template <typename I>
  __device__ __forceinline__ void operator()(const I (&off)[2]) const {
    out[off[0]] = f(x[off[1]]);
  }
};

// ---- binary functors ---------------------------------------------------------------
struct BAdd {
  template <typename T> __device__ T operator()(T a, T b) const { return static_cast<T>(a + b); }
};
struct BSub {
  template <typename T> __device__ T operator()(T a, T b) const { return static_cast<T>(a - b); }
};
struct BMul {
  template <typename T> __device__ T operator()(T a, T b) const { return static_cast<T>(a * b); }
};
struct BDiv {
  template <typename T> __device__ T operator()(T a, T b) const { return a / b; }
};
struct BPow {
  template <typename T> __device__ T operator()(T a, T b) const { return m_pow(a, b); }
};
struct BMaximum {  // NaN-propagating
  template <typename T> __device__ T operator()(T a, T b) const {
    if (is_nan(a)) return a;
    if (is_nan(b)) return b;
    return a > b ? a : b;
  }
};
struct BMinimum {
  template <typename T> __device__ T operator()(T a, T b) const {
    if (is_nan(a)) return a;
    if (is_nan(b)) return b;
    return a < b ? a : b;
  }
};
struct BEq {
  template <typename T> __device__ bool operator()(T a, T b) const { return a == b; }
};
struct BNe {
  template <typename T> __device__ bool operator()(T a, T b) const { return a != b; }
};
struct BLt {
  template <typename T> __device__ bool operator()(T a, T b) const { return a < b; }
};
struct BLe {
  template <typename T> __device__ bool operator()(T a, T b) const { return a <= b; }
};
struct BGt {
  template <typename T> __device__ bool operator()(T a, T b) const { return a > b; }
};
struct BGe {
  template <typename T> __device__ bool operator()(T a, T b) const { return a >= b; }
};

template <typename T, typename R, typename F>
struct BinaryApply {
  R* out;
  const T* a;
  const T* b;
  F f;
  template <typename I>
  __device__ __forceinline__ void operator()(const I (&off)[3]) const {
    out[off[0]] = f(a[off[1]], b[off[2]]);
  }
};

}  // namespace

void CudaBackend::unary(UnaryOp op, DType dtype, const void* x, const Layout& xl, void* out,
                        double scalar) {
  GALEN_CHECK(xl.ndim >= 0 && xl.ndim <= kMaxDims, "unary: bad ndim ", xl.ndim);
  int64_t out_strides[kMaxDims];
  contiguous_strides(xl.ndim, xl.sizes, out_strides);
  const int64_t* const strides[2] = {out_strides, xl.strides};
  const DimPlan<2> plan = plan_dims<2>(xl.ndim, xl.sizes, strides);
  const char* prim = unary_name(op);

  auto run = [&](auto tag, auto f) {
    using T = decltype(tag);
    launch_strided(plan, UnaryApply<T, decltype(f)>{static_cast<T*>(out), static_cast<const T*>(x), f},
                   prim);
  };

  const bool int_ok = op == UnaryOp::Neg || op == UnaryOp::Abs || op == UnaryOp::Sign ||
                      op == UnaryOp::Square;
  if (int_ok && (dtype == DType::i32 || dtype == DType::i64)) {
    auto run_int = [&](auto tag) {
      switch (op) {
        case UnaryOp::Neg: run(tag, UNeg{}); return;
        case UnaryOp::Abs: run(tag, UAbs{}); return;
        case UnaryOp::Sign: run(tag, USign{}); return;
        case UnaryOp::Square: run(tag, USquare{}); return;
        default: no_kernel(prim, DeviceType::CUDA, dtype);
      }
    };
    if (dtype == DType::i32) run_int(int32_t{});
    else run_int(int64_t{});
    return;
  }
  dispatch_float(dtype, prim, [&](auto tag) {
    switch (op) {
      case UnaryOp::Neg: run(tag, UNeg{}); return;
      case UnaryOp::Abs: run(tag, UAbs{}); return;
      case UnaryOp::Exp: run(tag, UExp{}); return;
      case UnaryOp::Log: run(tag, ULog{}); return;
      case UnaryOp::Sqrt: run(tag, USqrt{}); return;
      case UnaryOp::Rsqrt: run(tag, URsqrt{}); return;
      case UnaryOp::Sigmoid: run(tag, USigmoid{}); return;
      case UnaryOp::Tanh: run(tag, UTanh{}); return;
      case UnaryOp::Relu: run(tag, URelu{}); return;
      case UnaryOp::Gelu: run(tag, UGelu{}); return;
      case UnaryOp::PowScalar: run(tag, UPowScalar{scalar}); return;
      case UnaryOp::Sign: run(tag, USign{}); return;
      case UnaryOp::Square: run(tag, USquare{}); return;
      case UnaryOp::Reciprocal: run(tag, UReciprocal{}); return;
      case UnaryOp::GeluGrad: run(tag, UGeluGrad{}); return;
      case UnaryOp::Step: run(tag, UStep{}); return;
    }
    GALEN_FAIL("unary: unknown op ", static_cast<int>(op));
  });
}

void CudaBackend::binary(BinaryOp op, DType dtype, const void* a, const Layout& al, const void* b,
                         const Layout& bl, void* out) {
  const Layout* const ls[2] = {&al, &bl};
  const BroadcastShape<2> bs = broadcast_layouts<2>(binary_name(op), ls);
  int64_t out_strides[kMaxDims];
  contiguous_strides(bs.ndim, bs.sizes, out_strides);
  const int64_t* const strides[3] = {out_strides, bs.strides[0], bs.strides[1]};
  const DimPlan<3> plan = plan_dims<3>(bs.ndim, bs.sizes, strides);
  const char* prim = binary_name(op);

  auto run = [&](auto tag, auto f) {
    using T = decltype(tag);
    using R = std::conditional_t<std::is_same_v<decltype(f(T{}, T{})), bool>, bool, T>;
    launch_strided(plan,
                   BinaryApply<T, R, decltype(f)>{static_cast<R*>(out), static_cast<const T*>(a),
                                                  static_cast<const T*>(b), f},
                   prim);
  };

  if (is_comparison(op)) {
    dispatch_all(dtype, prim, [&](auto tag) {
      switch (op) {
        case BinaryOp::Eq: run(tag, BEq{}); return;
        case BinaryOp::Ne: run(tag, BNe{}); return;
        case BinaryOp::Lt: run(tag, BLt{}); return;
        case BinaryOp::Le: run(tag, BLe{}); return;
        case BinaryOp::Gt: run(tag, BGt{}); return;
        case BinaryOp::Ge: run(tag, BGe{}); return;
        default: break;
      }
      GALEN_FAIL(prim, ": not a comparison");
    });
    return;
  }
  if (op == BinaryOp::Div || op == BinaryOp::Pow) {
    dispatch_float(dtype, prim, [&](auto tag) {
      if (op == BinaryOp::Div) run(tag, BDiv{});
      else run(tag, BPow{});
    });
    return;
  }
  dispatch_numeric(dtype, prim, [&](auto tag) {
    switch (op) {
      case BinaryOp::Add: run(tag, BAdd{}); return;
      case BinaryOp::Sub: run(tag, BSub{}); return;
      case BinaryOp::Mul: run(tag, BMul{}); return;
      case BinaryOp::Maximum: run(tag, BMaximum{}); return;
      case BinaryOp::Minimum: run(tag, BMinimum{}); return;
      default: break;
    }
    GALEN_FAIL(prim, ": unexpected op");
  });
}

}  // namespace galen::kernels::cuda
