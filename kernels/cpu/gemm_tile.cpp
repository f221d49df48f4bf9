// The AVX-512 tile gemm of gemm_tile.h. Micro-kernel: a kMR x (16*NV) block of
// C in 8*NV zmm accumulators (NV <= 3: 24 accumulators, 3 B vectors and one
// broadcast in the 32 registers), one rank-1 update per k from a packed A
// column (kMR floats) and NV vectors of a B row. Blocking: kKC rows of B (the
// B micro-panel, kKC x 48 floats = 48 KB, stays in L1 across the kMR panels of
// A) and kMC rows of A (kMC x kKC floats = 256 KB in L2). Edge columns use
// masked loads / stores; edge rows go through a kMR-row scratch block. A may
// also be read in place (gemm_unpacked): 8 row streams from L1/L2, no packing.
#include "galen/kernels/cpu/gemm_tile.h"

#include <algorithm>
#include <cstring>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace galen::kernels::cpu::tile {

void pack_a(const float* A, int64_t lda, bool trans, int64_t M, int64_t K, float* out) {
  for (int64_t i0 = 0; i0 < M; i0 += kMR) {
    float* p = out + i0 * K;
    const int64_t mr = std::min<int64_t>(kMR, M - i0);
    if (trans) {
      for (int64_t k = 0; k < K; ++k) {
        const float* src = A + k * lda + i0;
        float* d = p + k * kMR;
        int64_t r = 0;
        for (; r < mr; ++r) d[r] = src[r];
        for (; r < kMR; ++r) d[r] = 0.0f;
      }
    } else {
      for (int64_t r = 0; r < kMR; ++r) {
        if (r < mr) {
          const float* src = A + (i0 + r) * lda;
          for (int64_t k = 0; k < K; ++k) p[k * kMR + r] = src[k];
        } else {
          for (int64_t k = 0; k < K; ++k) p[k * kMR + r] = 0.0f;
        }
      }
    }
  }
}

#if defined(__AVX512F__)

bool available() { return true; }

namespace {

constexpr int64_t kKC = 256;  // depth of one pass over B
constexpr int64_t kMC = 256;  // rows of A per block
constexpr int kMRi = static_cast<int>(kMR);

// C (kMR x 16*NV, ldc) = [C +] A (kMR x K) . B (K x 16*NV, ldb); the last vector
// column uses `last` as its lane mask. A is packed (element (r, k) at
// A[k*kMR + r]) or, when !Packed, read in place at A[r*lda + k].
template <int NV, bool Packed>
inline void micro(int64_t K, const float* __restrict A, int64_t lda, const float* __restrict B, int64_t ldb,
                  float* C, int64_t ldc, bool acc_in, __mmask16 last) {
  __m512 acc[kMRi][NV];
  if (acc_in) {
#pragma GCC unroll 8
    for (int r = 0; r < kMRi; ++r)
#pragma GCC unroll 3
      for (int v = 0; v < NV; ++v)
        acc[r][v] = v == NV - 1 ? _mm512_maskz_loadu_ps(last, C + r * ldc + 16 * v) : _mm512_loadu_ps(C + r * ldc + 16 * v);
  } else {
#pragma GCC unroll 8
    for (int r = 0; r < kMRi; ++r)
#pragma GCC unroll 3
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
  }
  for (int64_t k = 0; k < K; ++k) {
    __m512 b[NV];
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v)
      b[v] = v == NV - 1 ? _mm512_maskz_loadu_ps(last, B + k * ldb + 16 * v) : _mm512_loadu_ps(B + k * ldb + 16 * v);
#pragma GCC unroll 8
    for (int r = 0; r < kMRi; ++r) {
      const __m512 av = _mm512_set1_ps(Packed ? A[k * kMR + r] : A[r * lda + k]);
#pragma GCC unroll 3
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(av, b[v], acc[r][v]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < kMRi; ++r)
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) {
      if (v == NV - 1)
        _mm512_mask_storeu_ps(C + r * ldc + 16 * v, last, acc[r][v]);
      else
        _mm512_storeu_ps(C + r * ldc + 16 * v, acc[r][v]);
    }
}

// Rows [0, mr) of C. mr < kMR: A's rows are packed into a zero-padded panel
// (unpacked A has no rows past M to read) and C goes through a scratch block.
template <int NV, bool Packed>
inline void micro_edge(int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb, float* C, int64_t ldc,
                       int64_t mr, bool acc_in, __mmask16 last, int64_t nj) {
  if (mr == kMR) {
    micro<NV, Packed>(K, A, lda, B, ldb, C, ldc, acc_in, last);
    return;
  }
  alignas(64) float t[kMR * 16 * NV] = {};
  if (acc_in)
    for (int64_t r = 0; r < mr; ++r) std::memcpy(t + r * 16 * NV, C + r * ldc, nj * sizeof(float));
  if (Packed) {
    micro<NV, true>(K, A, 0, B, ldb, t, 16 * NV, acc_in, last);
  } else {
    alignas(64) float ap[kMR * 256];  // K <= kKC here
    pack_a(A, lda, false, mr, K, ap);
    micro<NV, true>(K, ap, 0, B, ldb, t, 16 * NV, acc_in, last);
  }
  for (int64_t r = 0; r < mr; ++r) std::memcpy(C + r * ldc, t + r * 16 * NV, nj * sizeof(float));
}

template <bool Packed>
void gemm_impl(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
               int64_t ldc, bool accumulate) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    if (!accumulate)
      for (int64_t i = 0; i < M; ++i) std::fill_n(C + i * ldc, N, 0.0f);
    return;
  }
  for (int64_t i0 = 0; i0 < M; i0 += kMC) {
    const int64_t mc = std::min(kMC, M - i0);
    for (int64_t k0 = 0; k0 < K; k0 += kKC) {
      const int64_t kc = std::min(kKC, K - k0);
      const bool acc = accumulate || k0 > 0;
      for (int64_t j = 0; j < N; j += 48) {
        const int64_t nj = std::min<int64_t>(48, N - j);
        const int nv = static_cast<int>((nj + 15) / 16);
        const int64_t tail = nj - 16 * (nv - 1);
        const __mmask16 last = static_cast<__mmask16>(tail == 16 ? 0xFFFFu : (1u << tail) - 1u);
        const float* b = B + k0 * ldb + j;
        for (int64_t i = i0; i < i0 + mc; i += kMR) {
          const int64_t mr = std::min(kMR, M - i);
          const float* a = Packed ? A + i * K + k0 * kMR : A + i * lda + k0;
          float* c = C + i * ldc + j;
          if (nv == 3)
            micro_edge<3, Packed>(kc, a, lda, b, ldb, c, ldc, mr, acc, last, nj);
          else if (nv == 2)
            micro_edge<2, Packed>(kc, a, lda, b, ldb, c, ldc, mr, acc, last, nj);
          else
            micro_edge<1, Packed>(kc, a, lda, b, ldb, c, ldc, mr, acc, last, nj);
        }
      }
    }
  }
}

}  // namespace

void gemm(int64_t M, int64_t N, int64_t K, const float* Ap, const float* B, int64_t ldb, float* C, int64_t ldc,
          bool accumulate) {
  gemm_impl<true>(M, N, K, Ap, 0, B, ldb, C, ldc, accumulate);
}

void gemm_unpacked(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb,
                   float* C, int64_t ldc, bool accumulate) {
  gemm_impl<false>(M, N, K, A, lda, B, ldb, C, ldc, accumulate);
}

#else  // no AVX-512: conv.cpp uses OpenBLAS instead

bool available() { return false; }

void gemm(int64_t, int64_t, int64_t, const float*, const float*, int64_t, float*, int64_t, bool) {}
void gemm_unpacked(int64_t, int64_t, int64_t, const float*, int64_t, const float*, int64_t, float*, int64_t, bool) {}

#endif

}  // namespace galen::kernels::cpu::tile
