// CUDA gemm, two variants selectable by name:
//  "cublas" (default): cublas{S,D}gemmStridedBatched. cuBLAS is column-major;
//     a row-major (M,N) C with leading dim ldc is, read column-major, the (N,M)
//     matrix C^T, and C^T = op(B)^T op(A)^T, so we call cuBLAS with the operands
//     swapped (B first), m = N, n = M and the same transpose flags.
//  "tiled": a hand-written shared-memory kernel. 64x64 tile of C per 256-thread
//     block, K in steps of 16; each thread accumulates a 4x4 register tile
//     (rows ty + 16*i, columns tx + 16*j, so shared-memory reads are broadcasts or
//     consecutive and C stores are coalesced). Edges are zero-padded in shared
//     memory, so any M, N, K and both transpose flags work; batch runs over
//     gridDim.z, and all three grid dims loop, so no size limit applies.
// Math mode stays CUBLAS_DEFAULT_MATH: no TF32 unless NVIDIA_TF32_OVERRIDE asks.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "galen/kernels/cuda/cuda_common.cuh"

#define GALEN_CUBLAS_CHECK(call)                                                            \
  do {                                                                                      \
    const cublasStatus_t galen_cublas_st_ = (call);                                         \
    if (galen_cublas_st_ != CUBLAS_STATUS_SUCCESS)                                          \
      GALEN_FAIL("cuBLAS error: ", #call, " failed: ", cublasGetStatusString(galen_cublas_st_), \
                 " (status ", static_cast<int>(galen_cublas_st_), ")");                     \
  } while (0)

namespace galen::kernels::cuda {

namespace {

cublasHandle_t cublas_handle() {
  return per_device_handle<cublasHandle_t>("gemm (cuBLAS)", [] {
    cublasHandle_t h = nullptr;
    GALEN_CUBLAS_CHECK(cublasCreate(&h));
    // The legacy default stream, like every other kernel of this backend.
    const cublasStatus_t st = cublasSetStream(h, nullptr);
    if (st != CUBLAS_STATUS_SUCCESS) {
      cublasDestroy(h);
      GALEN_CUBLAS_CHECK(st);
    }
    return h;
  });
}

constexpr int kBM = 64, kBN = 64, kBK = 16;
constexpr int kTileThreads = 256;  // 16 x 16 threads, 4 x 4 outputs each

template <typename T>
__global__ void __launch_bounds__(kTileThreads)
    gemm_tiled_kernel(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
                      int64_t lda, int64_t sa, const T* B, int64_t ldb, int64_t sb, T beta, T* C,
                      int64_t ldc, int64_t sc, int64_t batch) {
  // As[k][m] = op(A)(m0 + m, k0 + k); Bs[k][n] = op(B)(k0 + k, n0 + n).
  // +1 padding keeps the transposing stores into shared memory conflict-light.
  __shared__ T As[kBK][kBM + 1];
  __shared__ T Bs[kBK][kBN + 1];
  const int tid = threadIdx.x;
  const int tx = tid % 16, ty = tid / 16;
  const int64_t tiles_m = ceil_div(M, kBM), tiles_n = ceil_div(N, kBN);

  // All loops below are uniform across the block (they depend only on block
  // indices), as the __syncthreads inside require.
  for (int64_t z = blockIdx.z; z < batch; z += gridDim.z) {
    const T* Ab = A + z * sa;
    const T* Bb = B + z * sb;
    T* Cb = C + z * sc;
    for (int64_t tm = blockIdx.y; tm < tiles_m; tm += gridDim.y) {
      for (int64_t tn = blockIdx.x; tn < tiles_n; tn += gridDim.x) {
        const int64_t m0 = tm * kBM, n0 = tn * kBN;
        T acc[4][4];
#pragma unroll
        for (int i = 0; i < 4; ++i)
#pragma unroll
          for (int j = 0; j < 4; ++j) acc[i][j] = T(0);

        for (int64_t k0 = 0; k0 < K; k0 += kBK) {
          // Load 64x16 of op(A) and 16x64 of op(B): 4 elements per thread each,
          // with consecutive threads on the operand's contiguous dimension.
#pragma unroll
          for (int r = 0; r < 4; ++r) {
            int mm, kk;
            if (!ta) {  // A is (M,K) row-major: contiguous along k
              kk = tid % kBK;
              mm = tid / kBK + 16 * r;
            } else {  // A is (K,M): contiguous along m
              mm = tid % kBM;
              kk = tid / kBM + 4 * r;
            }
            const int64_t gm = m0 + mm, gk = k0 + kk;
            T v = T(0);
            if (gm < M && gk < K) v = ta ? Ab[gk * lda + gm] : Ab[gm * lda + gk];
            As[kk][mm] = v;
          }
#pragma unroll
          for (int r = 0; r < 4; ++r) {
            int nn, kk;
            if (!tb) {  // B is (K,N) row-major: contiguous along n
              nn = tid % kBN;
              kk = tid / kBN + 4 * r;
            } else {  // B is (N,K): contiguous along k
              kk = tid % kBK;
              nn = tid / kBK + 16 * r;
            }
            const int64_t gn = n0 + nn, gk = k0 + kk;
            T v = T(0);
            if (gn < N && gk < K) v = tb ? Bb[gn * ldb + gk] : Bb[gk * ldb + gn];
            Bs[kk][nn] = v;
          }
          __syncthreads();
#pragma unroll
          for (int kk = 0; kk < kBK; ++kk) {
            T a[4], b[4];
#pragma unroll
            for (int i = 0; i < 4; ++i) a[i] = As[kk][ty + 16 * i];
#pragma unroll
            for (int j = 0; j < 4; ++j) b[j] = Bs[kk][tx + 16 * j];
#pragma unroll
            for (int i = 0; i < 4; ++i)
#pragma unroll
              for (int j = 0; j < 4; ++j) acc[i][j] += a[i] * b[j];
          }
          __syncthreads();
        }

#pragma unroll
        for (int i = 0; i < 4; ++i) {
          const int64_t gm = m0 + ty + 16 * i;
          if (gm >= M) continue;
#pragma unroll
          for (int j = 0; j < 4; ++j) {
            const int64_t gn = n0 + tx + 16 * j;
            if (gn >= N) continue;
            T* c = Cb + gm * ldc + gn;
            // beta == 0: C is write-only (it may hold NaN or garbage).
            *c = beta == T(0) ? alpha * acc[i][j] : alpha * acc[i][j] + beta * *c;
          }
        }
      }
    }
  }
}

template <typename T>
void launch_tiled(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const void* A,
                  int64_t lda, int64_t sa, const void* B, int64_t ldb, int64_t sb, double beta,
                  void* C, int64_t ldc, int64_t sc, int64_t batch) {
  const int64_t tiles_m = ceil_div(M, kBM), tiles_n = ceil_div(N, kBN);
  const dim3 grid(static_cast<unsigned>(tiles_n < 2147483647 ? tiles_n : 2147483647),
                  static_cast<unsigned>(tiles_m < 65535 ? tiles_m : 65535),
                  static_cast<unsigned>(batch < 65535 ? batch : 65535));
  gemm_tiled_kernel<T><<<grid, kTileThreads>>>(
      ta, tb, M, N, K, static_cast<T>(alpha), static_cast<const T*>(A), lda, sa,
      static_cast<const T*>(B), ldb, sb, static_cast<T>(beta), static_cast<T*>(C), ldc, sc, batch);
  GALEN_CUDA_LAUNCH_CHECK("gemm (tiled)");
}

// cuBLAS wants ld >= rows of the stored column-major matrix even when the
// other dimension is 1 and ld is never used; fix ld up in that case, reject a
// real violation.
int64_t checked_ld(const char* which, int64_t ld, int64_t need, int64_t steps) {
  if (need < 1) need = 1;
  if (steps <= 1 && ld < need) return need;
  GALEN_CHECK(ld >= need, "gemm: leading dimension of ", which, " is ", ld, ", needs at least ",
              need);
  return ld;
}

int to_int(const char* what, int64_t v) {
  GALEN_CHECK(v >= 0 && v <= 2147483647, "gemm (cublas): ", what, " = ", v,
              " does not fit cuBLAS's 32-bit int; use the 'tiled' variant");
  return static_cast<int>(v);
}

}  // namespace

void CudaBackend::gemm(DType dtype, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                       double alpha, const void* A, int64_t lda, int64_t sa, const void* B,
                       int64_t ldb, int64_t sb, double beta, void* C, int64_t ldc, int64_t sc,
                       int64_t batch) {
  if (dtype != DType::f32 && dtype != DType::f64) no_kernel("gemm", DeviceType::CUDA, dtype);
  GALEN_CHECK(M >= 0 && N >= 0 && K >= 0 && batch >= 0, "gemm: negative size (M ", M, ", N ", N,
              ", K ", K, ", batch ", batch, ")");
  if (M == 0 || N == 0 || batch == 0) return;
  // K == 0 (C = beta * C) goes to the tiled kernel, which handles it without
  // looking at A, B or their leading dims.
  if (gemm_variant_.load() == kGemmTiled || K == 0) {
    gemm_tiled(dtype, trans_a, trans_b, M, N, K, alpha, A, lda, sa, B, ldb, sb, beta, C, ldc, sc,
               batch);
  } else {
    gemm_cublas(dtype, trans_a, trans_b, M, N, K, alpha, A, lda, sa, B, ldb, sb, beta, C, ldc, sc,
                batch);
  }
}

void CudaBackend::gemm_tiled(DType dtype, bool trans_a, bool trans_b, int64_t M, int64_t N,
                             int64_t K, double alpha, const void* A, int64_t lda, int64_t sa,
                             const void* B, int64_t ldb, int64_t sb, double beta, void* C,
                             int64_t ldc, int64_t sc, int64_t batch) {
  if (dtype == DType::f32)
    launch_tiled<float>(trans_a, trans_b, M, N, K, alpha, A, lda, sa, B, ldb, sb, beta, C, ldc, sc,
                        batch);
  else
    launch_tiled<double>(trans_a, trans_b, M, N, K, alpha, A, lda, sa, B, ldb, sb, beta, C, ldc,
                         sc, batch);
}

void CudaBackend::gemm_cublas(DType dtype, bool trans_a, bool trans_b, int64_t M, int64_t N,
                              int64_t K, double alpha, const void* A, int64_t lda, int64_t sa,
                              const void* B, int64_t ldb, int64_t sb, double beta, void* C,
                              int64_t ldc, int64_t sc, int64_t batch) {
  // Column-major call: C^T (N x M) = op(B)^T (N x K) * op(A)^T (K x M).
  // B stored column-major is (N x K) when !trans_b (op N) and (K x N) when trans_b (op T).
  // A stored column-major is (K x M) when !trans_a (op N) and (M x K) when trans_a (op T).
  const int64_t ldb_ok = checked_ld("B", ldb, trans_b ? K : N, trans_b ? N : K);
  const int64_t lda_ok = checked_ld("A", lda, trans_a ? M : K, trans_a ? K : M);
  const int64_t ldc_ok = checked_ld("C", ldc, N, M);
  const cublasOperation_t op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int m = to_int("N", N), n = to_int("M", M), k = to_int("K", K);
  const int ib = to_int("ldb", ldb_ok), ia = to_int("lda", lda_ok), ic = to_int("ldc", ldc_ok);
  const int nb = to_int("batch", batch);
  cublasHandle_t h = cublas_handle();
  if (dtype == DType::f32) {
    const float al = static_cast<float>(alpha), be = static_cast<float>(beta);
    GALEN_CUBLAS_CHECK(cublasSgemmStridedBatched(
        h, op_b, op_a, m, n, k, &al, static_cast<const float*>(B), ib, sb,
        static_cast<const float*>(A), ia, sa, &be, static_cast<float*>(C), ic, sc, nb));
  } else {
    GALEN_CUBLAS_CHECK(cublasDgemmStridedBatched(
        h, op_b, op_a, m, n, k, &alpha, static_cast<const double*>(B), ib, sb,
        static_cast<const double*>(A), ia, sa, &beta, static_cast<double*>(C), ic, sc, nb));
  }
}

}  // namespace galen::kernels::cuda
