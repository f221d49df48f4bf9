// Shared machinery of the CPU kernels: when to go parallel, how to split work
// over the OpenMP pool, and the strided/broadcast iteration plan used by every
// elementwise family (collapse mergeable dims, walk the innermost one).
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>

#include "galen/core/dtype.h"
#include "galen/kernels/backend.h"

namespace galen::kernels::cpu {

// Below this many elements of work a parallel region costs more than it saves.
inline constexpr int64_t kParallelMin = 32768;

// Threads worth using for `work` element-operations (1 inside a parallel region).
inline int threads_for(int64_t work) {
  if (work < kParallelMin || omp_in_parallel()) return 1;
  return omp_get_max_threads();
}

// Calls f(begin, end) on contiguous pieces of [0, n), one per thread; `work` is
// the total cost used for the parallel/serial decision. f must not throw.
template <typename F>
void parallel_for(int64_t n, int64_t work, F&& f) {
  if (n <= 0) return;
  const int nt = static_cast<int>(std::min<int64_t>(threads_for(work), n));
  if (nt <= 1) {
    f(int64_t{0}, n);
    return;
  }
#pragma omp parallel num_threads(nt)
  {
    const int64_t t = omp_get_thread_num(), T = omp_get_num_threads();
    const int64_t b = n / T * t + std::min(t, n % T);
    const int64_t e = b + n / T + (t < n % T ? 1 : 0);
    if (b < e) f(b, e);
  }
}

// N operands over one iteration space (operand 0 is usually the output).
// Dims of size 1 are dropped and neighbouring dims merged whenever every
// operand's strides allow it, so a contiguous tensor becomes one flat dim.
template <int N>
struct Plan {
  int ndim = 1;
  int64_t numel = 1;
  int64_t sizes[kMaxDims] = {1};
  int64_t strides[N][kMaxDims] = {};

  // sizes: the iteration shape (ndim dims); st[k]: operand k's element strides
  // (a dim an operand broadcasts along must have stride 0 there).
  Plan(int nd, const int64_t* sz, const int64_t* const (&st)[N]) {
    numel = 1;
    for (int d = 0; d < nd; ++d) numel *= sz[d];
    int m = 0;
    for (int d = 0; d < nd; ++d) {
      if (sz[d] == 1) continue;
      bool merge = m > 0;
      for (int k = 0; k < N && merge; ++k)
        merge = strides[k][m - 1] == st[k][d] * sz[d];
      if (merge) {
        sizes[m - 1] *= sz[d];
        for (int k = 0; k < N; ++k) strides[k][m - 1] = st[k][d];
      } else {
        sizes[m] = sz[d];
        for (int k = 0; k < N; ++k) strides[k][m] = st[k][d];
        ++m;
      }
    }
    if (m == 0) {  // a single element
      m = 1;
      sizes[0] = 1;
      for (int k = 0; k < N; ++k) strides[k][0] = 0;
    }
    ndim = m;
  }

  int64_t inner_stride(int k) const { return strides[k][ndim - 1]; }

  // Calls f(off, len) for runs of the innermost dim covering flat positions
  // [begin, end): off[k] is operand k's element offset of the run's first
  // element, consecutive elements are inner_stride(k) apart.
  template <typename F>
  void run(int64_t begin, int64_t end, F&& f) const {
    if (begin >= end) return;
    int64_t idx[kMaxDims];
    int64_t off[N] = {};
    int64_t rem = begin;
    for (int d = ndim - 1; d >= 0; --d) {
      idx[d] = rem % sizes[d];
      rem /= sizes[d];
      for (int k = 0; k < N; ++k) off[k] += idx[d] * strides[k][d];
    }
    const int last = ndim - 1;
    const int64_t inner = sizes[last];
    int64_t pos = begin;
    while (true) {
      const int64_t len = std::min(inner - idx[last], end - pos);
      f(static_cast<const int64_t*>(off), len);
      pos += len;
      if (pos >= end) return;
      // The run ended at the end of the inner dim: carry into the outer dims.
      for (int k = 0; k < N; ++k) off[k] -= idx[last] * strides[k][last];
      idx[last] = 0;
      for (int d = last - 1; d >= 0; --d) {
        for (int k = 0; k < N; ++k) off[k] += strides[k][d];
        if (++idx[d] < sizes[d]) break;
        for (int k = 0; k < N; ++k) off[k] -= sizes[d] * strides[k][d];
        idx[d] = 0;
      }
    }
  }

  // run() over the whole space, split across threads when it is large.
  template <typename F>
  void run_parallel(F&& f) const {
    parallel_for(numel, numel, [&](int64_t b, int64_t e) { run(b, e, f); });
  }
};

// Strides of `l` read against the iteration shape `sizes`: a size-1 dim of `l`
// facing a larger (or empty) dim broadcasts, i.e. gets stride 0.
inline void broadcast_strides(const Layout& l, const int64_t* sizes, int64_t* out) {
  for (int d = 0; d < l.ndim; ++d) out[d] = (l.sizes[d] == 1 && sizes[d] != 1) ? 0 : l.strides[d];
}

inline void contiguous_strides(int nd, const int64_t* sizes, int64_t* out) {
  int64_t s = 1;
  for (int d = nd - 1; d >= 0; --d) {
    out[d] = s;
    s *= sizes[d];
  }
}

}  // namespace galen::kernels::cpu
