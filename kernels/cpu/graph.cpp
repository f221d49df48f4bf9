// CPU graph primitives (message-passing aggregation). Every kernel first groups
// the rows by segment with a stable counting sort of `index` (O(E + N), skipped
// when index is already sorted, as a batch vector or target-sorted edges are),
// then splits the *segments* over the OpenMP pool: each thread owns whole
// output rows, so there are no races and no atomics, and each segment is
// reduced in row order, which makes the results deterministic and equal to the
// reference loops' order.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "galen/kernels/cpu/common.h"
#include "galen/kernels/cpu/cpu_kernels.h"
#include "galen/kernels/ref/dispatch.h"

namespace galen::kernels::cpu {

using namespace dispatch;

namespace {

// Rows of segment n are rows[offsets[n] .. offsets[n+1]) (rows == nullptr:
// the identity, index was sorted).
struct Segments {
  std::vector<int64_t> offsets;
  std::vector<int64_t> perm;
  const int64_t* rows = nullptr;
  int64_t row(int64_t k) const { return rows == nullptr ? k : rows[k]; }
};

Segments make_segments(const int64_t* index, int64_t E, int64_t N) {
  Segments s;
  s.offsets.assign(static_cast<size_t>(N + 1), 0);
  bool sorted = true;
  for (int64_t e = 0; e < E; ++e) {
    ++s.offsets[static_cast<size_t>(index[e] + 1)];
    if (e > 0 && index[e] < index[e - 1]) sorted = false;
  }
  for (int64_t n = 0; n < N; ++n) s.offsets[static_cast<size_t>(n + 1)] += s.offsets[static_cast<size_t>(n)];
  if (sorted) return s;
  s.perm.resize(static_cast<size_t>(E));
  std::vector<int64_t> next(s.offsets.begin(), s.offsets.end() - 1);
  for (int64_t e = 0; e < E; ++e) s.perm[static_cast<size_t>(next[static_cast<size_t>(index[e])]++)] = e;
  s.rows = s.perm.data();
  return s;
}

}  // namespace

void scatter_reduce(Backend::ScatterReduce op, DType dt, const void* src, int64_t E, int64_t F,
                    const int64_t* index, int64_t N, void* out, int64_t* arg) {
  on_type<kFloat>("scatter_reduce", kDev, dt, [&](auto tag) {
    using T = decltype(tag);
    const T* ps = static_cast<const T*>(src);
    T* po = static_cast<T*>(out);
    const Segments seg = make_segments(index, E, N);
    parallel_for(N, (E + N) * F, [&](int64_t b, int64_t e) {
      for (int64_t n = b; n < e; ++n) {
        T* o = po + n * F;
        int64_t* a = arg != nullptr ? arg + n * F : nullptr;
        const int64_t k0 = seg.offsets[static_cast<size_t>(n)], k1 = seg.offsets[static_cast<size_t>(n + 1)];
        if (k0 == k1) {
          std::fill_n(o, F, T(0));
          if (a != nullptr) std::fill_n(a, F, int64_t{-1});
          continue;
        }
        if (op == Backend::ScatterReduce::Max) {
          const int64_t r0 = seg.row(k0);
          std::copy_n(ps + r0 * F, F, o);
          if (a != nullptr) std::fill_n(a, F, r0);
          for (int64_t k = k0 + 1; k < k1; ++k) {
            const int64_t r = seg.row(k);
            const T* s = ps + r * F;
            for (int64_t f = 0; f < F; ++f) {
              const bool take = s[f] > o[f] || (std::isnan(s[f]) && !std::isnan(o[f]));
              if (take) {
                o[f] = s[f];
                if (a != nullptr) a[f] = r;
              }
            }
          }
          continue;
        }
        std::copy_n(ps + seg.row(k0) * F, F, o);
        for (int64_t k = k0 + 1; k < k1; ++k) {
          const T* s = ps + seg.row(k) * F;
          for (int64_t f = 0; f < F; ++f) o[f] += s[f];
        }
        if (op == Backend::ScatterReduce::Mean) {
          const T c = static_cast<T>(k1 - k0);
          for (int64_t f = 0; f < F; ++f) o[f] /= c;
        }
      }
    });
  });
}

void scatter_max_backward(DType dt, const void* gout, const int64_t* arg, int64_t N, int64_t F, int64_t E,
                          void* gsrc) {
  on_type<kFloat>("scatter_max_backward", kDev, dt, [&](auto tag) {
    using T = decltype(tag);
    const T* g = static_cast<const T*>(gout);
    T* gs = static_cast<T*>(gsrc);
    fill(dt, gsrc, E * F, 0.0);
    // Distinct (n, f) never share a target: row arg[n, f] belongs to segment n only.
    parallel_for(N, N * F, [&](int64_t b, int64_t e) {
      for (int64_t i = b * F; i < e * F; ++i) {
        const int64_t r = arg[i];
        if (r >= 0) gs[r * F + i % F] = g[i];
      }
    });
  });
}

void segment_softmax(DType dt, const void* src, int64_t E, int64_t F, const int64_t* index, int64_t N, void* out) {
  on_type<kFloat>("segment_softmax", kDev, dt, [&](auto tag) {
    using T = decltype(tag);
    const T* ps = static_cast<const T*>(src);
    T* po = static_cast<T*>(out);
    const Segments seg = make_segments(index, E, N);
    parallel_for(N, (E + N) * F * 4, [&](int64_t b, int64_t e) {
      std::vector<double> m(static_cast<size_t>(F)), z(static_cast<size_t>(F));
      for (int64_t n = b; n < e; ++n) {
        const int64_t k0 = seg.offsets[static_cast<size_t>(n)], k1 = seg.offsets[static_cast<size_t>(n + 1)];
        if (k0 == k1) continue;
        std::fill(m.begin(), m.end(), -std::numeric_limits<double>::infinity());
        std::fill(z.begin(), z.end(), 0.0);
        for (int64_t k = k0; k < k1; ++k) {
          const T* s = ps + seg.row(k) * F;
          for (int64_t f = 0; f < F; ++f) m[f] = std::fmax(m[f], static_cast<double>(s[f]));
        }
        for (int64_t k = k0; k < k1; ++k) {
          const T* s = ps + seg.row(k) * F;
          for (int64_t f = 0; f < F; ++f) z[f] += std::exp(static_cast<double>(s[f]) - m[f]);
        }
        for (int64_t k = k0; k < k1; ++k) {
          const int64_t r = seg.row(k);
          const T* s = ps + r * F;
          T* o = po + r * F;
          for (int64_t f = 0; f < F; ++f) o[f] = static_cast<T>(std::exp(static_cast<double>(s[f]) - m[f]) / z[f]);
        }
      }
    });
  });
}

void segment_softmax_backward(DType dt, const void* y, const void* gy, int64_t E, int64_t F, const int64_t* index,
                              int64_t N, void* gx) {
  on_type<kFloat>("segment_softmax_backward", kDev, dt, [&](auto tag) {
    using T = decltype(tag);
    const T* py = static_cast<const T*>(y);
    const T* pg = static_cast<const T*>(gy);
    T* po = static_cast<T*>(gx);
    const Segments seg = make_segments(index, E, N);
    parallel_for(N, (E + N) * F * 2, [&](int64_t b, int64_t e) {
      std::vector<double> dot(static_cast<size_t>(F));
      for (int64_t n = b; n < e; ++n) {
        const int64_t k0 = seg.offsets[static_cast<size_t>(n)], k1 = seg.offsets[static_cast<size_t>(n + 1)];
        if (k0 == k1) continue;
        std::fill(dot.begin(), dot.end(), 0.0);
        for (int64_t k = k0; k < k1; ++k) {
          const int64_t r = seg.row(k);
          for (int64_t f = 0; f < F; ++f)
            dot[f] += static_cast<double>(pg[r * F + f]) * static_cast<double>(py[r * F + f]);
        }
        for (int64_t k = k0; k < k1; ++k) {
          const int64_t r = seg.row(k);
          for (int64_t f = 0; f < F; ++f)
            po[r * F + f] =
                static_cast<T>(static_cast<double>(py[r * F + f]) * (static_cast<double>(pg[r * F + f]) - dot[f]));
        }
      }
    });
  });
}

}  // namespace galen::kernels::cpu
