// The CPU backend's whole-convolution path (variant "conv2d" = "tiled"): conv2d
// forward and backward as cache-sized tiles, each an im2col of a slice of the
// output positions into a per-thread buffer followed by one single-threaded
// gemm: the AVX-512 tile gemm (gemm_tile.h) for f32 when compiled in, else
// OpenBLAS (which stays single-threaded inside an OpenMP region).
//
// Why tiles instead of core's fallback (im2col of a whole image, then one gemm
// threaded by OpenBLAS): the whole-image column matrix (K x L, 7 MB for a 3x3
// 64->64 conv at 56x56) streams through memory twice, and a threaded gemm per
// image synchronises the pool once per image. A tile of the column matrix
// (about kTileBytes) stays in the core's L2 cache between the im2col that
// writes it and the gemm that reads it, and threads share nothing.
//
//  - forward: tasks (image, group, column slice); y[:, slice] = W_g . cols.
//    1x1 stride-1 convolutions read x directly (no im2col). Batch 1 with few
//    slices also splits the output channels. More filters than columns in the
//    batch (late layers, 512 channels at 7x7): one shared im2col of the batch
//    and the gemm split over output channels (forward_shared).
//  - gx: tasks (image, group) own their gx planes; per slice, dcols = W_gᵀ .
//    gy[:, slice] is scattered back (col2im of the slice). Too few images for
//    the threads: whole-image dcols with a threaded gemm and a parallel col2im.
//    1x1 stride 1: gx[:, slice] = W_gᵀ . gy[:, slice], tasks by slice.
//  - gw: split over the rows of K (input channel, kernel row), so each thread
//    im2cols only its own rows and owns its columns of gw: no private copies,
//    no reduction, the same summation order on every run. The tile gemm
//    computes gwᵀ (rows of K x OCg) = cols . gyᵀ with cols read in place and
//    gyᵀ transposed once for the batch; gwᵀ is transposed into gw at the end.
//  - gb: per output channel in double.
// core/ops_nn.cpp falls back to its own path when this returns false (too
// little parallel work for the tiles, or the "im2col" variant selected).
#include <cblas.h>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "galen/kernels/cpu/allocator.h"
#include "galen/kernels/cpu/common.h"
#include "galen/kernels/cpu/cpu_kernels.h"
#include "galen/kernels/cpu/gemm_tile.h"

namespace galen::kernels::cpu {
namespace {

// Target size of one thread's column tile: well inside a 1 MB L2 next to the
// weight panel the gemm packs.
constexpr int64_t kTileBytes = 320 * 1024;
// Narrowest slice worth a gemm call (below, per-call overhead dominates).
constexpr int64_t kMinSlice = 32;

inline int64_t ceil_div_pos(int64_t a, int64_t b) { return (a + b - 1) / b; }
// ceil(a / b) for b > 0 and any sign of a.
inline int64_t ceil_div(int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }

// Output positions o in [lo, hi) whose input index o*S - P + k*D lies in [0, n).
inline void valid_range(int64_t n, int64_t S, int64_t P, int64_t kd, int64_t out, int64_t& lo, int64_t& hi) {
  lo = std::clamp<int64_t>(ceil_div(P - kd, S), 0, out);
  hi = std::clamp<int64_t>(ceil_div(n + P - kd, S), lo, out);
}

bool is_pointwise(const Conv2dGeometry& g) {
  return g.KH == 1 && g.KW == 1 && g.SH == 1 && g.SW == 1 && g.PH == 0 && g.PW == 0 && g.OH == g.H && g.OW == g.W;
}

// Single-threaded when called inside a parallel region (OpenBLAS's OpenMP build).
template <typename T>
void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda, const T* B,
          int64_t ldb, T beta, T* C, int64_t ldc) {
  const auto opa = ta ? CblasTrans : CblasNoTrans, opb = tb ? CblasTrans : CblasNoTrans;
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemm(CblasRowMajor, opa, opb, int(M), int(N), int(K), alpha, A, int(lda), B, int(ldb), beta, C, int(ldc));
  else
    cblas_dgemm(CblasRowMajor, opa, opb, int(M), int(N), int(K), alpha, A, int(lda), B, int(ldb), beta, C, int(ldc));
}

// Walks the rows (c, kh, kw) for units u = c*KH + kh in [u0, u1) and the output
// positions [l0, l1) of one image's im2col, calling
//   f(row, oh, a, e, h, lo, hi)
// per (row, output row): the slice covers ow in [a, e); h is the input row
// (may be out of range: then lo == hi == a); ow in [lo, hi) read inside.
template <typename F>
inline void walk_cols(const Conv2dGeometry& g, int64_t u0, int64_t u1, int64_t l0, int64_t l1, F&& f) {
  const int64_t oh0 = l0 / g.OW, oh1 = (l1 - 1) / g.OW;
  for (int64_t u = u0; u < u1; ++u) {
    const int64_t kh = u % g.KH;
    for (int64_t kw = 0; kw < g.KW; ++kw) {
      const int64_t row = (u - u0) * g.KW + kw;
      int64_t olo, ohi;
      valid_range(g.W, g.SW, g.PW, kw * g.DW, g.OW, olo, ohi);
      for (int64_t oh = oh0; oh <= oh1; ++oh) {
        const int64_t a = oh == oh0 ? l0 - oh * g.OW : 0, e = oh == oh1 ? l1 - oh * g.OW : g.OW;
        const int64_t h = oh * g.SH - g.PH + kh * g.DH;
        int64_t lo = a, hi = a;
        if (h >= 0 && h < g.H) {
          lo = std::clamp(olo, a, e);
          hi = std::clamp(ohi, lo, e);
        }
        f(row, oh, a, e, h, lo, hi);
      }
    }
  }
}

// d[0, n) = s[0, n). The runs of im2col are short (7 .. 56 floats, one output
// row): a memcpy call costs more than the copy, and a vector loop's scalar tail
// (56 = 3*16 + 8) was a fifth of the time, hence the masked AVX-512 tail.
template <typename T>
inline void copy_run(T* __restrict d, const T* __restrict s, int64_t n) {
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<T, float>) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(d + i, _mm512_loadu_ps(s + i));
    if (i < n) {
      const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1u);
      _mm512_mask_storeu_ps(d + i, m, _mm512_maskz_loadu_ps(m, s + i));
    }
    return;
  }
#endif
  for (int64_t i = 0; i < n; ++i) d[i] = s[i];
}

// cols (rows of units [u0, u1), positions [l0, l1)), row stride ld (default
// l1 - l0), from one image x (C, H, W).
template <typename T>
void im2col_tile(const T* x, const Conv2dGeometry& g, int64_t u0, int64_t u1, int64_t l0, int64_t l1, T* cols,
                 int64_t ld = -1) {
  const int64_t n = ld >= 0 ? ld : l1 - l0;
  walk_cols(g, u0, u1, l0, l1, [&](int64_t row, int64_t oh, int64_t a, int64_t e, int64_t h, int64_t lo, int64_t hi) {
    T* d = cols + row * n + oh * g.OW - l0;  // indexed by ow
    for (int64_t ow = a; ow < lo; ++ow) d[ow] = T(0);
    if (hi > lo) {
      const int64_t u = u0 + row / g.KW, kw = row % g.KW;
      const T* src = x + ((u / g.KH) * g.H + h) * g.W - g.PW + kw * g.DW;  // + ow*SW
      if (g.SW == 1) {
        copy_run(d + lo, src + lo, hi - lo);
      } else {
        for (int64_t ow = lo; ow < hi; ++ow) d[ow] = src[ow * g.SW];
      }
    }
    for (int64_t ow = hi; ow < e; ++ow) d[ow] = T(0);
  });
}

// x (C, H, W) += the adjoint of im2col_tile over all units, positions [l0, l1).
template <typename T>
void col2im_tile_add(const T* cols, const Conv2dGeometry& g, int64_t l0, int64_t l1, T* x) {
  const int64_t n = l1 - l0;
  walk_cols(g, 0, g.C * g.KH, l0, l1,
            [&](int64_t row, int64_t oh, int64_t, int64_t, int64_t h, int64_t lo, int64_t hi) {
              if (hi <= lo) return;
              const T* s = cols + row * n + oh * g.OW - l0;
              const int64_t u = row / g.KW, kw = row % g.KW;
              T* dst = x + ((u / g.KH) * g.H + h) * g.W - g.PW + kw * g.DW;
              if (g.SW == 1) {
#pragma omp simd
                for (int64_t ow = lo; ow < hi; ++ow) dst[ow] += s[ow];
              } else {
                for (int64_t ow = lo; ow < hi; ++ow) dst[ow * g.SW] += s[ow];
              }
            });
}

// Slice length for tiles of `rows` column-matrix rows over L positions: about
// kTileBytes, a multiple of 16 when wider than that, and at least enough
// slices that `outer` * slices tasks keep every thread busy.
int64_t slice_len(int64_t rows, int64_t L, size_t elem, int64_t outer, int nt) {
  int64_t s = std::max<int64_t>(kMinSlice, kTileBytes / std::max<int64_t>(1, rows * static_cast<int64_t>(elem)));
  s = std::min(s, L);
  int64_t slices = ceil_div_pos(L, s);
  const int64_t want = ceil_div_pos(4 * nt, std::max<int64_t>(1, outer));  // ~4 tasks per thread
  if (slices < want) slices = std::min(want, std::max<int64_t>(1, L / kMinSlice));
  slices = std::max<int64_t>(1, slices);
  s = ceil_div_pos(L, slices);
  if (s > 16 && s < L) s = std::min(L, (s + 15) / 16 * 16);
  return s;
}

// Per-thread scratch from the caching host allocator.
struct Scratch {
  void* p = nullptr;
  size_t n = 0;
  explicit Scratch(size_t bytes) : n(bytes) { p = bytes ? cpu_alloc(bytes) : nullptr; }
  ~Scratch() {
    if (p) cpu_free(p, n);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  template <typename T>
  T* at(int64_t offset_elems) const {
    return static_cast<T*>(p) + offset_elems;
  }
};

// Enough independent tasks to split over nt threads without a bad imbalance.
inline bool enough_tasks(int64_t tasks, int nt) { return nt <= 1 || tasks >= 4 * nt || tasks % nt == 0; }

// f32 with the AVX-512 tile gemm compiled in.
template <typename T>
inline bool fast_path() {
  return std::is_same_v<T, float> && tile::available();
}

// W (OC, K) per group -> tile panels of op(W_g): W_g (OCg x K) or, with trans,
// W_gᵀ (K x OCg). Only on the fast path.
template <typename T>
void pack_weights(const T* w, int64_t groups, int64_t OCg, int64_t K, bool trans, float* out) {
  if constexpr (std::is_same_v<T, float>) {
    const int64_t M = trans ? K : OCg, KK = trans ? OCg : K, per = tile::packed_size(M, KK);
    parallel_for(groups, groups * OCg * K, [&](int64_t g0, int64_t g1) {
      for (int64_t gi = g0; gi < g1; ++gi) tile::pack_a(w + gi * OCg * K, K, trans, M, KK, out + gi * per);
    });
  }
}

// C (M x N, ldc) = op(A) . B where op(A) is either packed (fast path) or, for
// OpenBLAS, A (M x K, lda) / its transpose stored (K x M, lda).
template <typename T>
inline void tile_gemm(const float* Ap, const T* A, int64_t lda, bool ta, int64_t M, int64_t N, int64_t K, const T* B,
                      int64_t ldb, T* C, int64_t ldc) {
  if constexpr (std::is_same_v<T, float>) {
    if (Ap) {
      tile::gemm(M, N, K, Ap, B, ldb, C, ldc, false);
      return;
    }
  }
  gemm<T>(ta, false, M, N, K, T(1), A, lda, B, ldb, T(0), C, ldc);
}

// Late layers (more weights than columns: OCg > N*L, e.g. 512 channels at 7x7):
// per-slice tiles would stream the whole weight matrix from L3 for every 49
// columns. Instead the column matrix of the whole batch (K x N*L) is built once
// in parallel and the gemm is split over blocks of output channels, so each
// thread reads its share of the weights once.
void forward_shared(const float* x, const float* w, const float* b, int64_t N, const Conv2dGeometry& g, int64_t OC,
                    int64_t groups, float* y) {
  const int64_t Cg = g.C, Cin = Cg * groups, OCg = OC / groups, K = Cg * g.KH * g.KW, L = g.OH * g.OW,
                HW = g.H * g.W, Q = N * L, units = Cg * g.KH;
  const int nt = threads_for(N * OC * L * K);
  const int64_t mrows = std::max(tile::kMR, ceil_div_pos(ceil_div_pos(OCg, 2 * nt), tile::kMR) * tile::kMR);
  const int64_t mblocks = ceil_div_pos(OCg, mrows);
  Scratch ws(static_cast<size_t>(K * Q + OCg * Q) * sizeof(float));
  float* cols = ws.at<float>(0);
  float* cs = cols + K * Q;
  for (int64_t gi = 0; gi < groups; ++gi) {
    parallel_for(units * N, K * Q, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t u = t / N, n = t % N;
        im2col_tile(x + (n * Cin + gi * Cg) * HW, g, u, u + 1, 0, L, cols + u * g.KW * Q + n * L, Q);
      }
    });
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1) if (nt > 1)
    for (int64_t mb = 0; mb < mblocks; ++mb) {
      const int64_t m0 = mb * mrows, mr = std::min(OCg, m0 + mrows) - m0;
      tile::gemm_unpacked(mr, Q, K, w + (gi * OCg + m0) * K, K, cols, Q, cs + m0 * Q, Q, false);
      for (int64_t oc = m0; oc < m0 + mr; ++oc) {
        const float bv = b ? b[gi * OCg + oc] : 0.0f;
        for (int64_t n = 0; n < N; ++n) {
          const float* src = cs + oc * Q + n * L;
          float* dst = y + (n * OC + gi * OCg + oc) * L;
#pragma omp simd
          for (int64_t i = 0; i < L; ++i) dst[i] = src[i] + bv;
        }
      }
    }
  }
}

template <typename T>
bool forward(const T* x, const T* w, const T* b, int64_t N, const Conv2dGeometry& g, int64_t OC, int64_t groups,
             T* y) {
  const int64_t Cg = g.C, Cin = Cg * groups, OCg = OC / groups, K = Cg * g.KH * g.KW, L = g.OH * g.OW,
                HW = g.H * g.W;
  const int nt = threads_for(N * OC * L * K);
  const bool pw = is_pointwise(g), fast = fast_path<T>();
  if constexpr (std::is_same_v<T, float>) {
    if (fast && N > 1 && OCg > N * L) {
      forward_shared(x, w, b, N, g, OC, groups, y);
      return true;
    }
  }
  const int64_t S = slice_len(K, L, sizeof(T), N * groups, nt), slices = ceil_div_pos(L, S);
  // Too few (image, group, slice) tasks (batch 1, 7x7 maps): also split the
  // output channels, in blocks of whole 8-row panels of at least 16 rows; each
  // block redoes the slice's im2col, cheap next to its gemm.
  int64_t mblocks = 1;
  if (!enough_tasks(N * groups * slices, nt))
    mblocks = std::min(ceil_div_pos(4 * nt, N * groups * slices), std::max<int64_t>(1, OCg / 16));
  const int64_t mrows = std::min(OCg, ceil_div_pos(ceil_div_pos(OCg, mblocks), tile::kMR) * tile::kMR);
  mblocks = ceil_div_pos(OCg, mrows);
  const int64_t tasks = N * groups * slices * mblocks;
  // The tile gemm on one core is about as fast as OpenBLAS on two: never worse
  // than declining. OpenBLAS per tile needs the tasks to balance.
  if (!fast && !enough_tasks(tasks, nt)) return false;
  Scratch ws(pw ? 0 : static_cast<size_t>(nt * K * S) * sizeof(T));
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    T* cols = pw ? nullptr : ws.at<T>(omp_get_thread_num() * K * S);
#pragma omp for schedule(dynamic, 1)
    for (int64_t t = 0; t < tasks; ++t) {
      const int64_t mb = t % mblocks, sl = t / mblocks % slices, ng = t / mblocks / slices;
      const int64_t n = ng / groups, gi = ng % groups;
      const int64_t l0 = sl * S, l1 = std::min(L, l0 + S), nl = l1 - l0;
      const int64_t m0 = mb * mrows, mr = std::min(OCg, m0 + mrows) - m0;
      const T* xg = x + (n * Cin + gi * Cg) * HW;
      T* yo = y + (n * OC + gi * OCg + m0) * L + l0;
      const T* wg = w + (gi * OCg + m0) * K;
      const T* bm = xg + l0;  // B: x itself (1x1) or the slice's im2col
      int64_t ldb = HW;
      if (!pw) {
        im2col_tile(xg, g, 0, Cg * g.KH, l0, l1, cols);
        bm = cols;
        ldb = nl;
      }
      // W is read in place (rows of K floats stream well; packing it cost ~6%).
      bool done = false;
      if constexpr (std::is_same_v<T, float>) {
        if (fast) {
          tile::gemm_unpacked(mr, nl, K, wg, K, bm, ldb, yo, L, false);
          done = true;
        }
      }
      if (!done) gemm<T>(false, false, mr, nl, K, T(1), wg, K, bm, ldb, T(0), yo, L);
      if (b)
        for (int64_t oc = 0; oc < mr; ++oc) {
          const T bv = b[gi * OCg + m0 + oc];
          T* r = yo + oc * L;
#pragma omp simd
          for (int64_t i = 0; i < nl; ++i) r[i] += bv;
        }
    }
  }
  return true;
}

template <typename T>
void grad_bias(const T* gy, int64_t N, int64_t OC, int64_t L, T* gb) {
  parallel_for(OC, N * OC * L, [&](int64_t c0, int64_t c1) {
    for (int64_t oc = c0; oc < c1; ++oc) {
      double s = 0;
      for (int64_t n = 0; n < N; ++n) {
        const T* r = gy + (n * OC + oc) * L;
        double rs = 0;
#pragma omp simd reduction(+ : rs)
        for (int64_t i = 0; i < L; ++i) rs += static_cast<double>(r[i]);
        s += rs;
      }
      gb[oc] = static_cast<T>(s);
    }
  });
}

template <typename T>
void grad_input(const T* w, const T* gy, int64_t N, const Conv2dGeometry& g, int64_t OC, int64_t groups, T* gx) {
  const int64_t Cg = g.C, Cin = Cg * groups, OCg = OC / groups, K = Cg * g.KH * g.KW, L = g.OH * g.OW,
                HW = g.H * g.W;
  const int nt = threads_for(N * OC * L * K);
  const bool pw = is_pointwise(g), few = !pw && !enough_tasks(N * groups, nt);
  if (few) {
    // Few images: whole-image dcols, threaded gemm, parallel scatter.
    Scratch ws(static_cast<size_t>(K * L) * sizeof(T));
    T* dcols = ws.at<T>(0);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t gi = 0; gi < groups; ++gi) {
        gemm_openblas(dtype_v<T>, true, false, K, L, OCg, 1.0, w + gi * OCg * K, K, 0, gy + (n * OC + gi * OCg) * L,
                      L, 0, 0.0, dcols, L, 0, 1);
        col2im(dtype_v<T>, dcols, g, gx + (n * Cin + gi * Cg) * HW);
      }
    return;
  }
  const bool fast = fast_path<T>();
  const int64_t wper = fast ? tile::packed_size(K, OCg) : 0;
  Scratch wp(static_cast<size_t>(groups * wper) * sizeof(float));
  if (fast) pack_weights(w, groups, OCg, K, true, wp.at<float>(0));
  if (pw) {
    // gx[n, group][:, slice] = W_gᵀ (Cg, OCg) . gy[n, group][:, slice]: disjoint outputs.
    const int64_t S = slice_len(std::max(OCg, Cg), L, sizeof(T), N * groups, nt), slices = ceil_div_pos(L, S);
    const int64_t tasks = N * groups * slices;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1) if (nt > 1)
    for (int64_t t = 0; t < tasks; ++t) {
      const int64_t sl = t % slices, ng = t / slices, n = ng / groups, gi = ng % groups;
      const int64_t l0 = sl * S, nl = std::min(L, l0 + S) - l0;
      tile_gemm<T>(fast ? wp.at<float>(gi * wper) : nullptr, w + gi * OCg * K, K, true, Cg, nl, OCg,
                   gy + (n * OC + gi * OCg) * L + l0, L, gx + (n * Cin + gi * Cg) * HW + l0, HW);
    }
    return;
  }
  const int64_t S = slice_len(K, L, sizeof(T), 1, 1), slices = ceil_div_pos(L, S);
  Scratch ws(static_cast<size_t>(nt * K * S) * sizeof(T));
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    T* dcols = ws.at<T>(omp_get_thread_num() * K * S);
#pragma omp for schedule(dynamic, 1)
    for (int64_t ng = 0; ng < N * groups; ++ng) {
      const int64_t n = ng / groups, gi = ng % groups;
      T* gxp = gx + (n * Cin + gi * Cg) * HW;
      std::fill_n(gxp, Cg * HW, T(0));
      for (int64_t sl = 0; sl < slices; ++sl) {
        const int64_t l0 = sl * S, l1 = std::min(L, l0 + S), nl = l1 - l0;
        tile_gemm<T>(fast ? wp.at<float>(gi * wper) : nullptr, w + gi * OCg * K, K, true, K, nl, OCg,
                     gy + (n * OC + gi * OCg) * L + l0, L, dcols, nl);
        col2im_tile_add(dcols, g, l0, l1, gxp);
      }
    }
  }
}

// gw for small maps (L < 256) on the tile path: per-image slices of 49 or 196
// columns would make gwᵀ (K x OCg, 9 MB at 512 channels) a read-modify-write
// pass per image. Instead: the batch's column matrix (K x N*L) and gyᵀ
// (N*L x OCg) once, then gwᵀ row blocks in one gemm each (depth N*L).
void grad_weight_shared(const float* x, const float* gy, int64_t N, const Conv2dGeometry& g, int64_t OC,
                        int64_t groups, float* gw) {
  const int64_t Cg = g.C, Cin = Cg * groups, OCg = OC / groups, K = Cg * g.KH * g.KW, L = g.OH * g.OW,
                HW = g.H * g.W, Q = N * L, units = Cg * g.KH;
  const int nt = threads_for(N * OC * L * K);
  const int64_t rows = std::max(tile::kMR, ceil_div_pos(ceil_div_pos(K, 2 * nt), tile::kMR) * tile::kMR);
  const int64_t blocks = ceil_div_pos(K, rows);
  Scratch ws(static_cast<size_t>(K * Q + Q * OCg + K * OCg) * sizeof(float));
  float* cols = ws.at<float>(0);
  float* gyt = cols + K * Q;
  float* gwt = gyt + Q * OCg;
  for (int64_t gi = 0; gi < groups; ++gi) {
    parallel_for(units * N, K * Q, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t u = t / N, n = t % N;
        im2col_tile(x + (n * Cin + gi * Cg) * HW, g, u, u + 1, 0, L, cols + u * g.KW * Q + n * L, Q);
      }
    });
    parallel_for(N, Q * OCg, [&](int64_t n0, int64_t n1) {
      for (int64_t n = n0; n < n1; ++n)
        for (int64_t oc = 0; oc < OCg; ++oc) {
          const float* src = gy + (n * OC + gi * OCg + oc) * L;
          for (int64_t l = 0; l < L; ++l) gyt[(n * L + l) * OCg + oc] = src[l];
        }
    });
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1) if (nt > 1)
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t r0 = b * rows, nr = std::min(K, r0 + rows) - r0;
      tile::gemm_unpacked(nr, OCg, Q, cols + r0 * Q, Q, gyt, OCg, gwt + r0 * OCg, OCg, false);
    }
    parallel_for(OCg, OCg * K, [&](int64_t o0, int64_t o1) {
      for (int64_t oc = o0; oc < o1; ++oc) {
        float* d = gw + (gi * OCg + oc) * K;
        for (int64_t k = 0; k < K; ++k) d[k] = gwt[k * OCg + oc];
      }
    });
  }
}

template <typename T>
void grad_weight(const T* x, const T* gy, int64_t N, const Conv2dGeometry& g, int64_t OC, int64_t groups, T* gw) {
  const int64_t Cg = g.C, Cin = Cg * groups, OCg = OC / groups, K = Cg * g.KH * g.KW, L = g.OH * g.OW,
                HW = g.H * g.W;
  const int nt = threads_for(N * OC * L * K);
  const bool pw = is_pointwise(g);
  bool fast = fast_path<T>();
  if constexpr (std::is_same_v<T, float>) {
    if (fast && L < 256) {
      if (N * L >= 128) {
        grad_weight_shared(x, gy, N, g, OC, groups, gw);
        return;
      }
      fast = false;  // batch 1 at 7x7: too shallow for the tile gemm; OpenBLAS per K-row block
    }
  }
  // Tasks: (group, block of units); a unit is one (channel, kernel row) = KW rows of K.
  const int64_t units = Cg * g.KH;
  const int64_t blocks = std::min(units, groups >= nt ? int64_t{1} : ceil_div_pos(nt, groups));
  const int64_t per = ceil_div_pos(units, blocks), max_rows = per * g.KW;
  const int64_t S = (pw && !fast) ? L : slice_len(max_rows, L, sizeof(T), 1, 1), slices = ceil_div_pos(L, S);
  // Per thread: the im2col tile (not for 1x1).
  const int64_t cols_n = pw ? 0 : max_rows * S;
  Scratch ws(static_cast<size_t>(nt * cols_n) * sizeof(T));
  Scratch gwt(fast ? static_cast<size_t>(OC * K) * sizeof(float) : 0);  // gwᵀ per group: (K, OCg)
  // Fast path: gyᵀ per (image, group), (L, OCg), made once and shared by all tasks.
  Scratch gyt(fast ? static_cast<size_t>(N * OC * L) * sizeof(float) : 0);
  if (fast) {
    constexpr int64_t B = 32;
    const int64_t lb = ceil_div_pos(L, B);
    parallel_for(N * groups * lb, N * OC * L, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t ng = t / lb, l0 = (t % lb) * B, l1 = std::min(L, l0 + B);
        const float* src = reinterpret_cast<const float*>(gy) + ng * OCg * L;  // (n, gi) block: rows oc
        float* dst = gyt.at<float>(ng * L * OCg);
        for (int64_t oc0 = 0; oc0 < OCg; oc0 += B)
          for (int64_t l = l0; l < l1; ++l)
            for (int64_t oc = oc0; oc < std::min(OCg, oc0 + B); ++oc) dst[l * OCg + oc] = src[oc * L + l];
      }
    });
  }
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    T* cols = ws.at<T>(omp_get_thread_num() * cols_n);
#pragma omp for schedule(static, 1)
    for (int64_t t = 0; t < groups * blocks; ++t) {
      const int64_t gi = t / blocks, u0 = (t % blocks) * per, u1 = std::min(units, u0 + per);
      if (u0 >= u1) continue;
      const int64_t r0 = u0 * g.KW, rows = (u1 - u0) * g.KW;
      for (int64_t n = 0; n < N; ++n) {
        const T* xg = x + (n * Cin + gi * Cg) * HW;
        const T* gyg = gy + (n * OC + gi * OCg) * L;
        for (int64_t sl = 0; sl < slices; ++sl) {
          const int64_t l0 = sl * S, l1 = std::min(L, l0 + S), nl = l1 - l0;
          const bool first = n == 0 && sl == 0;
          // The rows of this task's column matrix for the slice (1x1: x itself).
          const T* a = xg + r0 * HW + l0;
          int64_t lda = HW;
          if (!pw) {
            im2col_tile(xg, g, u0, u1, l0, l1, cols);
            a = cols;
            lda = nl;
          }
          if constexpr (std::is_same_v<T, float>) {
            if (fast) {
              // gwᵀ[rows] (rows x OCg) += cols (rows x nl) . gyᵀ (nl x OCg)
              tile::gemm_unpacked(rows, OCg, nl, a, lda, gyt.at<float>(((n * groups + gi) * L + l0) * OCg), OCg,
                                  gwt.at<float>((gi * K + r0) * OCg), OCg, !first);
              continue;
            }
          }
          // gw_g[:, rows] (OCg x rows) += gy (OCg x nl) . colsᵀ (nl x rows)
          gemm<T>(false, true, OCg, rows, nl, T(1), gyg + l0, L, a, lda, first ? T(0) : T(1), gw + gi * OCg * K + r0,
                  K);
        }
      }
    }
  }
  if (fast) {
    const float* src = gwt.at<float>(0);
    float* dst = reinterpret_cast<float*>(gw);
    parallel_for(OC, OC * K, [&](int64_t o0, int64_t o1) {
      for (int64_t o = o0; o < o1; ++o) {
        const int64_t gi = o / OCg, oc = o % OCg;
        const float* s = src + gi * K * OCg + oc;
        float* d = dst + o * K;
        for (int64_t k = 0; k < K; ++k) d[k] = s[k * OCg];
      }
    });
  }
}

}  // namespace

bool conv2d_forward(DType dt, const void* x, const void* w, const void* b, int64_t N, const Conv2dGeometry& g,
                    int64_t OC, int64_t groups, void* y) {
  if (N <= 0 || g.OH * g.OW <= 0 || OC <= 0 || g.C <= 0) return false;
  if (dt == DType::f32)
    return forward(static_cast<const float*>(x), static_cast<const float*>(w), static_cast<const float*>(b), N, g,
                   OC, groups, static_cast<float*>(y));
  if (dt == DType::f64)
    return forward(static_cast<const double*>(x), static_cast<const double*>(w), static_cast<const double*>(b), N, g,
                   OC, groups, static_cast<double*>(y));
  return false;
}

bool conv2d_backward(DType dt, const void* x, const void* w, const void* gy, int64_t N, const Conv2dGeometry& g,
                     int64_t OC, int64_t groups, void* gx, void* gw, void* gb) {
  if (N <= 0 || g.OH * g.OW <= 0 || OC <= 0 || g.C <= 0) return false;
  auto run = [&](auto tag) {
    using T = decltype(tag);
    const T* px = static_cast<const T*>(x);
    const T* pw = static_cast<const T*>(w);
    const T* pg = static_cast<const T*>(gy);
    if (gb) grad_bias(pg, N, OC, g.OH * g.OW, static_cast<T*>(gb));
    if (gx) grad_input(pw, pg, N, g, OC, groups, static_cast<T*>(gx));
    if (gw) grad_weight(px, pg, N, g, OC, groups, static_cast<T*>(gw));
  };
  if (dt == DType::f32) run(float{});
  else if (dt == DType::f64) run(double{});
  else return false;
  return true;
}

}  // namespace galen::kernels::cpu
