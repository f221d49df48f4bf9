// A small single-threaded f32 gemm for cache-resident tiles, used by the conv2d
// kernels (conv.cpp) in place of OpenBLAS when the library is compiled for
// AVX-512 (GALEN_NATIVE on an AVX-512 machine): measured on the 2-core Zen 5 dev
// box, OpenBLAS 0.3.21's sgemm reaches about half of the FMA peak on conv-sized
// tiles (64 x 192 x 576: ~95 of 218 GFLOP/s per core), this kernel ~200.
//
// A is packed once into panels of kMR rows (pack_a); B and C are read / written
// in place with their leading dimensions, so an im2col tile or a slice of the
// input feeds it directly. Not threaded: callers split the work.
#pragma once

#include <cstdint>

namespace galen::kernels::cpu::tile {

inline constexpr int64_t kMR = 8;  // rows of A per panel (= rows of C per micro-tile)

// Whether the kernel is compiled in (AVX-512F at compile time). When false the
// other functions must not be called.
bool available();

// Floats needed by pack_a for an (M x K) op(A).
inline int64_t packed_size(int64_t M, int64_t K) { return (M + kMR - 1) / kMR * kMR * K; }

// op(A) (M x K) -> panels: out[(i / kMR) * kMR * K + k * kMR + i % kMR] = op(A)[i][k],
// rows past M zero. op(A)[i][k] = A[i*lda + k], or A[k*lda + i] when trans.
void pack_a(const float* A, int64_t lda, bool trans, int64_t M, int64_t K, float* out);

// C (M x N, row stride ldc) = op(A) . B  (+ C when accumulate), with op(A) packed
// by pack_a and B (K x N, row stride ldb).
void gemm(int64_t M, int64_t N, int64_t K, const float* Ap, const float* B, int64_t ldb, float* C, int64_t ldc,
          bool accumulate);

// The same with A (M x K, row stride lda) read in place: for an A that is used
// only once (a tile of the column matrix), where packing would cost as much as
// the product. Edge row panels (M % kMR) are packed on the fly.
void gemm_unpacked(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb,
                   float* C, int64_t ldc, bool accumulate);

}  // namespace galen::kernels::cpu::tile
