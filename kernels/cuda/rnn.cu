// CUDA fused gate kernels of RNN / LSTM / GRU steps: one thread per (row,
// hidden unit) computes every gate of that unit, the cell update and the
// saved values in one pass (forward), or all gate gradients (backward). The
// GEMMs around them are the backend's gemm (cuBLAS). Lengths live on the device.
// Same contracts and formulas as kernels/ref/ref_rnn.cpp.
#include "galen/kernels/cuda/cuda_common.cuh"

namespace galen::kernels::cuda {

namespace {

template <typename T>
__device__ __forceinline__ T dsigmoid(T a) {
  return T(1) / (T(1) + exp(-a));
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    rnn_forward_kernel(RnnCell cell, int64_t B, int64_t H, const int64_t* __restrict__ lengths, int64_t t,
                       const T* __restrict__ gi, const T* __restrict__ gh, const T* __restrict__ bi,
                       const T* __restrict__ bh, const T* __restrict__ hp, const T* __restrict__ cp, T* __restrict__ ho,
                       T* __restrict__ co, T* __restrict__ y, int64_t ldy, T* __restrict__ ws) {
  const int64_t n = B * H;
  const int G = cell == RnnCell::Lstm ? 4 : cell == RnnCell::Gru ? 3 : 1;
  const int W = cell == RnnCell::Lstm ? 5 : cell == RnnCell::Gru ? 4 : 1;
  for (int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; idx < n;
       idx += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    const int64_t b = idx / H, j = idx - b * H;
    const bool active = lengths == nullptr || t < lengths[b];
    T* wr = ws ? ws + b * W * H + j : nullptr;
    if (!active) {
      ho[idx] = hp[idx];
      if (cell == RnnCell::Lstm) co[idx] = cp[idx];
      if (y) y[b * ldy + j] = T(0);
      if (wr)
        for (int q = 0; q < W; ++q) wr[q * H] = T(0);
      continue;
    }
    const T* gir = gi + b * G * H + j;
    const T* ghr = gh + b * G * H + j;
    auto pre_i = [&](int q) { return gir[q * H] + (bi ? bi[q * H + j] : T(0)); };
    auto pre_h = [&](int q) { return ghr[q * H] + (bh ? bh[q * H + j] : T(0)); };
    T h;
    switch (cell) {
      case RnnCell::Tanh:
      case RnnCell::Relu: {
        const T a = pre_i(0) + pre_h(0);
        h = cell == RnnCell::Tanh ? tanh(a) : (a > T(0) ? a : T(0));
        if (wr) wr[0] = h;
        break;
      }
      case RnnCell::Lstm: {
        const T i = dsigmoid(pre_i(0) + pre_h(0)), f = dsigmoid(pre_i(1) + pre_h(1));
        const T g = tanh(pre_i(2) + pre_h(2)), o = dsigmoid(pre_i(3) + pre_h(3));
        const T c = f * cp[idx] + i * g, tc = tanh(c);
        h = o * tc;
        co[idx] = c;
        if (wr) wr[0] = i, wr[H] = f, wr[2 * H] = g, wr[3 * H] = o, wr[4 * H] = tc;
        break;
      }
      default: {  // GRU
        const T r = dsigmoid(pre_i(0) + pre_h(0)), z = dsigmoid(pre_i(1) + pre_h(1));
        const T hn = pre_h(2), nn = tanh(pre_i(2) + r * hn);
        h = (T(1) - z) * nn + z * hp[idx];
        if (wr) wr[0] = r, wr[H] = z, wr[2 * H] = nn, wr[3 * H] = hn;
        break;
      }
    }
    ho[idx] = h;
    if (y) y[b * ldy + j] = h;
  }
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    rnn_backward_kernel(RnnCell cell, int64_t B, int64_t H, const int64_t* __restrict__ lengths, int64_t t,
                        const T* __restrict__ ws, const T* __restrict__ hp, const T* __restrict__ cp,
                        const T* __restrict__ dy, int64_t ldy, const T* __restrict__ dh, const T* __restrict__ dc,
                        T* __restrict__ dgi, T* __restrict__ dgh, T* __restrict__ dhp, T* __restrict__ dcp) {
  const int64_t n = B * H;
  const int G = cell == RnnCell::Lstm ? 4 : cell == RnnCell::Gru ? 3 : 1;
  const int W = cell == RnnCell::Lstm ? 5 : cell == RnnCell::Gru ? 4 : 1;
  for (int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; idx < n;
       idx += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    const int64_t b = idx / H, j = idx - b * H;
    const bool active = lengths == nullptr || t < lengths[b];
    const T dh_in = dh ? dh[idx] : T(0);
    const T dc_in = (cell == RnnCell::Lstm && dc) ? dc[idx] : T(0);
    T* gir = dgi + b * G * H + j;
    T* ghr = dgh ? dgh + b * G * H + j : nullptr;
    if (!active) {
      for (int q = 0; q < G; ++q) {
        gir[q * H] = T(0);
        if (ghr) ghr[q * H] = T(0);
      }
      dhp[idx] = dh_in;
      if (cell == RnnCell::Lstm) dcp[idx] = dc_in;
      continue;
    }
    const T* wr = ws + b * W * H + j;
    const T g_h = dh_in + (dy ? dy[b * ldy + j] : T(0));
    switch (cell) {
      case RnnCell::Tanh:
      case RnnCell::Relu: {
        const T h = wr[0];
        const T da = cell == RnnCell::Tanh ? g_h * (T(1) - h * h) : (h > T(0) ? g_h : T(0));
        gir[0] = da;
        if (ghr) ghr[0] = da;
        dhp[idx] = T(0);
        break;
      }
      case RnnCell::Lstm: {
        const T i = wr[0], f = wr[H], g = wr[2 * H], o = wr[3 * H], tc = wr[4 * H];
        const T dct = dc_in + g_h * o * (T(1) - tc * tc);
        const T ai = dct * g * i * (T(1) - i), af = dct * cp[idx] * f * (T(1) - f);
        const T ag = dct * i * (T(1) - g * g), ao = g_h * tc * o * (T(1) - o);
        gir[0] = ai, gir[H] = af, gir[2 * H] = ag, gir[3 * H] = ao;
        if (ghr) ghr[0] = ai, ghr[H] = af, ghr[2 * H] = ag, ghr[3 * H] = ao;
        dcp[idx] = dct * f;
        dhp[idx] = T(0);
        break;
      }
      default: {  // GRU
        const T r = wr[0], z = wr[H], nn = wr[2 * H], hn = wr[3 * H];
        const T an = g_h * (T(1) - z) * (T(1) - nn * nn);
        const T ar = an * hn * r * (T(1) - r), az = g_h * (hp[idx] - nn) * z * (T(1) - z);
        gir[0] = ar, gir[H] = az, gir[2 * H] = an;
        if (ghr) ghr[0] = ar, ghr[H] = az, ghr[2 * H] = an * r;
        dhp[idx] = g_h * z;
        break;
      }
    }
  }
}

}  // namespace

void CudaBackend::rnn_cell_forward(const RnnStep& s, DType dt, const void* gi, const void* gh, const void* bi,
                                   const void* bh, const void* h_prev, const void* c_prev, void* h_out, void* c_out,
                                   void* y, int64_t ldy, void* ws) {
  dispatch_float(dt, "rnn_cell_forward", [&](auto tag) {
    using T = decltype(tag);
    const int64_t n = s.B * s.H;
    if (n == 0) return;
    rnn_forward_kernel<T><<<grid_for(n), kThreads>>>(
        s.cell, s.B, s.H, s.lengths, s.t, static_cast<const T*>(gi), static_cast<const T*>(gh),
        static_cast<const T*>(bi), static_cast<const T*>(bh), static_cast<const T*>(h_prev),
        static_cast<const T*>(c_prev), static_cast<T*>(h_out), static_cast<T*>(c_out), static_cast<T*>(y), ldy,
        static_cast<T*>(ws));
    GALEN_CUDA_LAUNCH_CHECK("rnn_cell_forward");
  });
}

void CudaBackend::rnn_cell_backward(const RnnStep& s, DType dt, const void* ws, const void* h_prev,
                                    const void* c_prev, const void* dy, int64_t ldy, const void* dh, const void* dc,
                                    void* dgi, void* dgh, void* dh_prev, void* dc_prev) {
  dispatch_float(dt, "rnn_cell_backward", [&](auto tag) {
    using T = decltype(tag);
    const int64_t n = s.B * s.H;
    if (n == 0) return;
    rnn_backward_kernel<T><<<grid_for(n), kThreads>>>(
        s.cell, s.B, s.H, s.lengths, s.t, static_cast<const T*>(ws), static_cast<const T*>(h_prev),
        static_cast<const T*>(c_prev), static_cast<const T*>(dy), ldy, static_cast<const T*>(dh),
        static_cast<const T*>(dc), static_cast<T*>(dgi), static_cast<T*>(dgh), static_cast<T*>(dh_prev),
        static_cast<T*>(dc_prev));
    GALEN_CUDA_LAUNCH_CHECK("rnn_cell_backward");
  });
}

}  // namespace galen::kernels::cuda
