// CPU gate kernels of RNN / LSTM / GRU steps: rows split over the OpenMP pool,
// the hidden units of a row in one `omp simd` loop. Padded rows (lengths) are
// handled per row outside the vector loop.
//
// f32 uses branch-free exp / tanh written for vectorisation (glibc's expf /
// tanhf calls would keep the loop scalar): exp by range reduction to
// r in [-ln2/2, ln2/2] and a degree-7 Taylor polynomial (truncation error
// < 6e-9 relative), scaled by 2^n through the exponent bits; tanh(a) =
// -expm1(-2|a|) / (2 + expm1(-2|a|)) with expm1 from its own Taylor series for
// small |a| (no cancellation near 0). Both stay within a few ulp of the
// double-precision reference. f64 uses std::exp / std::tanh.
#include "galen/kernels/cpu/rnn_kernels.h"

#include <bit>
#include <cmath>
#include <cstdint>
#include <vector>

#include "galen/kernels/cpu/common.h"
#include "galen/kernels/ref/dispatch.h"

namespace galen::kernels::cpu {
namespace {

using namespace dispatch;
constexpr DeviceType kDev = DeviceType::CPU;

#pragma omp declare simd
inline float exp_f32(float x) {
  x = std::fmin(std::fmax(x, -87.0f), 88.0f);
  const float n = std::floor(x * 1.44269504088896341f + 0.5f);
  // ln 2 split in a short high part (n * hi is exact) and the rest.
  const float r = (x - n * 0.693359375f) + n * 2.12194440054690583e-4f;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  return p * std::bit_cast<float>(bits);
}

#pragma omp declare simd
inline float tanh_f32(float a) {
  const float ax = std::fabs(a), x = -2.0f * ax;
  float s = 1.0f / 40320.0f;  // expm1(x) = x (1 + x/2 + x^2/6 + ...), for |x| < ln 2
  s = s * x + 1.0f / 5040.0f;
  s = s * x + 1.0f / 720.0f;
  s = s * x + 1.0f / 120.0f;
  s = s * x + 1.0f / 24.0f;
  s = s * x + 1.0f / 6.0f;
  s = s * x + 0.5f;
  s = s * x + 1.0f;
  s = s * x;
  const float em1 = ax < 0.34657359f ? s : exp_f32(x) - 1.0f;
  return std::copysign(-em1 / (2.0f + em1), a);
}

inline float vexp(float x) { return exp_f32(x); }
inline double vexp(double x) { return std::exp(x); }
inline float vtanh(float x) { return tanh_f32(x); }
inline double vtanh(double x) { return std::tanh(x); }
template <typename T>
inline T vsigmoid(T a) {
  return T(1) / (T(1) + vexp(-a));
}

// A zero bias of n values for calls without bias (keeps the vector loops branch-free).
template <typename T>
const T* zero_bias(const T* b, int64_t n) {
  if (b) return b;
  static thread_local std::vector<T> z;
  if (static_cast<int64_t>(z.size()) < n) z.assign(static_cast<size_t>(n), T(0));
  return z.data();
}

bool row_active(const RnnStep& s, int64_t b) { return s.lengths == nullptr || s.t < s.lengths[b]; }

template <typename T>
void forward_impl(const RnnStep& s, const T* gi, const T* gh, const T* bi, const T* bh, const T* hp, const T* cp,
                  T* ho, T* co, T* y, int64_t ldy, T* ws) {
  const int64_t H = s.H, G = rnn_gates(s.cell), W = rnn_saved(s.cell);
  bi = zero_bias(bi, G * H);
  bh = zero_bias(bh, G * H);
  parallel_for(s.B, s.B * G * H * 16, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const T *hpr = hp + b * H, *gir = gi + b * G * H, *ghr = gh + b * G * H;
      T* hor = ho + b * H;
      T* yr = y ? y + b * ldy : nullptr;
      T* wr = ws ? ws + b * W * H : nullptr;
      if (!row_active(s, b)) {
        for (int64_t j = 0; j < H; ++j) hor[j] = hpr[j];
        if (s.cell == RnnCell::Lstm)
          for (int64_t j = 0; j < H; ++j) co[b * H + j] = cp[b * H + j];
        if (yr)
          for (int64_t j = 0; j < H; ++j) yr[j] = T(0);
        if (wr)
          for (int64_t j = 0; j < W * H; ++j) wr[j] = T(0);
        continue;
      }
      switch (s.cell) {
        case RnnCell::Tanh:
        case RnnCell::Relu: {
          const bool relu = s.cell == RnnCell::Relu;
#pragma omp simd
          for (int64_t j = 0; j < H; ++j) {
            const T a = gir[j] + bi[j] + ghr[j] + bh[j];
            const T h = relu ? (a > T(0) ? a : T(0)) : vtanh(a);
            hor[j] = h;
            if (yr) yr[j] = h;
            if (wr) wr[j] = h;
          }
          break;
        }
        case RnnCell::Lstm: {
          const T* cpr = cp + b * H;
          T* cor = co + b * H;
#pragma omp simd
          for (int64_t j = 0; j < H; ++j) {
            const T i = vsigmoid(gir[j] + bi[j] + ghr[j] + bh[j]);
            const T f = vsigmoid(gir[H + j] + bi[H + j] + ghr[H + j] + bh[H + j]);
            const T g = vtanh(gir[2 * H + j] + bi[2 * H + j] + ghr[2 * H + j] + bh[2 * H + j]);
            const T o = vsigmoid(gir[3 * H + j] + bi[3 * H + j] + ghr[3 * H + j] + bh[3 * H + j]);
            const T c = f * cpr[j] + i * g, tc = vtanh(c), h = o * tc;
            cor[j] = c;
            hor[j] = h;
            if (yr) yr[j] = h;
            if (wr) {
              wr[j] = i, wr[H + j] = f, wr[2 * H + j] = g, wr[3 * H + j] = o, wr[4 * H + j] = tc;
            }
          }
          break;
        }
        case RnnCell::Gru: {
#pragma omp simd
          for (int64_t j = 0; j < H; ++j) {
            const T r = vsigmoid(gir[j] + bi[j] + ghr[j] + bh[j]);
            const T z = vsigmoid(gir[H + j] + bi[H + j] + ghr[H + j] + bh[H + j]);
            const T hn = ghr[2 * H + j] + bh[2 * H + j];
            const T n = vtanh(gir[2 * H + j] + bi[2 * H + j] + r * hn);
            const T h = (T(1) - z) * n + z * hpr[j];
            hor[j] = h;
            if (yr) yr[j] = h;
            if (wr) {
              wr[j] = r, wr[H + j] = z, wr[2 * H + j] = n, wr[3 * H + j] = hn;
            }
          }
          break;
        }
      }
    }
  });
}

template <typename T>
void backward_impl(const RnnStep& s, const T* ws, const T* hp, const T* cp, const T* dy, int64_t ldy, const T* dh,
                   const T* dc, T* dgi, T* dgh, T* dhp, T* dcp) {
  const int64_t H = s.H, G = rnn_gates(s.cell), W = rnn_saved(s.cell);
  const T* zero = zero_bias<T>(nullptr, H);
  const bool lstm = s.cell == RnnCell::Lstm;
  parallel_for(s.B, s.B * G * H * 8, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const T* dhr = dh ? dh + b * H : zero;
      const T* dcr = (lstm && dc) ? dc + b * H : zero;
      const T* dyr = dy ? dy + b * ldy : zero;
      T* gir = dgi + b * G * H;
      T* ghr = dgh ? dgh + b * G * H : nullptr;
      T* dhpr = dhp + b * H;
      if (!row_active(s, b)) {
        for (int64_t j = 0; j < G * H; ++j) gir[j] = T(0);
        if (ghr)
          for (int64_t j = 0; j < G * H; ++j) ghr[j] = T(0);
        for (int64_t j = 0; j < H; ++j) dhpr[j] = dhr[j];
        if (lstm)
          for (int64_t j = 0; j < H; ++j) dcp[b * H + j] = dcr[j];
        continue;
      }
      const T* wr = ws + b * W * H;
      switch (s.cell) {
        case RnnCell::Tanh:
        case RnnCell::Relu: {
          const bool relu = s.cell == RnnCell::Relu;
#pragma omp simd
          for (int64_t j = 0; j < H; ++j) {
            const T g = dhr[j] + dyr[j], h = wr[j];
            const T da = relu ? (h > T(0) ? g : T(0)) : g * (T(1) - h * h);
            gir[j] = da;
            if (ghr) ghr[j] = da;
            dhpr[j] = T(0);
          }
          break;
        }
        case RnnCell::Lstm: {
          const T* cpr = cp + b * H;
          T* dcpr = dcp + b * H;
#pragma omp simd
          for (int64_t j = 0; j < H; ++j) {
            const T gh = dhr[j] + dyr[j];
            const T i = wr[j], f = wr[H + j], g = wr[2 * H + j], o = wr[3 * H + j], tc = wr[4 * H + j];
            const T dct = dcr[j] + gh * o * (T(1) - tc * tc);
            const T ai = dct * g * i * (T(1) - i), af = dct * cpr[j] * f * (T(1) - f);
            const T ag = dct * i * (T(1) - g * g), ao = gh * tc * o * (T(1) - o);
            gir[j] = ai, gir[H + j] = af, gir[2 * H + j] = ag, gir[3 * H + j] = ao;
            if (ghr) {
              ghr[j] = ai, ghr[H + j] = af, ghr[2 * H + j] = ag, ghr[3 * H + j] = ao;
            }
            dcpr[j] = dct * f;
            dhpr[j] = T(0);
          }
          break;
        }
        case RnnCell::Gru: {
          const T* hpr = hp + b * H;
#pragma omp simd
          for (int64_t j = 0; j < H; ++j) {
            const T gh = dhr[j] + dyr[j];
            const T r = wr[j], z = wr[H + j], n = wr[2 * H + j], hn = wr[3 * H + j];
            const T an = gh * (T(1) - z) * (T(1) - n * n);
            const T ar = an * hn * r * (T(1) - r), az = gh * (hpr[j] - n) * z * (T(1) - z);
            gir[j] = ar, gir[H + j] = az, gir[2 * H + j] = an;
            if (ghr) {
              ghr[j] = ar, ghr[H + j] = az, ghr[2 * H + j] = an * r;
            }
            dhpr[j] = gh * z;
          }
          break;
        }
      }
    }
  });
}

}  // namespace

void rnn_cell_forward(const RnnStep& s, DType dt, const void* gi, const void* gh, const void* bi, const void* bh,
                      const void* h_prev, const void* c_prev, void* h_out, void* c_out, void* y, int64_t ldy,
                      void* ws) {
  on_type<kFloat>("rnn_cell_forward", kDev, dt, [&](auto tag) {
    using T = decltype(tag);
    forward_impl<T>(s, static_cast<const T*>(gi), static_cast<const T*>(gh), static_cast<const T*>(bi),
                    static_cast<const T*>(bh), static_cast<const T*>(h_prev), static_cast<const T*>(c_prev),
                    static_cast<T*>(h_out), static_cast<T*>(c_out), static_cast<T*>(y), ldy, static_cast<T*>(ws));
  });
}

void rnn_cell_backward(const RnnStep& s, DType dt, const void* ws, const void* h_prev, const void* c_prev,
                       const void* dy, int64_t ldy, const void* dh, const void* dc, void* dgi, void* dgh,
                       void* dh_prev, void* dc_prev) {
  on_type<kFloat>("rnn_cell_backward", kDev, dt, [&](auto tag) {
    using T = decltype(tag);
    backward_impl<T>(s, static_cast<const T*>(ws), static_cast<const T*>(h_prev), static_cast<const T*>(c_prev),
                     static_cast<const T*>(dy), ldy, static_cast<const T*>(dh), static_cast<const T*>(dc),
                     static_cast<T*>(dgi), static_cast<T*>(dgh), static_cast<T*>(dh_prev), static_cast<T*>(dc_prev));
  });
}

}  // namespace galen::kernels::cpu
