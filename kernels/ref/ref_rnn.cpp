// Reference gate kernels of RNN / LSTM / GRU steps: one (row, hidden unit) at a
// time, straight from the formulas in kernels/backend.h, math in double.
#include "galen/kernels/ref/ref_rnn.h"

#include <cmath>

#include "galen/kernels/ref/dispatch.h"

namespace galen::kernels::ref {
namespace {

using namespace dispatch;
constexpr DeviceType kDev = DeviceType::CPU;

double sigmoid(double a) { return 1.0 / (1.0 + std::exp(-a)); }
bool active(const RnnStep& s, int64_t b) { return s.lengths == nullptr || s.t < s.lengths[b]; }

}  // namespace

void rnn_cell_forward(const RnnStep& s, DType dt, const void* gi_, const void* gh_, const void* bi_, const void* bh_,
                      const void* h_prev_, const void* c_prev_, void* h_out_, void* c_out_, void* y_, int64_t ldy,
                      void* ws_) {
  on_type<kFloat>("rnn_cell_forward", kDev, dt, [&](auto tag) {
    using T = decltype(tag);
    const T *gi = static_cast<const T*>(gi_), *gh = static_cast<const T*>(gh_);
    const T *bi = static_cast<const T*>(bi_), *bh = static_cast<const T*>(bh_);
    const T *hp = static_cast<const T*>(h_prev_), *cp = static_cast<const T*>(c_prev_);
    T *ho = static_cast<T*>(h_out_), *co = static_cast<T*>(c_out_), *y = static_cast<T*>(y_);
    T* ws = static_cast<T*>(ws_);
    const int64_t H = s.H, G = rnn_gates(s.cell), W = rnn_saved(s.cell);
    // Pre-activation of gate q, unit j of row b: input side and hidden side apart (GRU's n needs them apart).
    auto in = [&](int64_t b, int64_t q, int64_t j) {
      return double(gi[b * G * H + q * H + j]) + (bi ? double(bi[q * H + j]) : 0.0);
    };
    auto hid = [&](int64_t b, int64_t q, int64_t j) {
      return double(gh[b * G * H + q * H + j]) + (bh ? double(bh[q * H + j]) : 0.0);
    };
    for (int64_t b = 0; b < s.B; ++b)
      for (int64_t j = 0; j < H; ++j) {
        const int64_t o = b * H + j;
        if (!active(s, b)) {
          ho[o] = hp[o];
          if (s.cell == RnnCell::Lstm) co[o] = cp[o];
          if (y) y[b * ldy + j] = T(0);
          if (ws)
            for (int64_t q = 0; q < W; ++q) ws[b * W * H + q * H + j] = T(0);
          continue;
        }
        double h = 0.0, saved[5] = {};
        switch (s.cell) {
          case RnnCell::Tanh:
          case RnnCell::Relu: {
            const double a = in(b, 0, j) + hid(b, 0, j);
            h = s.cell == RnnCell::Tanh ? std::tanh(a) : (a > 0.0 ? a : 0.0);
            saved[0] = h;
            break;
          }
          case RnnCell::Lstm: {
            const double i = sigmoid(in(b, 0, j) + hid(b, 0, j)), f = sigmoid(in(b, 1, j) + hid(b, 1, j));
            const double g = std::tanh(in(b, 2, j) + hid(b, 2, j)), og = sigmoid(in(b, 3, j) + hid(b, 3, j));
            const double c = f * double(cp[o]) + i * g, tc = std::tanh(c);
            h = og * tc;
            co[o] = static_cast<T>(c);
            saved[0] = i, saved[1] = f, saved[2] = g, saved[3] = og, saved[4] = tc;
            break;
          }
          case RnnCell::Gru: {
            const double r = sigmoid(in(b, 0, j) + hid(b, 0, j)), z = sigmoid(in(b, 1, j) + hid(b, 1, j));
            const double hn = hid(b, 2, j), n = std::tanh(in(b, 2, j) + r * hn);
            h = (1.0 - z) * n + z * double(hp[o]);
            saved[0] = r, saved[1] = z, saved[2] = n, saved[3] = hn;
            break;
          }
        }
        ho[o] = static_cast<T>(h);
        if (y) y[b * ldy + j] = static_cast<T>(h);
        if (ws)
          for (int64_t q = 0; q < W; ++q) ws[b * W * H + q * H + j] = static_cast<T>(saved[q]);
      }
  });
}

void rnn_cell_backward(const RnnStep& s, DType dt, const void* ws_, const void* h_prev_, const void* c_prev_,
                       const void* dy_, int64_t ldy, const void* dh_, const void* dc_, void* dgi_, void* dgh_,
                       void* dh_prev_, void* dc_prev_) {
  on_type<kFloat>("rnn_cell_backward", kDev, dt, [&](auto tag) {
    using T = decltype(tag);
    const T *ws = static_cast<const T*>(ws_), *hp = static_cast<const T*>(h_prev_);
    const T *cp = static_cast<const T*>(c_prev_), *dy = static_cast<const T*>(dy_);
    const T *dh = static_cast<const T*>(dh_), *dc = static_cast<const T*>(dc_);
    T *dgi = static_cast<T*>(dgi_), *dgh = static_cast<T*>(dgh_);
    T *dhp = static_cast<T*>(dh_prev_), *dcp = static_cast<T*>(dc_prev_);
    const int64_t H = s.H, G = rnn_gates(s.cell), W = rnn_saved(s.cell);
    for (int64_t b = 0; b < s.B; ++b)
      for (int64_t j = 0; j < H; ++j) {
        const int64_t o = b * H + j;
        const double dh_in = dh ? double(dh[o]) : 0.0;
        const double dc_in = (s.cell == RnnCell::Lstm && dc) ? double(dc[o]) : 0.0;
        if (!active(s, b)) {
          for (int64_t q = 0; q < G; ++q) {
            dgi[b * G * H + q * H + j] = T(0);
            if (dgh) dgh[b * G * H + q * H + j] = T(0);
          }
          dhp[o] = static_cast<T>(dh_in);
          if (s.cell == RnnCell::Lstm) dcp[o] = static_cast<T>(dc_in);
          continue;
        }
        auto sv = [&](int64_t q) { return double(ws[b * W * H + q * H + j]); };
        const double g_h = dh_in + (dy ? double(dy[b * ldy + j]) : 0.0);  // total d/d(h')
        double di[4] = {}, dhh[4] = {};  // d/d(gi), d/d(gh) per gate
        double dh_direct = 0.0;
        switch (s.cell) {
          case RnnCell::Tanh: {
            const double h = sv(0);
            di[0] = dhh[0] = g_h * (1.0 - h * h);
            break;
          }
          case RnnCell::Relu:
            di[0] = dhh[0] = sv(0) > 0.0 ? g_h : 0.0;
            break;
          case RnnCell::Lstm: {
            const double i = sv(0), f = sv(1), g = sv(2), og = sv(3), tc = sv(4);
            const double dct = dc_in + g_h * og * (1.0 - tc * tc);
            di[0] = dct * g * i * (1.0 - i);
            di[1] = dct * double(cp[o]) * f * (1.0 - f);
            di[2] = dct * i * (1.0 - g * g);
            di[3] = g_h * tc * og * (1.0 - og);
            for (int q = 0; q < 4; ++q) dhh[q] = di[q];
            dcp[o] = static_cast<T>(dct * f);
            break;
          }
          case RnnCell::Gru: {
            const double r = sv(0), z = sv(1), n = sv(2), hn = sv(3);
            const double dan = g_h * (1.0 - z) * (1.0 - n * n);
            const double dz = g_h * (double(hp[o]) - n);
            const double dar = dan * hn * r * (1.0 - r);
            di[0] = dhh[0] = dar;
            di[1] = dhh[1] = dz * z * (1.0 - z);
            di[2] = dan;
            dhh[2] = dan * r;
            dh_direct = g_h * z;
            break;
          }
        }
        for (int64_t q = 0; q < G; ++q) {
          dgi[b * G * H + q * H + j] = static_cast<T>(di[q]);
          if (dgh) dgh[b * G * H + q * H + j] = static_cast<T>(dhh[q]);
        }
        dhp[o] = static_cast<T>(dh_direct);
      }
  });
}

}  // namespace galen::kernels::ref
