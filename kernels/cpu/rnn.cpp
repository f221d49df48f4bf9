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
  // Clamp with compares (fminf / fmaxf do not vectorise); NaN passes through.
  x = x < -87.0f ? -87.0f : x;
  x = x > 88.0f ? 88.0f : x;
  // n = round(x / ln 2) by the 1.5 * 2^23 trick (floorf does not vectorise under
  // the default trapping-math rules); |x / ln 2| < 128 keeps it exact.
  const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
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

// One row of a forward step. The per-row functions take __restrict pointers
// (no aliasing, nothing re-read through a closure) so the j loops vectorise; a
// null y / ws is handled by the caller with scratch rows.
template <typename T>
void rnn_row_fwd(bool relu, int64_t H, const T* __restrict gi, const T* __restrict gh, const T* __restrict bi,
                 const T* __restrict bh, T* __restrict ho, T* __restrict y, T* __restrict ws) {
#pragma omp simd
  for (int64_t j = 0; j < H; ++j) {
    const T a = gi[j] + bi[j] + gh[j] + bh[j];
    const T h = relu ? (a > T(0) ? a : T(0)) : vtanh(a);
    ho[j] = h;
    y[j] = h;
    ws[j] = h;
  }
}

template <typename T>
void lstm_row_fwd(int64_t H, const T* __restrict gi, const T* __restrict gh, const T* __restrict bi,
                  const T* __restrict bh, const T* __restrict cp, T* __restrict ho, T* __restrict co,
                  T* __restrict y, T* __restrict ws) {
#pragma omp simd
  for (int64_t j = 0; j < H; ++j) {
    const T i = vsigmoid(gi[j] + bi[j] + gh[j] + bh[j]);
    const T f = vsigmoid(gi[H + j] + bi[H + j] + gh[H + j] + bh[H + j]);
    const T g = vtanh(gi[2 * H + j] + bi[2 * H + j] + gh[2 * H + j] + bh[2 * H + j]);
    const T o = vsigmoid(gi[3 * H + j] + bi[3 * H + j] + gh[3 * H + j] + bh[3 * H + j]);
    const T c = f * cp[j] + i * g, tc = vtanh(c), h = o * tc;
    co[j] = c;
    ho[j] = h;
    y[j] = h;
    ws[j] = i;
    ws[H + j] = f;
    ws[2 * H + j] = g;
    ws[3 * H + j] = o;
    ws[4 * H + j] = tc;
  }
}

template <typename T>
void gru_row_fwd(int64_t H, const T* __restrict gi, const T* __restrict gh, const T* __restrict bi,
                 const T* __restrict bh, const T* __restrict hp, T* __restrict ho, T* __restrict y,
                 T* __restrict ws) {
#pragma omp simd
  for (int64_t j = 0; j < H; ++j) {
    const T r = vsigmoid(gi[j] + bi[j] + gh[j] + bh[j]);
    const T z = vsigmoid(gi[H + j] + bi[H + j] + gh[H + j] + bh[H + j]);
    const T hn = gh[2 * H + j] + bh[2 * H + j];
    const T n = vtanh(gi[2 * H + j] + bi[2 * H + j] + r * hn);
    const T h = (T(1) - z) * n + z * hp[j];
    ho[j] = h;
    y[j] = h;
    ws[j] = r;
    ws[H + j] = z;
    ws[2 * H + j] = n;
    ws[3 * H + j] = hn;
  }
}

template <typename T>
void forward_impl(const RnnStep& s, const T* gi, const T* gh, const T* bi, const T* bh, const T* hp, const T* cp,
                  T* ho, T* co, T* y, int64_t ldy, T* ws) {
  const int64_t H = s.H, G = rnn_gates(s.cell), W = rnn_saved(s.cell);
  bi = zero_bias(bi, G * H);
  bh = zero_bias(bh, G * H);
  parallel_for(s.B, s.B * G * H * 16, [&](int64_t b0, int64_t b1) {
    // Scratch rows standing in for a null y / ws, so the vector loops store unconditionally.
    std::vector<T> scratch(static_cast<size_t>((y ? 0 : H) + (ws ? 0 : W * H)));
    T* y_scratch = scratch.data();
    T* ws_scratch = scratch.data() + (y ? 0 : H);
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
      if (!yr) yr = y_scratch;
      if (!wr) wr = ws_scratch;
      switch (s.cell) {
        case RnnCell::Tanh:
        case RnnCell::Relu: rnn_row_fwd<T>(s.cell == RnnCell::Relu, H, gir, ghr, bi, bh, hor, yr, wr); break;
        case RnnCell::Lstm: lstm_row_fwd<T>(H, gir, ghr, bi, bh, cp + b * H, hor, co + b * H, yr, wr); break;
        case RnnCell::Gru: gru_row_fwd<T>(H, gir, ghr, bi, bh, hpr, hor, yr, wr); break;
      }
    }
  });
}

// One row of a backward step (dgh: a scratch row where the caller has none).
template <typename T>
void rnn_row_bwd(bool relu, int64_t H, const T* __restrict ws, const T* __restrict dh, const T* __restrict dy,
                 T* __restrict dgi, T* __restrict dgh, T* __restrict dhp) {
#pragma omp simd
  for (int64_t j = 0; j < H; ++j) {
    const T g = dh[j] + dy[j], h = ws[j];
    const T da = relu ? (h > T(0) ? g : T(0)) : g * (T(1) - h * h);
    dgi[j] = da;
    dgh[j] = da;
    dhp[j] = T(0);
  }
}

template <typename T>
void lstm_row_bwd(int64_t H, const T* __restrict ws, const T* __restrict cp, const T* __restrict dh,
                  const T* __restrict dc, const T* __restrict dy, T* __restrict dgi, T* __restrict dgh,
                  T* __restrict dhp, T* __restrict dcp) {
#pragma omp simd
  for (int64_t j = 0; j < H; ++j) {
    const T gh = dh[j] + dy[j];
    const T i = ws[j], f = ws[H + j], g = ws[2 * H + j], o = ws[3 * H + j], tc = ws[4 * H + j];
    const T dct = dc[j] + gh * o * (T(1) - tc * tc);
    const T ai = dct * g * i * (T(1) - i), af = dct * cp[j] * f * (T(1) - f);
    const T ag = dct * i * (T(1) - g * g), ao = gh * tc * o * (T(1) - o);
    dgi[j] = ai;
    dgi[H + j] = af;
    dgi[2 * H + j] = ag;
    dgi[3 * H + j] = ao;
    dgh[j] = ai;
    dgh[H + j] = af;
    dgh[2 * H + j] = ag;
    dgh[3 * H + j] = ao;
    dcp[j] = dct * f;
    dhp[j] = T(0);
  }
}

template <typename T>
void gru_row_bwd(int64_t H, const T* __restrict ws, const T* __restrict hp, const T* __restrict dh,
                 const T* __restrict dy, T* __restrict dgi, T* __restrict dgh, T* __restrict dhp) {
#pragma omp simd
  for (int64_t j = 0; j < H; ++j) {
    const T gh = dh[j] + dy[j];
    const T r = ws[j], z = ws[H + j], n = ws[2 * H + j], hn = ws[3 * H + j];
    const T an = gh * (T(1) - z) * (T(1) - n * n);
    const T ar = an * hn * r * (T(1) - r), az = gh * (hp[j] - n) * z * (T(1) - z);
    dgi[j] = ar;
    dgi[H + j] = az;
    dgi[2 * H + j] = an;
    dgh[j] = ar;
    dgh[H + j] = az;
    dgh[2 * H + j] = an * r;
    dhp[j] = gh * z;
  }
}

template <typename T>
void backward_impl(const RnnStep& s, const T* ws, const T* hp, const T* cp, const T* dy, int64_t ldy, const T* dh,
                   const T* dc, T* dgi, T* dgh, T* dhp, T* dcp) {
  const int64_t H = s.H, G = rnn_gates(s.cell), W = rnn_saved(s.cell);
  const T* zero = zero_bias<T>(nullptr, H);
  const bool lstm = s.cell == RnnCell::Lstm;
  parallel_for(s.B, s.B * G * H * 8, [&](int64_t b0, int64_t b1) {
    std::vector<T> scratch(static_cast<size_t>(dgh ? 0 : G * H));  // stands in for a null dgh
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
      if (!ghr) ghr = scratch.data();
      const T* wr = ws + b * W * H;
      switch (s.cell) {
        case RnnCell::Tanh:
        case RnnCell::Relu: rnn_row_bwd<T>(s.cell == RnnCell::Relu, H, wr, dhr, dyr, gir, ghr, dhpr); break;
        case RnnCell::Lstm: lstm_row_bwd<T>(H, wr, cp + b * H, dhr, dcr, dyr, gir, ghr, dhpr, dcp + b * H); break;
        case RnnCell::Gru: gru_row_bwd<T>(H, wr, hp + b * H, dhr, dyr, gir, ghr, dhpr); break;
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
