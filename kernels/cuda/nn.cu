// CUDA convolution helpers (im2col / col2im), max / average pooling (+ backward)
// and batch-norm statistics, affine and backward. f32 and f64.
//
// Every kernel is gather-style: one thread per *output* element, which reads
// whatever it needs (col2im and the pooling backwards visit the windows that
// cover their input element). No atomics, so results are deterministic, and the
// summation order is the reference's wherever that is cheap to keep.
// Sums are accumulated in double (as in kernels/ref/ref_nn.cpp).
//
// Per-channel reductions (batch-norm statistics and backward, the conv bias
// gradient) cut each channel's N*S elements into chunks: pass 1 writes one
// double partial per (channel, chunk) block, pass 2 adds a channel's partials
// in chunk order. The chunk count depends only on the sizes and the SM count.
#include <cuda_runtime.h>

#include <algorithm>

#include "galen/kernels/cuda/cuda_common.cuh"

namespace galen::kernels::cuda {

namespace {

// ---- flat launches ------------------------------------------------------------------
// Grid-stride loop over n items; op(i) for each. 32-bit index math when n (and
// every offset the caller vouches for) fits with room for the last stride step.
template <typename IndexT, typename Op>
__global__ void __launch_bounds__(kThreads) flat_kernel(IndexT n, Op op) {
  const IndexT step = static_cast<IndexT>(blockDim.x) * static_cast<IndexT>(gridDim.x);
  for (IndexT i = static_cast<IndexT>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step)
    op(i);
}

constexpr int64_t kMax32 = std::numeric_limits<int32_t>::max() / 2;

template <typename IndexT, typename Op>
void launch_flat(int64_t n, const Op& op, const char* what) {
  if (n <= 0) return;
  flat_kernel<IndexT, Op><<<grid_for(n), kThreads>>>(static_cast<IndexT>(n), op);
  GALEN_CUDA_LAUNCH_CHECK(what);
}

// Launches make(I{}) (an op taking an I index) over n items, I = int32_t when n
// and `extent` (the largest element count / offset any operand reaches) leave
// room for the last grid-stride step, else int64_t.
template <typename Make>
void launch_indexed(int64_t n, int64_t extent, const Make& make, const char* what) {
  if (n <= 0) return;
  if (n <= kMax32 && extent <= kMax32) launch_flat<int32_t>(n, make(int32_t{}), what);
  else launch_flat<int64_t>(n, make(int64_t{}), what);
}

// The geometry in the kernel's index type.
template <typename I>
struct Geo {
  I C, H, W, KH, KW, SH, SW, PH, PW, DH, DW, OH, OW;
  explicit Geo(const Conv2dGeometry& g)
      : C(static_cast<I>(g.C)), H(static_cast<I>(g.H)), W(static_cast<I>(g.W)),
        KH(static_cast<I>(g.KH)), KW(static_cast<I>(g.KW)), SH(static_cast<I>(g.SH)),
        SW(static_cast<I>(g.SW)), PH(static_cast<I>(g.PH)), PW(static_cast<I>(g.PW)),
        DH(static_cast<I>(g.DH)), DW(static_cast<I>(g.DW)), OH(static_cast<I>(g.OH)),
        OW(static_cast<I>(g.OW)) {}
};

void check_geometry(const char* prim, const Conv2dGeometry& g) {
  GALEN_CHECK(g.C >= 0 && g.H >= 0 && g.W >= 0 && g.OH >= 0 && g.OW >= 0 && g.KH >= 1 &&
                  g.KW >= 1 && g.SH >= 1 && g.SW >= 1 && g.DH >= 1 && g.DW >= 1 && g.PH >= 0 &&
                  g.PW >= 0,
              prim, ": bad geometry (C ", g.C, ", H ", g.H, ", W ", g.W, ", kernel ", g.KH, "x",
              g.KW, ", stride ", g.SH, "x", g.SW, ", padding ", g.PH, "x", g.PW, ", dilation ",
              g.DH, "x", g.DW, ", out ", g.OH, "x", g.OW, ")");
}

// Largest offset-like quantity the geometry produces (for the 32-bit choice):
// covers padded coordinates and window reach as well as element counts.
int64_t geometry_extent(const Conv2dGeometry& g) {
  int64_t e = g.C * g.KH * g.KW;
  const int64_t more[] = {g.H + g.PH + g.DH * g.KH + g.SH * g.OH, g.W + g.PW + g.DW * g.KW + g.SW * g.OW};
  for (int64_t m : more)
    if (m > e) e = m;
  return e;
}

// ---- im2col / col2im ------------------------------------------------------------------
// cols (C*KH*KW, OH*OW): one thread per cols element (coalesced writes).
template <typename T, typename I>
struct Im2colOp {
  const T* x;
  T* cols;
  Geo<I> g;
  __device__ void operator()(I i) const {
    const I L = g.OH * g.OW;
    const I r = i / L, p = i - r * L;
    const I oh = p / g.OW, ow = p - oh * g.OW;
    const I kw = r % g.KW, t = r / g.KW;
    const I kh = t % g.KH, c = t / g.KH;
    const I h = oh * g.SH - g.PH + kh * g.DH, w = ow * g.SW - g.PW + kw * g.DW;
    cols[i] = (h >= 0 && h < g.H && w >= 0 && w < g.W) ? x[(c * g.H + h) * g.W + w] : T(0);
  }
};

// x (C, H, W): one thread per input element summing, in the reference's order
// (kh, kw ascending), the cols entries whose window tap reads it.
template <typename T, typename I>
struct Col2imOp {
  const T* cols;
  T* x;
  Geo<I> g;
  __device__ void operator()(I i) const {
    const I w = i % g.W, t = i / g.W;
    const I h = t % g.H, c = t / g.H;
    const I L = g.OH * g.OW;
    double acc = 0;
    for (I kh = 0; kh < g.KH; ++kh) {
      const I hh = h + g.PH - kh * g.DH;
      if (hh < 0) break;  // grows more negative with kh
      if (hh % g.SH != 0) continue;
      const I oh = hh / g.SH;
      if (oh >= g.OH) continue;
      for (I kw = 0; kw < g.KW; ++kw) {
        const I ww = w + g.PW - kw * g.DW;
        if (ww < 0) break;
        if (ww % g.SW != 0) continue;
        const I ow = ww / g.SW;
        if (ow >= g.OW) continue;
        acc += static_cast<double>(cols[((c * g.KH + kh) * g.KW + kw) * L + oh * g.OW + ow]);
      }
    }
    x[i] = static_cast<T>(acc);
  }
};

// ---- max pooling -------------------------------------------------------------------------
// One thread per output: the first maximum of the window, the first NaN over
// everything; a window that only sees padding gives -inf and index -1 (core
// rules that out; the reference does the same).
template <typename T, typename I>
struct MaxPoolOp {
  const T* x;
  T* out;
  int64_t* indices;
  Geo<I> g;
  __device__ void operator()(I i) const {
    const I ow = i % g.OW, t = i / g.OW;
    const I oh = t % g.OH, p = t / g.OH;
    const T* plane = x + p * g.H * g.W;
    bool found = false;
    T best = T(0);
    I best_i = -1;
    for (I kh = 0; kh < g.KH; ++kh) {
      const I h = oh * g.SH - g.PH + kh * g.DH;
      if (h < 0 || h >= g.H) continue;
      for (I kw = 0; kw < g.KW; ++kw) {
        const I w = ow * g.SW - g.PW + kw * g.DW;
        if (w < 0 || w >= g.W) continue;
        const T v = plane[h * g.W + w];
        if (!found || (!is_nan(best) && (v > best || is_nan(v)))) {
          best = v;
          best_i = h * g.W + w;
          found = true;
        }
      }
    }
    out[i] = found ? best : -std::numeric_limits<T>::infinity();
    if (indices) indices[i] = static_cast<int64_t>(best_i);
  }
};

// One thread per input element: adds gout of every window that covers it and
// chose it. Walking kh / kw downwards visits outputs in ascending order, the
// order in which the reference scatters, so the sums match it exactly.
template <typename T, typename I>
struct MaxPoolBackwardOp {
  const T* gout;
  const int64_t* indices;
  T* gx;
  Geo<I> g;
  __device__ void operator()(I i) const {
    const I w = i % g.W, t = i / g.W;
    const I h = t % g.H, p = t / g.H;
    const int64_t target = static_cast<int64_t>(h) * g.W + w;
    const I obase = p * g.OH * g.OW;
    T acc = T(0);
    for (I kh = g.KH - 1; kh >= 0; --kh) {
      const I hh = h + g.PH - kh * g.DH;
      if (hh < 0 || hh % g.SH != 0) continue;
      const I oh = hh / g.SH;
      if (oh >= g.OH) continue;
      for (I kw = g.KW - 1; kw >= 0; --kw) {
        const I ww = w + g.PW - kw * g.DW;
        if (ww < 0 || ww % g.SW != 0) continue;
        const I ow = ww / g.SW;
        if (ow >= g.OW) continue;
        const I o = obase + oh * g.OW + ow;
        if (indices[o] == target) acc += gout[o];
      }
    }
    gx[i] = acc;
  }
};

// ---- average pooling -----------------------------------------------------------------------
// PyTorch's window (no dilation): [hs, min(hs + KH, H + PH)) clipped to the
// input; the divisor is the padded window's area when count_include_pad, else
// the clipped one's.
template <typename I>
struct AvgWin {
  I hs, he, ws, we;
  double divisor;
};

template <typename I>
__device__ __forceinline__ AvgWin<I> avg_window(const Geo<I>& g, I oh, I ow, bool cip) {
  I hs = oh * g.SH - g.PH, ws = ow * g.SW - g.PW;
  I he = hs + g.KH < g.H + g.PH ? hs + g.KH : g.H + g.PH;
  I we = ws + g.KW < g.W + g.PW ? ws + g.KW : g.W + g.PW;
  const double padded = static_cast<double>(he - hs) * static_cast<double>(we - ws);
  hs = hs > 0 ? hs : I(0);
  ws = ws > 0 ? ws : I(0);
  he = he < g.H ? he : g.H;
  we = we < g.W ? we : g.W;
  const double inside = static_cast<double>(he - hs) * static_cast<double>(we - ws);
  return AvgWin<I>{hs, he, ws, we, cip ? padded : inside};
}

template <typename T, typename I>
struct AvgPoolOp {
  const T* x;
  T* out;
  Geo<I> g;
  bool cip;
  __device__ void operator()(I i) const {
    const I ow = i % g.OW, t = i / g.OW;
    const I oh = t % g.OH, p = t / g.OH;
    const AvgWin<I> win = avg_window(g, oh, ow, cip);
    const T* plane = x + p * g.H * g.W;
    double s = 0;
    for (I h = win.hs; h < win.he; ++h)
      for (I w = win.ws; w < win.we; ++w) s += static_cast<double>(plane[h * g.W + w]);
    out[i] = static_cast<T>(win.divisor > 0 ? s / win.divisor : 0.0);
  }
};

// Floor division for a possibly negative numerator and a positive divisor.
template <typename I>
__device__ __forceinline__ I floor_div(I a, I b) {
  const I q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

// One thread per input element; outputs visited in ascending order, as the
// reference accumulates them.
template <typename T, typename I>
struct AvgPoolBackwardOp {
  const T* gout;
  T* gx;
  Geo<I> g;
  bool cip;
  __device__ void operator()(I i) const {
    const I w = i % g.W, t = i / g.W;
    const I h = t % g.H, p = t / g.H;
    // Windows with oh*SH - PH <= h < oh*SH - PH + KH.
    I oh0 = floor_div<I>(h + g.PH - g.KH, g.SH) + 1, oh1 = floor_div<I>(h + g.PH, g.SH);
    I ow0 = floor_div<I>(w + g.PW - g.KW, g.SW) + 1, ow1 = floor_div<I>(w + g.PW, g.SW);
    oh0 = oh0 > 0 ? oh0 : I(0);
    ow0 = ow0 > 0 ? ow0 : I(0);
    oh1 = oh1 < g.OH - 1 ? oh1 : g.OH - 1;
    ow1 = ow1 < g.OW - 1 ? ow1 : g.OW - 1;
    const T* gp = gout + p * g.OH * g.OW;
    double acc = 0;
    for (I oh = oh0; oh <= oh1; ++oh)
      for (I ow = ow0; ow <= ow1; ++ow) {
        const AvgWin<I> win = avg_window(g, oh, ow, cip);
        if (win.divisor <= 0 || h < win.hs || h >= win.he || w < win.ws || w >= win.we) continue;
        acc += static_cast<double>(gp[oh * g.OW + ow]) / win.divisor;
      }
    gx[i] = static_cast<T>(acc);
  }
};

// ---- per-channel reductions ---------------------------------------------------------------
constexpr unsigned kFullMask = 0xffffffffu;

struct Chunking {
  int64_t chunks = 1, chunk_len = 1;
};

// Enough (channel, chunk) blocks to give every SM a few, chunks of at least
// kMinChunk elements.
Chunking choose_chunking(int64_t C, int64_t M) {
  constexpr int64_t kMinChunk = 4096;
  Chunking k;
  if (M <= 0) return k;
  const int64_t target = static_cast<int64_t>(current_sm_count()) * 4;
  int64_t chunks = C >= target ? 1 : ceil_div(target, C < 1 ? 1 : C);
  const int64_t max_chunks = M / kMinChunk < 1 ? 1 : M / kMinChunk;
  if (chunks > max_chunks) chunks = max_chunks;
  k.chunk_len = ceil_div(M, chunks);
  k.chunks = ceil_div(M, k.chunk_len);
  return k;
}

// Pass 1: block t handles channel t / chunks, chunk t % chunks; f(offset, c)
// gives the two double terms of element `offset` of x (N, C, S); partial[t] =
// their sums. The (t) loop is block-uniform, as __syncthreads needs.
template <typename F>
__global__ void __launch_bounds__(kThreads)
    channel_partial_kernel(int64_t N, int64_t C, int64_t S, Chunking ck, F f, double2* partial) {
  __shared__ double2 warp_sum[kThreads / 32];
  const int64_t M = N * S;
  const int64_t ntiles = C * ck.chunks;
  const int64_t dn = S > 0 ? kThreads / S : 0, ds = S > 0 ? kThreads % S : 0;
  for (int64_t tile = blockIdx.x; tile < ntiles; tile += gridDim.x) {
    const int64_t c = tile / ck.chunks, k = tile % ck.chunks;
    const int64_t begin = k * ck.chunk_len;
    const int64_t end = begin + ck.chunk_len < M ? begin + ck.chunk_len : M;
    double a = 0, b = 0;
    int64_t j = begin + threadIdx.x;
    if (j < end) {
      int64_t n = j / S, s = j % S;
      for (; j < end; j += kThreads) {
        const double2 v = f((n * C + c) * S + s, c);
        a += v.x;
        b += v.y;
        n += dn;
        s += ds;
        if (s >= S) {
          s -= S;
          ++n;
        }
      }
    }
#pragma unroll
    for (int d = 16; d > 0; d >>= 1) {
      a += __shfl_down_sync(kFullMask, a, d);
      b += __shfl_down_sync(kFullMask, b, d);
    }
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    __syncthreads();  // warp_sum may still be read for the previous tile
    if (lane == 0) warp_sum[warp] = make_double2(a, b);
    __syncthreads();
    if (threadIdx.x == 0) {
      double2 s2 = warp_sum[0];
      for (int q = 1; q < kThreads / 32; ++q) {
        s2.x += warp_sum[q].x;
        s2.y += warp_sum[q].y;
      }
      partial[tile] = s2;
    }
  }
}

// Pass 2: one thread per channel adds its partials in chunk order; e(c, sums).
template <typename E>
__global__ void __launch_bounds__(kThreads)
    channel_finish_kernel(int64_t C, int64_t chunks, const double2* partial, E e) {
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; c < C; c += step) {
    double2 s = make_double2(0.0, 0.0);
    for (int64_t k = 0; k < chunks; ++k) {
      const double2 v = partial[c * chunks + k];
      s.x += v.x;
      s.y += v.y;
    }
    e(c, s);
  }
}

// Device scratch from the caching allocator, returned on scope exit (the
// legacy default stream orders its reuse after the kernels that use it).
struct Scratch {
  void* p = nullptr;
  explicit Scratch(size_t nbytes) { p = scratch_alloc(nbytes == 0 ? 1 : nbytes); }
  ~Scratch() { scratch_free(p); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  template <typename T>
  T* as() const {
    return static_cast<T*>(p);
  }
};

template <typename F, typename E>
void channel_reduce(int64_t N, int64_t C, int64_t S, const F& f, const E& e, const char* what) {
  if (C <= 0) return;
  const Chunking ck = choose_chunking(C, N * S);
  Scratch partial(static_cast<size_t>(C * ck.chunks) * sizeof(double2));
  const int64_t tiles = C * ck.chunks;
  const int64_t cap = static_cast<int64_t>(current_sm_count()) * 8;
  const unsigned grid = static_cast<unsigned>(tiles < cap ? tiles : cap);
  channel_partial_kernel<F><<<grid, kThreads>>>(N, C, S, ck, f, partial.as<double2>());
  GALEN_CUDA_LAUNCH_CHECK(what);
  channel_finish_kernel<E><<<grid_for(C), kThreads>>>(C, ck.chunks, partial.as<double2>(), e);
  GALEN_CUDA_LAUNCH_CHECK(what);
}

// Terms and epilogues of the reductions.
template <typename T>
struct ValueTerm {  // (x, 0)
  const T* x;
  __device__ double2 operator()(int64_t off, int64_t) const {
    return make_double2(static_cast<double>(x[off]), 0.0);
  }
};

template <typename T>
struct SquaredDevTerm {  // ((x - mean_c)^2, 0)
  const T* x;
  const double* mean;
  __device__ double2 operator()(int64_t off, int64_t c) const {
    const double d = static_cast<double>(x[off]) - mean[c];
    return make_double2(d * d, 0.0);
  }
};

template <typename T>
struct BnBackwardTerm {  // (gy, gy * xhat)
  const T* x;
  const T* gy;
  const T* mean;
  const T* invstd;
  __device__ double2 operator()(int64_t off, int64_t c) const {
    const double g = static_cast<double>(gy[off]);
    const double xhat = (static_cast<double>(x[off]) - static_cast<double>(mean[c])) *
                        static_cast<double>(invstd[c]);
    return make_double2(g, g * xhat);
  }
};

template <typename T>
struct MeanEpilogue {  // mean_d[c] (double) and mean[c] (T)
  double M;
  double* mean_d;
  T* mean;
  __device__ void operator()(int64_t c, double2 s) const {
    const double mu = M > 0 ? s.x / M : 0.0;
    mean_d[c] = mu;
    mean[c] = static_cast<T>(mu);
  }
};

template <typename T>
struct VarEpilogue {
  double M;
  T* var;
  __device__ void operator()(int64_t c, double2 s) const {
    var[c] = static_cast<T>(M > 0 ? s.x / M : 0.0);
  }
};

template <typename T>
struct SumEpilogue {
  T* out;
  __device__ void operator()(int64_t c, double2 s) const { out[c] = static_cast<T>(s.x); }
};

// gb / gw (each may be null) and the gx coefficients per channel:
// coef[3c..3c+2] = (w * invstd, sum(gy) / M, sum(gy * xhat) / M).
template <typename T>
struct BnBackwardEpilogue {
  double M;
  const T* w;
  const T* invstd;
  T* gw;
  T* gb;
  T* coef;
  __device__ void operator()(int64_t c, double2 s) const {
    if (gb) gb[c] = static_cast<T>(s.x);
    if (gw) gw[c] = static_cast<T>(s.y);
    if (coef) {
      const double scale = (w ? static_cast<double>(w[c]) : 1.0) * static_cast<double>(invstd[c]);
      coef[3 * c] = static_cast<T>(scale);
      coef[3 * c + 1] = static_cast<T>(M > 0 ? s.x / M : 0.0);
      coef[3 * c + 2] = static_cast<T>(M > 0 ? s.y / M : 0.0);
    }
  }
};

// gx = scale * (gy - sum(gy)/M - xhat * sum(gy*xhat)/M), xhat = (x - mean) * invstd.
template <typename T, typename I>
struct BnBackwardGxOp {
  const T* x;
  const T* gy;
  const T* mean;
  const T* invstd;
  const T* coef;
  T* gx;
  I C, S;
  __device__ void operator()(I i) const {
    const I c = (i / S) % C;
    const T xhat = (x[i] - mean[c]) * invstd[c];
    gx[i] = coef[3 * c] * (gy[i] - coef[3 * c + 1] - xhat * coef[3 * c + 2]);
  }
};

// y = (x - mean) * (invstd * w) + b.
template <typename T, typename I>
struct ChannelAffineOp {
  const T* x;
  const T* mean;
  const T* invstd;
  const T* w;
  const T* b;
  T* y;
  I C, S;
  __device__ void operator()(I i) const {
    const I c = (i / S) % C;
    const T scale = w ? invstd[c] * w[c] : invstd[c];
    const T shift = b ? b[c] : T(0);
    y[i] = (x[i] - mean[c]) * scale + shift;
  }
};

template <typename T, typename I>
struct AddBiasOp {
  T* y;
  const T* b;
  I C, S;
  __device__ void operator()(I i) const { y[i] += b[(i / S) % C]; }
};

void check_ncs(const char* prim, int64_t N, int64_t C, int64_t S) {
  GALEN_CHECK(N >= 0 && C >= 0 && S >= 0, prim, ": negative size (N ", N, ", C ", C, ", S ", S, ")");
}

}  // namespace

// ---- the backend methods ----------------------------------------------------------------

void CudaBackend::im2col(DType dtype, const void* x, const Conv2dGeometry& g, void* cols) {
  check_geometry("im2col", g);
  dispatch_float(dtype, "im2col", [&](auto tag) {
    using T = decltype(tag);
    const int64_t n = g.C * g.KH * g.KW * g.OH * g.OW;
    const int64_t extent = std::max({n, g.C * g.H * g.W, geometry_extent(g)});
    launch_indexed(n, extent, [&](auto itag) {
      using I = decltype(itag);
      return Im2colOp<T, I>{static_cast<const T*>(x), static_cast<T*>(cols), Geo<I>(g)};
    }, "im2col");
  });
}

void CudaBackend::col2im(DType dtype, const void* cols, const Conv2dGeometry& g, void* x) {
  check_geometry("col2im", g);
  dispatch_float(dtype, "col2im", [&](auto tag) {
    using T = decltype(tag);
    const int64_t n = g.C * g.H * g.W;
    const int64_t extent = std::max({n, g.C * g.KH * g.KW * g.OH * g.OW, geometry_extent(g)});
    launch_indexed(n, extent, [&](auto itag) {
      using I = decltype(itag);
      return Col2imOp<T, I>{static_cast<const T*>(cols), static_cast<T*>(x), Geo<I>(g)};
    }, "col2im");
  });
}

void CudaBackend::max_pool2d(DType dtype, const void* x, int64_t planes, const Conv2dGeometry& g,
                             void* out, int64_t* indices) {
  check_geometry("max_pool2d", g);
  GALEN_CHECK(planes >= 0, "max_pool2d: negative plane count ", planes);
  dispatch_float(dtype, "max_pool2d", [&](auto tag) {
    using T = decltype(tag);
    const int64_t n = planes * g.OH * g.OW;
    const int64_t extent = std::max({n, planes * g.H * g.W, geometry_extent(g)});
    launch_indexed(n, extent, [&](auto itag) {
      using I = decltype(itag);
      return MaxPoolOp<T, I>{static_cast<const T*>(x), static_cast<T*>(out), indices, Geo<I>(g)};
    }, "max_pool2d");
  });
}

void CudaBackend::max_pool2d_backward(DType dtype, const void* gout, const int64_t* indices,
                                      int64_t planes, const Conv2dGeometry& g, void* gx) {
  check_geometry("max_pool2d_backward", g);
  GALEN_CHECK(planes >= 0, "max_pool2d_backward: negative plane count ", planes);
  dispatch_float(dtype, "max_pool2d_backward", [&](auto tag) {
    using T = decltype(tag);
    const int64_t n = planes * g.H * g.W;
    const int64_t extent = std::max({n, planes * g.OH * g.OW, geometry_extent(g)});
    launch_indexed(n, extent, [&](auto itag) {
      using I = decltype(itag);
      return MaxPoolBackwardOp<T, I>{static_cast<const T*>(gout), indices, static_cast<T*>(gx),
                                     Geo<I>(g)};
    }, "max_pool2d_backward");
  });
}

void CudaBackend::avg_pool2d(DType dtype, const void* x, int64_t planes, const Conv2dGeometry& g,
                             bool count_include_pad, void* out) {
  check_geometry("avg_pool2d", g);
  GALEN_CHECK(planes >= 0, "avg_pool2d: negative plane count ", planes);
  dispatch_float(dtype, "avg_pool2d", [&](auto tag) {
    using T = decltype(tag);
    const int64_t n = planes * g.OH * g.OW;
    const int64_t extent = std::max({n, planes * g.H * g.W, geometry_extent(g)});
    launch_indexed(n, extent, [&](auto itag) {
      using I = decltype(itag);
      return AvgPoolOp<T, I>{static_cast<const T*>(x), static_cast<T*>(out), Geo<I>(g),
                             count_include_pad};
    }, "avg_pool2d");
  });
}

void CudaBackend::avg_pool2d_backward(DType dtype, const void* gout, int64_t planes,
                                      const Conv2dGeometry& g, bool count_include_pad, void* gx) {
  check_geometry("avg_pool2d_backward", g);
  GALEN_CHECK(planes >= 0, "avg_pool2d_backward: negative plane count ", planes);
  dispatch_float(dtype, "avg_pool2d_backward", [&](auto tag) {
    using T = decltype(tag);
    const int64_t n = planes * g.H * g.W;
    const int64_t extent = std::max({n, planes * g.OH * g.OW, geometry_extent(g)});
    launch_indexed(n, extent, [&](auto itag) {
      using I = decltype(itag);
      return AvgPoolBackwardOp<T, I>{static_cast<const T*>(gout), static_cast<T*>(gx), Geo<I>(g),
                                     count_include_pad};
    }, "avg_pool2d_backward");
  });
}

void CudaBackend::channel_stats(DType dtype, const void* x, int64_t N, int64_t C, int64_t S,
                                void* mean, void* var) {
  check_ncs("channel_stats", N, C, S);
  dispatch_float(dtype, "channel_stats", [&](auto tag) {
    using T = decltype(tag);
    if (C == 0) return;
    const T* px = static_cast<const T*>(x);
    const double M = static_cast<double>(N * S);
    // Two passes, as the reference: the mean, then the squared deviations from it.
    Scratch mean_d(static_cast<size_t>(C) * sizeof(double));
    channel_reduce(N, C, S, ValueTerm<T>{px}, MeanEpilogue<T>{M, mean_d.as<double>(), static_cast<T*>(mean)},
                   "channel_stats (mean)");
    channel_reduce(N, C, S, SquaredDevTerm<T>{px, mean_d.as<double>()},
                   VarEpilogue<T>{M, static_cast<T*>(var)}, "channel_stats (var)");
  });
}

void CudaBackend::channel_affine(DType dtype, const void* x, int64_t N, int64_t C, int64_t S,
                                 const void* mean, const void* invstd, const void* w,
                                 const void* b, void* y) {
  check_ncs("channel_affine", N, C, S);
  dispatch_float(dtype, "channel_affine", [&](auto tag) {
    using T = decltype(tag);
    const int64_t n = N * C * S;
    launch_indexed(n, n, [&](auto itag) {
      using I = decltype(itag);
      return ChannelAffineOp<T, I>{static_cast<const T*>(x),      static_cast<const T*>(mean),
                                   static_cast<const T*>(invstd), static_cast<const T*>(w),
                                   static_cast<const T*>(b),      static_cast<T*>(y),
                                   static_cast<I>(C),             static_cast<I>(S)};
    }, "channel_affine");
  });
}

void CudaBackend::batch_norm_backward(DType dtype, const void* x, const void* gy, int64_t N,
                                      int64_t C, int64_t S, const void* mean, const void* invstd,
                                      const void* w, void* gx, void* gw, void* gb) {
  check_ncs("batch_norm_backward", N, C, S);
  dispatch_float(dtype, "batch_norm_backward", [&](auto tag) {
    using T = decltype(tag);
    if (C == 0) return;
    const T* px = static_cast<const T*>(x);
    const T* pg = static_cast<const T*>(gy);
    const T* pm = static_cast<const T*>(mean);
    const T* pi = static_cast<const T*>(invstd);
    const double M = static_cast<double>(N * S);
    Scratch coef(static_cast<size_t>(3 * C) * sizeof(T));
    T* pc = gx ? coef.as<T>() : nullptr;
    channel_reduce(N, C, S, BnBackwardTerm<T>{px, pg, pm, pi},
                   BnBackwardEpilogue<T>{M, static_cast<const T*>(w), pi, static_cast<T*>(gw),
                                         static_cast<T*>(gb), pc},
                   "batch_norm_backward (sums)");
    if (!gx) return;
    const int64_t n = N * C * S;
    launch_indexed(n, n, [&](auto itag) {
      using I = decltype(itag);
      return BnBackwardGxOp<T, I>{px, pg, pm, pi, pc, static_cast<T*>(gx), static_cast<I>(C),
                                  static_cast<I>(S)};
    }, "batch_norm_backward (gx)");
  });
}

void channel_sum(DType dtype, const void* x, int64_t N, int64_t C, int64_t S, void* out) {
  check_ncs("channel_sum", N, C, S);
  dispatch_float(dtype, "channel_sum", [&](auto tag) {
    using T = decltype(tag);
    channel_reduce(N, C, S, ValueTerm<T>{static_cast<const T*>(x)},
                   SumEpilogue<T>{static_cast<T*>(out)}, "channel_sum");
  });
}

void add_channel_bias(DType dtype, void* y, int64_t N, int64_t C, int64_t S, const void* b) {
  check_ncs("add_channel_bias", N, C, S);
  dispatch_float(dtype, "add_channel_bias", [&](auto tag) {
    using T = decltype(tag);
    const int64_t n = N * C * S;
    launch_indexed(n, n, [&](auto itag) {
      using I = decltype(itag);
      return AddBiasOp<T, I>{static_cast<T*>(y), static_cast<const T*>(b), static_cast<I>(C),
                             static_cast<I>(S)};
    }, "add_channel_bias");
  });
}

}  // namespace galen::kernels::cuda
