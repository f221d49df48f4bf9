// CPU gemm through OpenBLAS (cblas_sgemm / cblas_dgemm, row-major). Batches of
// small matrices run one matrix per OpenMP thread (OpenBLAS then stays
// single-threaded inside the region); large matrices loop over the batch and let
// OpenBLAS thread each call.
#include <cblas.h>

#include <algorithm>
#include <climits>

#include "galen/core/error.h"
#include "galen/kernels/cpu/common.h"
#include "galen/kernels/cpu/cpu_kernels.h"
#include "galen/kernels/ref/dispatch.h"

namespace galen::kernels::cpu {
namespace {

// Below this many multiply-adds per matrix, parallelising over the batch beats
// OpenBLAS's own threading.
constexpr int64_t kSmallGemm = 64 * 64 * 64;

// BLAS wants ld >= max(1, cols). With a single row the leading dim is never
// used, so any value the caller computed is replaced by a valid one.
int64_t fix_ld(const char* which, int64_t ld, int64_t rows, int64_t cols) {
  const int64_t need = std::max<int64_t>(1, cols);
  if (ld >= need) return ld;
  GALEN_CHECK(rows <= 1, "gemm: leading dimension ", which, " = ", ld,
              " is smaller than the row width ", cols);
  return need;
}

template <typename T>
void blas_gemm(bool ta, bool tb, int M, int N, int K, T alpha, const T* A, int lda, const T* B,
               int ldb, T beta, T* C, int ldc) {
  const auto opa = ta ? CblasTrans : CblasNoTrans, opb = tb ? CblasTrans : CblasNoTrans;
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemm(CblasRowMajor, opa, opb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  else
    cblas_dgemm(CblasRowMajor, opa, opb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace

void gemm_openblas(DType dt, bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha,
                   const void* A, int64_t lda, int64_t sa, const void* B, int64_t ldb, int64_t sb,
                   double beta, void* C, int64_t ldc, int64_t sc, int64_t batch) {
  dispatch::on_type<dispatch::kFloat>("gemm", kDev, dt, [&](auto tag) {
    using T = decltype(tag);
    if (M == 0 || N == 0 || batch <= 0) return;
    T* c0 = static_cast<T*>(C);
    ldc = fix_ld("ldc", ldc, M, N);
    if (K == 0) {  // C = beta * C, never reading C when beta == 0
      for (int64_t p = 0; p < batch; ++p)
        for (int64_t m = 0; m < M; ++m) {
          T* row = c0 + p * sc + m * ldc;
          for (int64_t n = 0; n < N; ++n) row[n] = beta == 0 ? T(0) : static_cast<T>(beta * row[n]);
        }
      return;
    }
    lda = ta ? fix_ld("lda", lda, K, M) : fix_ld("lda", lda, M, K);
    ldb = tb ? fix_ld("ldb", ldb, N, K) : fix_ld("ldb", ldb, K, N);
    GALEN_CHECK(std::max({M, N, K, lda, ldb, ldc}) <= INT_MAX,
                "gemm: dimensions beyond 2^31-1 are not supported by OpenBLAS");
    const T* a0 = static_cast<const T*>(A);
    const T* b0 = static_cast<const T*>(B);
    auto one = [&](int64_t p) {
      blas_gemm<T>(ta, tb, int(M), int(N), int(K), static_cast<T>(alpha), a0 + p * sa, int(lda),
                   b0 + p * sb, int(ldb), static_cast<T>(beta), c0 + p * sc, int(ldc));
    };
    const int64_t per = M * N * K;
    // Distinct outputs only (sc == 0 means every entry writes the same C: keep the order).
    if (batch > 1 && sc != 0 && per < kSmallGemm) {
      parallel_for(batch, per * batch / 8, [&](int64_t b, int64_t e) {
        for (int64_t p = b; p < e; ++p) one(p);
      });
    } else {
      for (int64_t p = 0; p < batch; ++p) one(p);
    }
  });
}

}  // namespace galen::kernels::cpu
