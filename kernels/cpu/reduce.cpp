// CPU reductions over the middle dim of an (outer, len, inner) block, and the
// row softmax kernels. inner == 1 reduces contiguous rows (several accumulators
// so the loop vectorises); inner > 1 sweeps len rows of a column block at a
// time. f32 sums accumulate in double, so results stay within ~1e-7 of ref.
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "galen/core/error.h"
#include "galen/kernels/cpu/common.h"
#include "galen/kernels/cpu/cpu_kernels.h"
#include "galen/kernels/ref/dispatch.h"

namespace galen::kernels::cpu {
namespace {

using namespace dispatch;

template <typename T>
using acc_t = std::conditional_t<std::is_floating_point_v<T>, double, T>;

// Columns handled together by the inner > 1 path (accumulators stay in L1).
constexpr int64_t kColBlock = 256;
// Independent accumulators of the row path.
constexpr int kLanes = 8;

enum class Kind { Sum, Prod, Max, Min };

template <typename T>
bool is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>) return v != v;
  else return false;
}

// Sum / product of a contiguous row.
template <Kind K, typename T>
acc_t<T> fold_row(const T* r, int64_t n) {
  using A = acc_t<T>;
  const A init = K == Kind::Sum ? A(0) : A(1);
  A lane[kLanes];
  for (int l = 0; l < kLanes; ++l) lane[l] = init;
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes)
    for (int l = 0; l < kLanes; ++l) {
      if constexpr (K == Kind::Sum) lane[l] = static_cast<A>(lane[l] + static_cast<A>(r[j + l]));
      else lane[l] = static_cast<A>(lane[l] * static_cast<A>(r[j + l]));
    }
  A acc = init;
  for (int l = 0; l < kLanes; ++l)
    acc = K == Kind::Sum ? static_cast<A>(acc + lane[l]) : static_cast<A>(acc * lane[l]);
  for (; j < n; ++j)
    acc = K == Kind::Sum ? static_cast<A>(acc + static_cast<A>(r[j]))
                         : static_cast<A>(acc * static_cast<A>(r[j]));
  return acc;
}

// Is v a better max/min candidate than the current best b? NaN beats anything.
// (Bitwise | and & keep these branch-free so the lane loops vectorise.)
template <Kind K, typename T>
inline bool better(T v, T b) {
  if constexpr (K == Kind::Max) return (v > b) | is_nan(v);
  else return (v < b) | is_nan(v);
}

// Max/min value of a non-empty contiguous row (NaN wins). The lane loop is a
// plain compare-select (vectorises to max/min instructions); NaNs are only
// flagged there and decide the result at the end.
template <Kind K, typename T>
T extreme_row(const T* r, int64_t n) {
  T lane[kLanes], nan[kLanes];
  for (int l = 0; l < kLanes; ++l) lane[l] = r[0], nan[l] = T(0);
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes)
    for (int l = 0; l < kLanes; ++l) {
      const T v = r[j + l];
      if constexpr (K == Kind::Max) lane[l] = v > lane[l] ? v : lane[l];
      else lane[l] = v < lane[l] ? v : lane[l];
      if constexpr (std::is_floating_point_v<T>) nan[l] = v != v ? T(1) : nan[l];
    }
  T best = lane[0];
  bool has_nan = false;
  for (int l = 0; l < kLanes; ++l) {
    has_nan |= nan[l] != T(0);
    if (better<K>(lane[l], best)) best = lane[l];
  }
  for (; j < n; ++j) {
    has_nan |= is_nan(r[j]);
    if (better<K>(r[j], best)) best = r[j];
  }
  if constexpr (std::is_floating_point_v<T>)
    if (has_nan || is_nan(r[0])) return std::numeric_limits<T>::quiet_NaN();
  return best;
}

// First index of value m in a row (NaN matches NaN); m is known to occur.
template <typename T>
int64_t find_first(const T* r, int64_t n, T m) {
  if (is_nan(m)) {
    for (int64_t j = 0; j < n; ++j)
      if (is_nan(r[j])) return j;
  } else {
    for (int64_t j = 0; j < n; ++j)
      if (r[j] == m) return j;
  }
  return 0;
}

template <Kind K, typename T>
void reduce_t(const T* x, int64_t outer, int64_t len, int64_t inner, T* out, int64_t* indices) {
  constexpr bool kFold = K == Kind::Sum || K == Kind::Prod;
  using A = acc_t<T>;
  const int64_t work = outer * len * inner;

  if (inner == 1) {
    const int nt = threads_for(work);
    if (outer >= nt || len < kParallelMin) {
      // One contiguous row per task.
      parallel_for(outer, work, [&](int64_t b, int64_t e) {
        for (int64_t o = b; o < e; ++o) {
          const T* r = x + o * len;
          if constexpr (kFold) {
            out[o] = static_cast<T>(fold_row<K>(r, len));
          } else {
            const T m = extreme_row<K>(r, len);
            const int64_t j = indices ? find_first(r, len, m) : 0;
            if (out) out[o] = indices ? r[j] : m;
            if (indices) indices[o] = j;
          }
        }
      });
      return;
    }
    // Few long rows: split each row over the threads, combine the partials in order.
    std::vector<A> part_acc(nt);
    std::vector<T> part_ext(nt);
    std::vector<char> part_any(nt);
    for (int64_t o = 0; o < outer; ++o) {
      const T* r = x + o * len;
      std::fill(part_any.begin(), part_any.end(), 0);
#pragma omp parallel num_threads(nt)
      {
        const int64_t t = omp_get_thread_num(), T_ = omp_get_num_threads();
        const int64_t b = len * t / T_, e = len * (t + 1) / T_;
        if (b < e) {
          part_any[t] = 1;
          if constexpr (kFold) part_acc[t] = fold_row<K>(r + b, e - b);
          else part_ext[t] = extreme_row<K>(r + b, e - b);
        }
      }
      if constexpr (kFold) {
        A acc = K == Kind::Sum ? A(0) : A(1);
        for (int t = 0; t < nt; ++t)
          if (part_any[t]) acc = K == Kind::Sum ? static_cast<A>(acc + part_acc[t]) : static_cast<A>(acc * part_acc[t]);
        out[o] = static_cast<T>(acc);
      } else {
        bool have = false;
        T m{};
        for (int t = 0; t < nt; ++t) {
          if (!part_any[t]) continue;
          if (!have || (!is_nan(m) && better<K>(part_ext[t], m))) m = part_ext[t];
          have = true;
        }
        const int64_t j = indices ? find_first(r, len, m) : 0;
        if (out) out[o] = indices ? r[j] : m;
        if (indices) indices[o] = j;
      }
    }
    return;
  }

  // inner > 1: tasks are (outer index, block of kColBlock columns).
  const int64_t nblk = (inner + kColBlock - 1) / kColBlock;
  parallel_for(outer * nblk, work, [&](int64_t tb, int64_t te) {
    A acc[kColBlock];
    T best[kColBlock];
    int64_t bi[kColBlock];
    for (int64_t task = tb; task < te; ++task) {
      const int64_t o = task / nblk, c0 = (task % nblk) * kColBlock;
      const int64_t w = std::min(kColBlock, inner - c0);
      const T* base = x + o * len * inner + c0;
      T* dst = out ? out + o * inner + c0 : nullptr;
      if constexpr (kFold) {
        for (int64_t c = 0; c < w; ++c) acc[c] = K == Kind::Sum ? A(0) : A(1);
        for (int64_t j = 0; j < len; ++j) {
          const T* r = base + j * inner;
          for (int64_t c = 0; c < w; ++c) {
            if constexpr (K == Kind::Sum) acc[c] = static_cast<A>(acc[c] + static_cast<A>(r[c]));
            else acc[c] = static_cast<A>(acc[c] * static_cast<A>(r[c]));
          }
        }
        for (int64_t c = 0; c < w; ++c) dst[c] = static_cast<T>(acc[c]);
      } else {
        for (int64_t c = 0; c < w; ++c) {
          best[c] = base[c];
          bi[c] = 0;
        }
        for (int64_t j = 1; j < len; ++j) {
          const T* r = base + j * inner;
          for (int64_t c = 0; c < w; ++c) {
            const bool take = !is_nan(best[c]) & better<K>(r[c], best[c]);
            best[c] = take ? r[c] : best[c];
            bi[c] = take ? j : bi[c];
          }
        }
        if (dst)
          for (int64_t c = 0; c < w; ++c) dst[c] = best[c];
        if (indices)
          for (int64_t c = 0; c < w; ++c) indices[o * inner + c0 + c] = bi[c];
      }
    }
  });
}

}  // namespace

void reduce(ReduceOp op, DType dt, const void* x, int64_t outer, int64_t len, int64_t inner,
            void* out, int64_t* indices) {
  on_type<kNumeric>(reduce_name(op), kDev, dt, [&](auto tag) {
    using T = decltype(tag);
    const T* px = static_cast<const T*>(x);
    T* po = static_cast<T*>(out);
    if (outer * inner == 0) return;
    if (len == 0) {
      GALEN_CHECK(op == ReduceOp::Sum || op == ReduceOp::Prod, reduce_name(op),
                  ": cannot reduce an empty dimension");
      fill(dt, out, outer * inner, op == ReduceOp::Sum ? 0.0 : 1.0);
      return;
    }
    switch (op) {
      case ReduceOp::Sum: return reduce_t<Kind::Sum>(px, outer, len, inner, po, nullptr);
      case ReduceOp::Prod: return reduce_t<Kind::Prod>(px, outer, len, inner, po, nullptr);
      case ReduceOp::Max: return reduce_t<Kind::Max>(px, outer, len, inner, po, indices);
      case ReduceOp::Min: return reduce_t<Kind::Min>(px, outer, len, inner, po, indices);
      case ReduceOp::ArgMax: return reduce_t<Kind::Max>(px, outer, len, inner, static_cast<T*>(nullptr), indices);
      case ReduceOp::ArgMin: return reduce_t<Kind::Min>(px, outer, len, inner, static_cast<T*>(nullptr), indices);
    }
  });
}

void softmax(DType dt, const void* x, int64_t rows, int64_t cols, void* out, bool log) {
  on_type<kFloat>(log ? "log_softmax" : "softmax", kDev, dt, [&](auto tag) {
    using T = decltype(tag);
    const T* px = static_cast<const T*>(x);
    T* po = static_cast<T*>(out);
    if (cols == 0) return;
    parallel_for(rows, rows * cols, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const T* row = px + r * cols;
        T* o = po + r * cols;
        const T m = extreme_row<Kind::Max>(row, cols);
        // exp(x - max) is stored in o, then summed in double.
        for (int64_t c = 0; c < cols; ++c) o[c] = std::exp(row[c] - m);
        const double s = fold_row<Kind::Sum>(o, cols);
        if (log) {
          // (x - max) first: it is exact or nearly so, and keeps the result
          // accurate when max is large (a rounded max + log(sum) would not).
          const T ls = static_cast<T>(std::log(s));
          for (int64_t c = 0; c < cols; ++c) o[c] = (row[c] - m) - ls;
        } else {
          const T inv = static_cast<T>(1.0 / s);
          for (int64_t c = 0; c < cols; ++c) o[c] *= inv;
        }
      }
    });
  });
}

void softmax_backward(DType dt, const void* y, const void* gy, int64_t rows, int64_t cols,
                      void* gx, bool log) {
  on_type<kFloat>(log ? "log_softmax_backward" : "softmax_backward", kDev, dt, [&](auto tag) {
    using T = decltype(tag);
    const T* py = static_cast<const T*>(y);
    const T* pg = static_cast<const T*>(gy);
    T* po = static_cast<T*>(gx);
    parallel_for(rows, rows * cols, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const T* yr = py + r * cols;
        const T* gr = pg + r * cols;
        T* o = po + r * cols;
        if (log) {
          const T s = static_cast<T>(fold_row<Kind::Sum>(gr, cols));
          for (int64_t c = 0; c < cols; ++c) o[c] = gr[c] - std::exp(yr[c]) * s;
        } else {
          double lane[kLanes] = {};
          int64_t c = 0;
          for (; c + kLanes <= cols; c += kLanes)
            for (int l = 0; l < kLanes; ++l)
              lane[l] += static_cast<double>(gr[c + l]) * static_cast<double>(yr[c + l]);
          double dot = 0;
          for (int l = 0; l < kLanes; ++l) dot += lane[l];
          for (; c < cols; ++c) dot += static_cast<double>(gr[c]) * static_cast<double>(yr[c]);
          const T d = static_cast<T>(dot);
          for (int64_t c2 = 0; c2 < cols; ++c2) o[c2] = yr[c2] * (gr[c2] - d);
        }
      }
    });
  });
}

}  // namespace galen::kernels::cpu
