// The CPU kernels behind CpuBackend, one free function per primitive, defined
// in the other files of kernels/cpu/ (split so a change rebuilds one family).
#pragma once

#include "galen/kernels/backend.h"

namespace galen::kernels::cpu {

inline constexpr DeviceType kDev = DeviceType::CPU;

// elementwise.cpp
void copy(DType sdt, const void* src, const Layout& sl, DType ddt, void* dst, const Layout& dl);
void fill(DType dt, void* dst, int64_t n, double value);
void unary(UnaryOp op, DType dt, const void* x, const Layout& xl, void* out, double scalar);
void binary(BinaryOp op, DType dt, const void* a, const Layout& al, const void* b,
            const Layout& bl, void* out);
void where(DType dt, const void* cond, const Layout& cl, const void* a, const Layout& al,
           const void* b, const Layout& bl, void* out);
void clamp(DType dt, const void* x, int64_t n, double lo, double hi, void* out);

// reduce.cpp
void reduce(ReduceOp op, DType dt, const void* x, int64_t outer, int64_t len, int64_t inner,
            void* out, int64_t* indices);
void softmax(DType dt, const void* x, int64_t rows, int64_t cols, void* out, bool log);
void softmax_backward(DType dt, const void* y, const void* gy, int64_t rows, int64_t cols,
                      void* gx, bool log);

// gemm.cpp: OpenBLAS sgemm/dgemm over the batch.
void gemm_openblas(DType dt, bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha,
                   const void* A, int64_t lda, int64_t sa, const void* B, int64_t ldb, int64_t sb,
                   double beta, void* C, int64_t ldc, int64_t sc, int64_t batch);

// index.cpp
void index_select(DType dt, const void* x, int64_t outer, int64_t dim, int64_t inner,
                  const int64_t* idx, int64_t n, void* out);
void index_add(DType dt, void* dst, int64_t outer, int64_t dim, int64_t inner,
               const int64_t* idx, int64_t n, const void* src);
void gather(DType dt, const void* x, const Layout& xl, int axis, const int64_t* index,
            const Layout& il, void* out);
void scatter_add(DType dt, void* dst, const Layout& dl, int axis, const int64_t* index,
                 const Layout& il, const void* src, const Layout& sl);
void minmax_i64(const int64_t* x, int64_t n, int64_t* mn, int64_t* mx);

// random.cpp
void random(RandomDist dist, DType dt, void* out, int64_t n, uint64_t seed, uint64_t offset,
            double a, double b);

// nn.cpp: convolution (im2col / col2im), pooling, batch norm.
void im2col(DType dt, const void* x, const Conv2dGeometry& g, void* cols);
void col2im(DType dt, const void* cols, const Conv2dGeometry& g, void* x);
void max_pool2d(DType dt, const void* x, int64_t planes, const Conv2dGeometry& g, void* out,
                int64_t* indices);
void max_pool2d_backward(DType dt, const void* gout, const int64_t* indices, int64_t planes,
                         const Conv2dGeometry& g, void* gx);
void avg_pool2d(DType dt, const void* x, int64_t planes, const Conv2dGeometry& g,
                bool count_include_pad, void* out);
void avg_pool2d_backward(DType dt, const void* gout, int64_t planes, const Conv2dGeometry& g,
                         bool count_include_pad, void* gx);
void channel_stats(DType dt, const void* x, int64_t N, int64_t C, int64_t S, void* mean, void* var);
void channel_affine(DType dt, const void* x, int64_t N, int64_t C, int64_t S, const void* mean,
                    const void* invstd, const void* w, const void* b, void* y);
void batch_norm_backward(DType dt, const void* x, const void* gy, int64_t N, int64_t C, int64_t S,
                         const void* mean, const void* invstd, const void* w, void* gx, void* gw,
                         void* gb);

// Fused optimizer steps (optim.cpp).
void adam_step(DType dt, void* p, const void* g, void* m, void* v, void* vmax, int64_t n, const AdamParams& a);

// graph.cpp: graph primitives (segments via a stable counting sort, no atomics).
void scatter_reduce(Backend::ScatterReduce op, DType dt, const void* src, int64_t E, int64_t F,
                    const int64_t* index, int64_t N, void* out, int64_t* arg);
void scatter_max_backward(DType dt, const void* gout, const int64_t* arg, int64_t N, int64_t F, int64_t E,
                          void* gsrc);
void segment_softmax(DType dt, const void* src, int64_t E, int64_t F, const int64_t* index, int64_t N, void* out);
void segment_softmax_backward(DType dt, const void* y, const void* gy, int64_t E, int64_t F, const int64_t* index,
                              int64_t N, void* gx);

}  // namespace galen::kernels::cpu
