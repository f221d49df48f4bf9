// CPU kernels for convolution (im2col / col2im), pooling and batch norm.
// Parallel over channels or planes, so every thread writes its own part of the
// output and accumulating kernels (col2im, pool backward) need no atomics.
// Batch-norm reductions accumulate in double for f32 and f64.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "galen/core/error.h"
#include "galen/kernels/cpu/common.h"
#include "galen/kernels/cpu/cpu_kernels.h"
#include "galen/kernels/ref/dispatch.h"

namespace galen::kernels::cpu {

using namespace dispatch;

namespace {

// ceil(a / b) for b > 0 and any sign of a.
inline int64_t ceil_div(int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }

// Output positions o in [lo, hi) whose input index o*S - P + k*D lies in [0, n).
inline void valid_range(int64_t n, int64_t S, int64_t P, int64_t kd, int64_t out, int64_t& lo, int64_t& hi) {
  lo = std::clamp<int64_t>(ceil_div(P - kd, S), 0, out);
  hi = std::clamp<int64_t>(ceil_div(n + P - kd, S), lo, out);
}

}  // namespace

// x (C, H, W) -> cols (C*KH*KW, OH*OW)
void im2col(DType dt, const void* x, const Conv2dGeometry& g, void* cols) {
  on_type<kFloat>("im2col", kDev, dt, [&](auto tag) {
    using T = decltype(tag);
    const T* px = static_cast<const T*>(x);
    T* pc = static_cast<T*>(cols);
    const int64_t L = g.OH * g.OW;
    parallel_for(g.C, g.C * g.KH * g.KW * L, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        const T* plane = px + c * g.H * g.W;
        for (int64_t kh = 0; kh < g.KH; ++kh)
          for (int64_t kw = 0; kw < g.KW; ++kw) {
            T* row = pc + ((c * g.KH + kh) * g.KW + kw) * L;
            int64_t olo, ohi;
            valid_range(g.W, g.SW, g.PW, kw * g.DW, g.OW, olo, ohi);
            for (int64_t oh = 0; oh < g.OH; ++oh) {
              T* dst = row + oh * g.OW;
              const int64_t h = oh * g.SH - g.PH + kh * g.DH;
              if (h < 0 || h >= g.H) {
                std::fill_n(dst, g.OW, T(0));
                continue;
              }
              std::fill_n(dst, olo, T(0));
              const T* src = plane + h * g.W - g.PW + kw * g.DW;  // + ow*SW
              if (g.SW == 1) {
                if (ohi > olo) std::memcpy(dst + olo, src + olo, (ohi - olo) * sizeof(T));
              } else {
                for (int64_t ow = olo; ow < ohi; ++ow) dst[ow] = src[ow * g.SW];
              }
              std::fill_n(dst + ohi, g.OW - ohi, T(0));
            }
          }
      }
    });
  });
}

// x (C, H, W) = sum of the cols entries that read each element.
void col2im(DType dt, const void* cols, const Conv2dGeometry& g, void* x) {
  on_type<kFloat>("col2im", kDev, dt, [&](auto tag) {
    using T = decltype(tag);
    const T* pc = static_cast<const T*>(cols);
    T* px = static_cast<T*>(x);
    const int64_t L = g.OH * g.OW;
    parallel_for(g.C, g.C * g.KH * g.KW * L, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        T* plane = px + c * g.H * g.W;
        std::fill_n(plane, g.H * g.W, T(0));
        for (int64_t kh = 0; kh < g.KH; ++kh)
          for (int64_t kw = 0; kw < g.KW; ++kw) {
            const T* row = pc + ((c * g.KH + kh) * g.KW + kw) * L;
            int64_t olo, ohi;
            valid_range(g.W, g.SW, g.PW, kw * g.DW, g.OW, olo, ohi);
            for (int64_t oh = 0; oh < g.OH; ++oh) {
              const int64_t h = oh * g.SH - g.PH + kh * g.DH;
              if (h < 0 || h >= g.H) continue;
              const T* src = row + oh * g.OW;
              T* dst = plane + h * g.W - g.PW + kw * g.DW;
              if (g.SW == 1) {
                for (int64_t ow = olo; ow < ohi; ++ow) dst[ow] += src[ow];
              } else {
                for (int64_t ow = olo; ow < ohi; ++ow) dst[ow * g.SW] += src[ow];
              }
            }
          }
      }
    });
  });
}

namespace {
// One output of max pooling, scanning the window row by row: the first maximum
// wins, and the first NaN wins over everything.
template <typename T>
inline void max_window(const T* plane, const Conv2dGeometry& g, int64_t hs, int64_t klo, int64_t khi, int64_t ws,
                       T& best_out, int64_t& idx_out) {
  const int64_t jlo = std::max<int64_t>(0, ceil_div(-ws, g.DW));
  const int64_t jhi = std::min<int64_t>(g.KW, ceil_div(g.W - ws, g.DW));
  T best = -std::numeric_limits<T>::infinity();
  int64_t best_i = -1;
  for (int64_t kh = klo; kh < khi && !(best_i >= 0 && std::isnan(best)); ++kh) {
    const int64_t h = hs + kh * g.DH;
    for (int64_t kw = jlo; kw < jhi; ++kw) {
      const int64_t i = h * g.W + ws + kw * g.DW;
      const T v = plane[i];
      if (best_i < 0 || v > best || std::isnan(v)) {
        best = v;
        best_i = i;
        if (std::isnan(v)) break;
      }
    }
  }
  best_out = best;
  idx_out = best_i;
}
}  // namespace

// x (planes, H, W) -> out (planes, OH, OW), indices of the first maximum (NaN wins).
// Per output row: the columns whose window lies inside the input ([ia, ib)) run
// as a branch-free loop over the window offsets, vectorisable across the row
// (select on v > best, or v NaN while best is not: the same first-maximum /
// first-NaN rule as the scalar scan); the edge columns use the scalar scan.
void max_pool2d(DType dt, const void* x, int64_t planes, const Conv2dGeometry& g, void* out, int64_t* indices) {
  on_type<kFloat>("max_pool2d", kDev, dt, [&](auto tag) {
    using T = decltype(tag);
    const T* px = static_cast<const T*>(x);
    T* po = static_cast<T*>(out);
    const int64_t L = g.OH * g.OW;
    // Interior columns: ow*SW - PW >= 0 and ow*SW - PW + (KW-1)*DW < W.
    const int64_t ia = std::min(g.OW, ceil_div(g.PW, g.SW));
    const int64_t ib = std::max(ia, std::min(g.OW, ceil_div(g.W + g.PW - (g.KW - 1) * g.DW, g.SW)));
    parallel_for(planes, planes * L * g.KH * g.KW, [&](int64_t p0, int64_t p1) {
      std::vector<int64_t> idx_row(static_cast<size_t>(g.OW));
      for (int64_t p = p0; p < p1; ++p) {
        const T* plane = px + p * g.H * g.W;
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          const int64_t hs = oh * g.SH - g.PH;
          const int64_t klo = std::max<int64_t>(0, ceil_div(-hs, g.DH));  // kernel rows inside the input
          const int64_t khi = std::min<int64_t>(g.KH, ceil_div(g.H - hs, g.DH));
          T* orow = po + p * L + oh * g.OW;
          int64_t* irow = indices ? indices + p * L + oh * g.OW : idx_row.data();
          for (int64_t ow = 0; ow < ia; ++ow) max_window(plane, g, hs, klo, khi, ow * g.SW - g.PW, orow[ow], irow[ow]);
          if (ib > ia && khi > klo) {
            // First window element, then the rest in scan order.
            const int64_t base0 = (hs + klo * g.DH) * g.W - g.PW;
#pragma omp simd
            for (int64_t ow = ia; ow < ib; ++ow) {
              orow[ow] = plane[base0 + ow * g.SW];
              irow[ow] = base0 + ow * g.SW;
            }
            for (int64_t kh = klo; kh < khi; ++kh)
              for (int64_t kw = (kh == klo ? 1 : 0); kw < g.KW; ++kw) {
                const int64_t base = (hs + kh * g.DH) * g.W - g.PW + kw * g.DW;
#pragma omp simd
                for (int64_t ow = ia; ow < ib; ++ow) {
                  const T v = plane[base + ow * g.SW];
                  const T b = orow[ow];
                  const bool take = v > b || (v != v && b == b);
                  orow[ow] = take ? v : b;
                  irow[ow] = take ? base + ow * g.SW : irow[ow];
                }
              }
          } else {
            for (int64_t ow = ia; ow < ib; ++ow)
              max_window(plane, g, hs, klo, khi, ow * g.SW - g.PW, orow[ow], irow[ow]);
          }
          for (int64_t ow = ib; ow < g.OW; ++ow)
            max_window(plane, g, hs, klo, khi, ow * g.SW - g.PW, orow[ow], irow[ow]);
        }
      }
    });
  });
}

void max_pool2d_backward(DType dt, const void* gout, const int64_t* indices, int64_t planes,
                         const Conv2dGeometry& g, void* gx) {
  on_type<kFloat>("max_pool2d_backward", kDev, dt, [&](auto tag) {
    using T = decltype(tag);
    const T* pg = static_cast<const T*>(gout);
    T* px = static_cast<T*>(gx);
    const int64_t L = g.OH * g.OW, HW = g.H * g.W;
    parallel_for(planes, planes * (L + HW), [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) {
        T* plane = px + p * HW;
        std::fill_n(plane, HW, T(0));
        for (int64_t o = 0; o < L; ++o) {
          const int64_t i = indices[p * L + o];
          if (i >= 0) plane[i] += pg[p * L + o];
        }
      }
    });
  });
}

namespace {
// PyTorch's average-pool window clipped to the input, and its divisor.
struct Window {
  int64_t hs, he, ws, we, div;
};
inline Window avg_window(const Conv2dGeometry& g, int64_t oh, int64_t ow, bool cip) {
  int64_t hs = oh * g.SH - g.PH, ws = ow * g.SW - g.PW;
  int64_t he = std::min(hs + g.KH, g.H + g.PH), we = std::min(ws + g.KW, g.W + g.PW);
  const int64_t padded = (he - hs) * (we - ws);
  hs = std::max<int64_t>(hs, 0);
  ws = std::max<int64_t>(ws, 0);
  he = std::min(he, g.H);
  we = std::min(we, g.W);
  return {hs, he, ws, we, cip ? padded : (he - hs) * (we - ws)};
}
}  // namespace

void avg_pool2d(DType dt, const void* x, int64_t planes, const Conv2dGeometry& g, bool cip, void* out) {
  on_type<kFloat>("avg_pool2d", kDev, dt, [&](auto tag) {
    using T = decltype(tag);
    using Acc = double;
    const T* px = static_cast<const T*>(x);
    T* po = static_cast<T*>(out);
    const int64_t L = g.OH * g.OW;
    parallel_for(planes, planes * L * g.KH * g.KW, [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) {
        const T* plane = px + p * g.H * g.W;
        for (int64_t oh = 0; oh < g.OH; ++oh)
          for (int64_t ow = 0; ow < g.OW; ++ow) {
            const Window w = avg_window(g, oh, ow, cip);
            Acc s = 0;
            for (int64_t h = w.hs; h < w.he; ++h)
              for (int64_t c = w.ws; c < w.we; ++c) s += plane[h * g.W + c];
            po[p * L + oh * g.OW + ow] = static_cast<T>(w.div > 0 ? s / static_cast<Acc>(w.div) : Acc(0));
          }
      }
    });
  });
}

void avg_pool2d_backward(DType dt, const void* gout, int64_t planes, const Conv2dGeometry& g, bool cip,
                         void* gx) {
  on_type<kFloat>("avg_pool2d_backward", kDev, dt, [&](auto tag) {
    using T = decltype(tag);
    const T* pg = static_cast<const T*>(gout);
    T* px = static_cast<T*>(gx);
    const int64_t L = g.OH * g.OW, HW = g.H * g.W;
    parallel_for(planes, planes * (L * g.KH * g.KW + HW), [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) {
        T* plane = px + p * HW;
        std::fill_n(plane, HW, T(0));
        for (int64_t oh = 0; oh < g.OH; ++oh)
          for (int64_t ow = 0; ow < g.OW; ++ow) {
            const Window w = avg_window(g, oh, ow, cip);
            if (w.div <= 0) continue;
            const T v = static_cast<T>(static_cast<double>(pg[p * L + oh * g.OW + ow]) / w.div);
            for (int64_t h = w.hs; h < w.he; ++h)
              for (int64_t c = w.ws; c < w.we; ++c) plane[h * g.W + c] += v;
          }
      }
    });
  });
}

// x (N, C, S): per-channel mean and biased variance, two passes in double.
void channel_stats(DType dt, const void* x, int64_t N, int64_t C, int64_t S, void* mean, void* var) {
  on_type<kFloat>("channel_stats", kDev, dt, [&](auto tag) {
    using T = decltype(tag);
    const T* px = static_cast<const T*>(x);
    const double M = static_cast<double>(N * S);
    parallel_for(C, 2 * N * C * S, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        double s = 0;
        for (int64_t n = 0; n < N; ++n) {
          const T* r = px + (n * C + c) * S;
          double rs = 0;
#pragma omp simd reduction(+ : rs)
          for (int64_t i = 0; i < S; ++i) rs += static_cast<double>(r[i]);
          s += rs;
        }
        const double mu = M > 0 ? s / M : 0.0;
        double q = 0;
        for (int64_t n = 0; n < N; ++n) {
          const T* r = px + (n * C + c) * S;
          double rq = 0;
#pragma omp simd reduction(+ : rq)
          for (int64_t i = 0; i < S; ++i) {
            const double d = static_cast<double>(r[i]) - mu;
            rq += d * d;
          }
          q += rq;
        }
        static_cast<T*>(mean)[c] = static_cast<T>(mu);
        static_cast<T*>(var)[c] = static_cast<T>(M > 0 ? q / M : 0.0);
      }
    });
  });
}

// y = (x - mean[c]) * a[c] + b[c] with a = invstd*w (subtracting first keeps f32
// accurate when |mean| >> std).
void channel_affine(DType dt, const void* x, int64_t N, int64_t C, int64_t S, const void* mean,
                    const void* invstd, const void* w, const void* b, void* y) {
  on_type<kFloat>("channel_affine", kDev, dt, [&](auto tag) {
    using T = decltype(tag);
    const T* px = static_cast<const T*>(x);
    const T *pm = static_cast<const T*>(mean), *pi = static_cast<const T*>(invstd);
    const T *pw = static_cast<const T*>(w), *pb = static_cast<const T*>(b);
    T* py = static_cast<T*>(y);
    parallel_for(N * C, N * C * S, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t c = r % C;
        const double a = static_cast<double>(pi[c]) * (pw ? static_cast<double>(pw[c]) : 1.0);
        const T sa = static_cast<T>(a);
        const T sb = pb ? pb[c] : T(0);
        const T m = pm[c];
        const T* xr = px + r * S;
        T* yr = py + r * S;
#pragma omp simd
        for (int64_t i = 0; i < S; ++i) yr[i] = (xr[i] - m) * sa + sb;
      }
    });
  });
}

// Training-mode batch-norm backward, one channel per task:
// gx = w*invstd*(gy - mean(gy) - xhat*mean(gy*xhat)), gw = sum(gy*xhat), gb = sum(gy).
void batch_norm_backward(DType dt, const void* x, const void* gy, int64_t N, int64_t C, int64_t S,
                         const void* mean, const void* invstd, const void* w, void* gx, void* gw, void* gb) {
  on_type<kFloat>("batch_norm_backward", kDev, dt, [&](auto tag) {
    using T = decltype(tag);
    const T *px = static_cast<const T*>(x), *pg = static_cast<const T*>(gy);
    const T *pm = static_cast<const T*>(mean), *pi = static_cast<const T*>(invstd);
    const T* pw = static_cast<const T*>(w);
    const double M = static_cast<double>(N * S);
    parallel_for(C, 3 * N * C * S, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        const double mu = pm[c], is = pi[c];
        double sg = 0, sgx = 0;  // sum(gy), sum(gy * (x - mean))
        for (int64_t n = 0; n < N; ++n) {
          const T *xr = px + (n * C + c) * S, *gr = pg + (n * C + c) * S;
          double a = 0, b = 0;
#pragma omp simd reduction(+ : a, b)
          for (int64_t i = 0; i < S; ++i) {
            const double gv = gr[i];
            a += gv;
            b += gv * (static_cast<double>(xr[i]) - mu);
          }
          sg += a;
          sgx += b;
        }
        sgx *= is;  // sum(gy * xhat)
        if (gb) static_cast<T*>(gb)[c] = static_cast<T>(sg);
        if (gw) static_cast<T*>(gw)[c] = static_cast<T>(sgx);
        if (!gx || M == 0) continue;
        const double scale = (pw ? static_cast<double>(pw[c]) : 1.0) * is;
        // gx = scale*gy - scale*is*sgx/M * (x - mu) - scale*sg/M
        const T k1 = static_cast<T>(scale);
        const T k2 = static_cast<T>(scale * is * sgx / M);
        const T k0 = static_cast<T>(-scale * sg / M);
        const T muT = static_cast<T>(mu);
        for (int64_t n = 0; n < N; ++n) {
          const T *xr = px + (n * C + c) * S, *gr = pg + (n * C + c) * S;
          T* o = static_cast<T*>(gx) + (n * C + c) * S;
#pragma omp simd
          for (int64_t i = 0; i < S; ++i) o[i] = k1 * gr[i] - k2 * (xr[i] - muT) + k0;
        }
      }
    });
  });
}

}  // namespace galen::kernels::cpu
