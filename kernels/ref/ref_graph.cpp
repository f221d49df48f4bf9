// Reference loops for the graph primitives: one segment (destination node) at a
// time, straight from the definitions in kernels/backend.h, math in double.
// Every loop scans all E rows per segment (O(N*E)): slow but obviously right.
#include <cmath>
#include <vector>

#include "galen/kernels/ref/dispatch.h"
#include "galen/kernels/ref/ref_graph.h"

namespace galen::kernels::ref {

using namespace dispatch;
namespace {
constexpr DeviceType kDev = DeviceType::CPU;
}

void scatter_reduce(Backend::ScatterReduce op, DType dt, const void* src, int64_t E, int64_t F,
                    const int64_t* index, int64_t N, void* out, int64_t* arg) {
  on_type<kFloat>("scatter_reduce", kDev, dt, [&](auto tag) {
    using T = decltype(tag);
    const T* s = static_cast<const T*>(src);
    T* o = static_cast<T*>(out);
    for (int64_t n = 0; n < N; ++n) {
      for (int64_t f = 0; f < F; ++f) {
        double acc = 0.0;
        int64_t count = 0, best = -1;
        for (int64_t e = 0; e < E; ++e) {
          if (index[e] != n) continue;
          const double v = s[e * F + f];
          ++count;
          if (op == Backend::ScatterReduce::Max) {
            // The first maximum wins; a NaN beats every number, the first NaN stays.
            const bool take = best < 0 || (std::isnan(v) && !std::isnan(acc)) || v > acc;
            if (take) {
              acc = v;
              best = e;
            }
          } else {
            acc += v;
          }
        }
        if (op == Backend::ScatterReduce::Mean && count > 0) acc /= static_cast<double>(count);
        o[n * F + f] = static_cast<T>(count > 0 ? acc : 0.0);
        if (arg != nullptr) arg[n * F + f] = best;
      }
    }
  });
}

void scatter_max_backward(DType dt, const void* gout, const int64_t* arg, int64_t N, int64_t F, int64_t E,
                          void* gsrc) {
  on_type<kFloat>("scatter_max_backward", kDev, dt, [&](auto tag) {
    using T = decltype(tag);
    const T* g = static_cast<const T*>(gout);
    T* gs = static_cast<T*>(gsrc);
    for (int64_t i = 0; i < E * F; ++i) gs[i] = T(0);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t f = 0; f < F; ++f) {
        const int64_t e = arg[n * F + f];
        if (e >= 0) gs[e * F + f] = g[n * F + f];
      }
  });
}

void segment_softmax(DType dt, const void* src, int64_t E, int64_t F, const int64_t* index, int64_t N, void* out) {
  on_type<kFloat>("segment_softmax", kDev, dt, [&](auto tag) {
    using T = decltype(tag);
    const T* s = static_cast<const T*>(src);
    T* o = static_cast<T*>(out);
    for (int64_t n = 0; n < N; ++n) {
      for (int64_t f = 0; f < F; ++f) {
        double m = -INFINITY;
        bool any = false;
        for (int64_t e = 0; e < E; ++e)
          if (index[e] == n) {
            any = true;
            m = std::fmax(m, static_cast<double>(s[e * F + f]));
          }
        if (!any) continue;
        double z = 0.0;
        for (int64_t e = 0; e < E; ++e)
          if (index[e] == n) z += std::exp(static_cast<double>(s[e * F + f]) - m);
        for (int64_t e = 0; e < E; ++e)
          if (index[e] == n) o[e * F + f] = static_cast<T>(std::exp(static_cast<double>(s[e * F + f]) - m) / z);
      }
    }
  });
}

void segment_softmax_backward(DType dt, const void* y, const void* gy, int64_t E, int64_t F, const int64_t* index,
                              int64_t N, void* gx) {
  on_type<kFloat>("segment_softmax_backward", kDev, dt, [&](auto tag) {
    using T = decltype(tag);
    const T* py = static_cast<const T*>(y);
    const T* pg = static_cast<const T*>(gy);
    T* o = static_cast<T*>(gx);
    for (int64_t n = 0; n < N; ++n) {
      for (int64_t f = 0; f < F; ++f) {
        double dot = 0.0;
        for (int64_t e = 0; e < E; ++e)
          if (index[e] == n) dot += static_cast<double>(pg[e * F + f]) * static_cast<double>(py[e * F + f]);
        for (int64_t e = 0; e < E; ++e)
          if (index[e] == n)
            o[e * F + f] = static_cast<T>(static_cast<double>(py[e * F + f]) * (static_cast<double>(pg[e * F + f]) - dot));
      }
    }
  });
}

}  // namespace galen::kernels::ref
