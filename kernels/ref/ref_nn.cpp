// Reference loops for convolution (im2col / col2im), pooling and batch norm:
// one output element at a time, straight from the definitions, math in double.
#include <cmath>
#include <limits>
#include <vector>

#include "galen/core/error.h"
#include "galen/kernels/ref/dispatch.h"
#include "galen/kernels/ref/ref_nn.h"

namespace galen::kernels::ref {
namespace {

using namespace dispatch;
constexpr DeviceType kDev = DeviceType::CPU;

// Input row/column read by output position o and kernel tap k (may be outside).
inline int64_t src_h(const Conv2dGeometry& g, int64_t oh, int64_t kh) { return oh * g.SH - g.PH + kh * g.DH; }
inline int64_t src_w(const Conv2dGeometry& g, int64_t ow, int64_t kw) { return ow * g.SW - g.PW + kw * g.DW; }

// PyTorch's average-pool window: [hs, he) x [ws, we) clipped to the input, and the
// divisor (window clipped to the padded input when count_include_pad).
struct AvgWindow {
  int64_t hs, he, ws, we;
  double divisor;
};
AvgWindow avg_window(const Conv2dGeometry& g, int64_t oh, int64_t ow, bool count_include_pad) {
  int64_t hs = oh * g.SH - g.PH, ws = ow * g.SW - g.PW;
  int64_t he = std::min(hs + g.KH, g.H + g.PH), we = std::min(ws + g.KW, g.W + g.PW);
  const int64_t padded = (he - hs) * (we - ws);
  hs = std::max<int64_t>(hs, 0);
  ws = std::max<int64_t>(ws, 0);
  he = std::min(he, g.H);
  we = std::min(we, g.W);
  const int64_t inside = (he - hs) * (we - ws);
  return {hs, he, ws, we, static_cast<double>(count_include_pad ? padded : inside)};
}

}  // namespace

void im2col(DType dt, const void* x, const Conv2dGeometry& g, void* cols) {
  on_type<kFloat>("im2col", kDev, dt, [&](auto tag) {
    using T = decltype(tag);
    const T* px = static_cast<const T*>(x);
    T* pc = static_cast<T*>(cols);
    const int64_t L = g.OH * g.OW;
    for (int64_t c = 0; c < g.C; ++c)
      for (int64_t kh = 0; kh < g.KH; ++kh)
        for (int64_t kw = 0; kw < g.KW; ++kw) {
          const int64_t row = (c * g.KH + kh) * g.KW + kw;
          for (int64_t oh = 0; oh < g.OH; ++oh)
            for (int64_t ow = 0; ow < g.OW; ++ow) {
              const int64_t h = src_h(g, oh, kh), w = src_w(g, ow, kw);
              const bool in = h >= 0 && h < g.H && w >= 0 && w < g.W;
              pc[row * L + oh * g.OW + ow] = in ? px[(c * g.H + h) * g.W + w] : T(0);
            }
        }
  });
}

void col2im(DType dt, const void* cols, const Conv2dGeometry& g, void* x) {
  on_type<kFloat>("col2im", kDev, dt, [&](auto tag) {
    using T = decltype(tag);
    const T* pc = static_cast<const T*>(cols);
    T* px = static_cast<T*>(x);
    const int64_t L = g.OH * g.OW;
    std::vector<double> acc(static_cast<size_t>(g.C * g.H * g.W), 0.0);
    for (int64_t c = 0; c < g.C; ++c)
      for (int64_t kh = 0; kh < g.KH; ++kh)
        for (int64_t kw = 0; kw < g.KW; ++kw) {
          const int64_t row = (c * g.KH + kh) * g.KW + kw;
          for (int64_t oh = 0; oh < g.OH; ++oh)
            for (int64_t ow = 0; ow < g.OW; ++ow) {
              const int64_t h = src_h(g, oh, kh), w = src_w(g, ow, kw);
              if (h >= 0 && h < g.H && w >= 0 && w < g.W) acc[(c * g.H + h) * g.W + w] += pc[row * L + oh * g.OW + ow];
            }
        }
    for (size_t i = 0; i < acc.size(); ++i) px[i] = static_cast<T>(acc[i]);
  });
}

void max_pool2d(DType dt, const void* x, int64_t planes, const Conv2dGeometry& g, void* out, int64_t* indices) {
  on_type<kFloat>("max_pool2d", kDev, dt, [&](auto tag) {
    using T = decltype(tag);
    const T* px = static_cast<const T*>(x);
    T* po = static_cast<T*>(out);
    for (int64_t p = 0; p < planes; ++p) {
      const T* plane = px + p * g.H * g.W;
      for (int64_t oh = 0; oh < g.OH; ++oh)
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          bool found = false;
          T best = T(0);
          int64_t best_i = -1;
          for (int64_t kh = 0; kh < g.KH; ++kh)
            for (int64_t kw = 0; kw < g.KW; ++kw) {
              const int64_t h = src_h(g, oh, kh), w = src_w(g, ow, kw);
              if (h < 0 || h >= g.H || w < 0 || w >= g.W) continue;
              const T v = plane[h * g.W + w];
              // The first maximum wins; the first NaN wins over everything.
              if (!found || (!std::isnan(best) && (v > best || std::isnan(v)))) {
                best = v;
                best_i = h * g.W + w;
                found = true;
              }
            }
          const int64_t o = (p * g.OH + oh) * g.OW + ow;
          po[o] = found ? best : -std::numeric_limits<T>::infinity();
          if (indices) indices[o] = best_i;
        }
    }
  });
}

void max_pool2d_backward(DType dt, const void* gout, const int64_t* indices, int64_t planes,
                         const Conv2dGeometry& g, void* gx) {
  on_type<kFloat>("max_pool2d_backward", kDev, dt, [&](auto tag) {
    using T = decltype(tag);
    const T* pg = static_cast<const T*>(gout);
    T* px = static_cast<T*>(gx);
    for (int64_t i = 0; i < planes * g.H * g.W; ++i) px[i] = T(0);
    for (int64_t p = 0; p < planes; ++p)
      for (int64_t o = 0; o < g.OH * g.OW; ++o) {
        const int64_t k = p * g.OH * g.OW + o;
        if (indices[k] >= 0) px[p * g.H * g.W + indices[k]] += pg[k];
      }
  });
}

void avg_pool2d(DType dt, const void* x, int64_t planes, const Conv2dGeometry& g, bool count_include_pad,
                void* out) {
  on_type<kFloat>("avg_pool2d", kDev, dt, [&](auto tag) {
    using T = decltype(tag);
    const T* px = static_cast<const T*>(x);
    T* po = static_cast<T*>(out);
    for (int64_t p = 0; p < planes; ++p)
      for (int64_t oh = 0; oh < g.OH; ++oh)
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          const AvgWindow win = avg_window(g, oh, ow, count_include_pad);
          double s = 0;
          for (int64_t h = win.hs; h < win.he; ++h)
            for (int64_t w = win.ws; w < win.we; ++w) s += px[(p * g.H + h) * g.W + w];
          po[(p * g.OH + oh) * g.OW + ow] = static_cast<T>(win.divisor > 0 ? s / win.divisor : 0.0);
        }
  });
}

void avg_pool2d_backward(DType dt, const void* gout, int64_t planes, const Conv2dGeometry& g,
                         bool count_include_pad, void* gx) {
  on_type<kFloat>("avg_pool2d_backward", kDev, dt, [&](auto tag) {
    using T = decltype(tag);
    const T* pg = static_cast<const T*>(gout);
    T* px = static_cast<T*>(gx);
    std::vector<double> acc(static_cast<size_t>(planes * g.H * g.W), 0.0);
    for (int64_t p = 0; p < planes; ++p)
      for (int64_t oh = 0; oh < g.OH; ++oh)
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          const AvgWindow win = avg_window(g, oh, ow, count_include_pad);
          if (win.divisor <= 0) continue;
          const double v = pg[(p * g.OH + oh) * g.OW + ow] / win.divisor;
          for (int64_t h = win.hs; h < win.he; ++h)
            for (int64_t w = win.ws; w < win.we; ++w) acc[(p * g.H + h) * g.W + w] += v;
        }
    for (size_t i = 0; i < acc.size(); ++i) px[i] = static_cast<T>(acc[i]);
  });
}

void channel_stats(DType dt, const void* x, int64_t N, int64_t C, int64_t S, void* mean, void* var) {
  on_type<kFloat>("channel_stats", kDev, dt, [&](auto tag) {
    using T = decltype(tag);
    const T* px = static_cast<const T*>(x);
    const double M = static_cast<double>(N * S);
    for (int64_t c = 0; c < C; ++c) {
      double s = 0;
      for (int64_t n = 0; n < N; ++n)
        for (int64_t i = 0; i < S; ++i) s += px[(n * C + c) * S + i];
      const double mu = M > 0 ? s / M : 0.0;
      double q = 0;
      for (int64_t n = 0; n < N; ++n)
        for (int64_t i = 0; i < S; ++i) {
          const double d = px[(n * C + c) * S + i] - mu;
          q += d * d;
        }
      static_cast<T*>(mean)[c] = static_cast<T>(mu);
      static_cast<T*>(var)[c] = static_cast<T>(M > 0 ? q / M : 0.0);
    }
  });
}

void channel_affine(DType dt, const void* x, int64_t N, int64_t C, int64_t S, const void* mean,
                    const void* invstd, const void* w, const void* b, void* y) {
  on_type<kFloat>("channel_affine", kDev, dt, [&](auto tag) {
    using T = decltype(tag);
    const T* px = static_cast<const T*>(x);
    const T *pm = static_cast<const T*>(mean), *pi = static_cast<const T*>(invstd);
    const T *pw = static_cast<const T*>(w), *pb = static_cast<const T*>(b);
    T* py = static_cast<T*>(y);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t i = 0; i < S; ++i) {
          const int64_t k = (n * C + c) * S + i;
          const double xhat = (static_cast<double>(px[k]) - pm[c]) * pi[c];
          py[k] = static_cast<T>(xhat * (pw ? double(pw[c]) : 1.0) + (pb ? double(pb[c]) : 0.0));
        }
  });
}

void batch_norm_backward(DType dt, const void* x, const void* gy, int64_t N, int64_t C, int64_t S,
                         const void* mean, const void* invstd, const void* w, void* gx, void* gw, void* gb) {
  on_type<kFloat>("batch_norm_backward", kDev, dt, [&](auto tag) {
    using T = decltype(tag);
    const T *px = static_cast<const T*>(x), *pg = static_cast<const T*>(gy);
    const T *pm = static_cast<const T*>(mean), *pi = static_cast<const T*>(invstd);
    const T* pw = static_cast<const T*>(w);
    const double M = static_cast<double>(N * S);
    for (int64_t c = 0; c < C; ++c) {
      // sum(gy) and sum(gy * xhat) over the channel.
      double sg = 0, sgx = 0;
      for (int64_t n = 0; n < N; ++n)
        for (int64_t i = 0; i < S; ++i) {
          const int64_t k = (n * C + c) * S + i;
          sg += pg[k];
          sgx += pg[k] * ((static_cast<double>(px[k]) - pm[c]) * pi[c]);
        }
      if (gb) static_cast<T*>(gb)[c] = static_cast<T>(sg);
      if (gw) static_cast<T*>(gw)[c] = static_cast<T>(sgx);
      if (!gx) continue;
      // gx = w * invstd * (gy - mean(gy) - xhat * mean(gy * xhat))
      const double scale = (pw ? double(pw[c]) : 1.0) * pi[c];
      for (int64_t n = 0; n < N; ++n)
        for (int64_t i = 0; i < S; ++i) {
          const int64_t k = (n * C + c) * S + i;
          const double xhat = (static_cast<double>(px[k]) - pm[c]) * pi[c];
          static_cast<T*>(gx)[k] = static_cast<T>(scale * (pg[k] - sg / M - xhat * sgx / M));
        }
    }
  });
}

}  // namespace galen::kernels::ref
