// The CudaBackend class, shared by the .cu files that define its methods
// (memory in cuda_backend.cu, elementwise ops in elementwise.cu, ...). Plain C++.
//
// Kernels run on the calling thread's current CUDA device and on the legacy
// default stream, so every kernel, cuBLAS call and cudaMemcpy is ordered after
// the ones before it; that ordering is what lets the caching allocator hand a
// freed block to the next request without a synchronisation.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "galen/kernels/backend.h"

namespace galen::kernels::cuda {

class CudaBackend final : public Backend {
 public:
  // Declared first and defined in cuda_backend.cu: the key function, so the
  // vtable (and with it every method's object file) lives with the registration.
  ~CudaBackend() override;

  DeviceType type() const override { return DeviceType::CUDA; }
  const char* name() const override { return "cuda"; }
  int device_count() const override;

  void* allocate(size_t nbytes, int device) override;
  void deallocate(void* p, size_t nbytes, int device) override;
  void copy_from_host(void* dst, const void* src, size_t nbytes, int device) override;
  void copy_to_host(void* dst, const void* src, size_t nbytes, int device) override;
  void copy_device(void* dst, const void* src, size_t nbytes, int device) override;
  void synchronize(int device) override;

  void copy(DType src_dtype, const void* src, const Layout& sl, DType dst_dtype, void* dst,
            const Layout& dl) override;
  void fill(DType dtype, void* dst, int64_t n, double value) override;
  void unary(UnaryOp op, DType dtype, const void* x, const Layout& xl, void* out,
             double scalar) override;
  void binary(BinaryOp op, DType dtype, const void* a, const Layout& al, const void* b,
              const Layout& bl, void* out) override;
  void where(DType dtype, const void* cond, const Layout& cl, const void* a, const Layout& al,
             const void* b, const Layout& bl, void* out) override;
  void clamp(DType dtype, const void* x, int64_t n, double lo, double hi, void* out) override;

  void reduce(ReduceOp op, DType dtype, const void* x, int64_t outer, int64_t len, int64_t inner,
              void* out, int64_t* indices) override;
  void softmax(DType dtype, const void* x, int64_t rows, int64_t cols, void* out,
               bool log) override;
  void softmax_backward(DType dtype, const void* y, const void* gy, int64_t rows, int64_t cols,
                        void* gx, bool log) override;

  void gemm(DType dtype, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha,
            const void* A, int64_t lda, int64_t sa, const void* B, int64_t ldb, int64_t sb,
            double beta, void* C, int64_t ldc, int64_t sc, int64_t batch) override;

  void index_select(DType dtype, const void* x, int64_t outer, int64_t dim, int64_t inner,
                    const int64_t* idx, int64_t n, void* out) override;
  void index_add(DType dtype, void* dst, int64_t outer, int64_t dim, int64_t inner,
                 const int64_t* idx, int64_t n, const void* src) override;
  void gather(DType dtype, const void* x, const Layout& xl, int axis, const int64_t* index,
              const Layout& il, void* out) override;
  void scatter_add(DType dtype, void* dst, const Layout& dl, int axis, const int64_t* index,
                   const Layout& il, const void* src, const Layout& sl) override;
  // mn / mx may point to host or device memory (copied with cudaMemcpyDefault).
  void minmax_i64(const int64_t* x, int64_t n, int64_t* mn, int64_t* mx) override;

  void random(RandomDist dist, DType dtype, void* out, int64_t n, uint64_t seed, uint64_t offset,
              double a, double b) override;

  // Fused optimizer steps (optim.cu).
  void adam_step(DType dtype, void* p, const void* g, void* m, void* v, void* vmax, int64_t n,
                 const AdamParams& a) override;

  // Convolution, pooling and batch norm (nn.cu): gather-style kernels, no atomics,
  // so every result is deterministic.
  void im2col(DType dtype, const void* x, const Conv2dGeometry& g, void* cols) override;
  void col2im(DType dtype, const void* cols, const Conv2dGeometry& g, void* x) override;
  void max_pool2d(DType dtype, const void* x, int64_t planes, const Conv2dGeometry& g, void* out,
                  int64_t* indices) override;
  void max_pool2d_backward(DType dtype, const void* gout, const int64_t* indices, int64_t planes,
                           const Conv2dGeometry& g, void* gx) override;
  void avg_pool2d(DType dtype, const void* x, int64_t planes, const Conv2dGeometry& g,
                  bool count_include_pad, void* out) override;
  void avg_pool2d_backward(DType dtype, const void* gout, int64_t planes, const Conv2dGeometry& g,
                           bool count_include_pad, void* gx) override;
  void channel_stats(DType dtype, const void* x, int64_t N, int64_t C, int64_t S, void* mean,
                     void* var) override;
  void channel_affine(DType dtype, const void* x, int64_t N, int64_t C, int64_t S,
                      const void* mean, const void* invstd, const void* w, const void* b,
                      void* y) override;
  void batch_norm_backward(DType dtype, const void* x, const void* gy, int64_t N, int64_t C,
                           int64_t S, const void* mean, const void* invstd, const void* w,
                           void* gx, void* gw, void* gb) override;

  // cuDNN convolution (conv_cudnn.cu) when the "conv2d" variant is "cudnn";
  // false for the "im2col" variant and for what cuDNN cannot express or run
  // (see conv_cudnn.cu), so core falls back to im2col + gemm.
  bool conv2d_forward(DType dtype, const void* x, const void* w, const void* b, int64_t N,
                      const Conv2dGeometry& g, int64_t OC, int64_t groups, void* y) override;
  bool conv2d_backward(DType dtype, const void* x, const void* w, const void* gy, int64_t N,
                       const Conv2dGeometry& g, int64_t OC, int64_t groups, void* gx, void* gw,
                       void* gb) override;

  // Graph primitives (graph.cu). Sum / Mean follow the "scatter" variant:
  // "atomic" (default; atomicAdd, summation order varies) or "sorted" (rows
  // sorted by segment with CUB, one thread per output element: deterministic).
  // Max and the segment softmax always use the sorted segments.
  void scatter_reduce(ScatterReduce op, DType dtype, const void* src, int64_t E, int64_t F, const int64_t* index,
                      int64_t N, void* out, int64_t* arg) override;
  void scatter_max_backward(DType dtype, const void* gout, const int64_t* arg, int64_t N, int64_t F, int64_t E,
                            void* gsrc) override;
  void segment_softmax(DType dtype, const void* src, int64_t E, int64_t F, const int64_t* index, int64_t N,
                       void* out) override;
  void segment_softmax_backward(DType dtype, const void* y, const void* gy, int64_t E, int64_t F,
                                const int64_t* index, int64_t N, void* gx) override;

  std::vector<std::string> variants(const std::string& primitive) const override;
  void set_variant(const std::string& primitive, const std::string& variant) override;
  std::string variant(const std::string& primitive) const override;

 private:
  enum GemmVariant : int { kGemmCublas = 0, kGemmTiled = 1 };
  std::atomic<int> gemm_variant_{kGemmCublas};
  // Default "im2col" until the cuDNN path has passed tests/cuda/test_cuda_nn.cpp on
  // a GPU (it was written on a machine without one); then make kConvCudnn the default.
  enum ConvVariant : int { kConvCudnn = 0, kConvIm2col = 1 };
  std::atomic<int> conv_variant_{kConvIm2col};
  enum ScatterVariant : int { kScatterAtomic = 0, kScatterSorted = 1 };
  std::atomic<int> scatter_variant_{kScatterAtomic};

  void gemm_cublas(DType dtype, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                   double alpha, const void* A, int64_t lda, int64_t sa, const void* B,
                   int64_t ldb, int64_t sb, double beta, void* C, int64_t ldc, int64_t sc,
                   int64_t batch);
  void gemm_tiled(DType dtype, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                  double alpha, const void* A, int64_t lda, int64_t sa, const void* B,
                  int64_t ldb, int64_t sb, double beta, void* C, int64_t ldc, int64_t sc,
                  int64_t batch);
};

// Multiprocessor count of the current device (cached per device); sizes grids.
int current_sm_count();
// Device scratch memory from the caching allocator, on the current device.
void* scratch_alloc(size_t nbytes);
void scratch_free(void* p);

// Per-channel sums over x viewed as (N, C, S) (nn.cu), for the conv bias gradient:
// out[c] = sum over n, s of x[n, c, s], accumulated in double, deterministic.
void channel_sum(DType dtype, const void* x, int64_t N, int64_t C, int64_t S, void* out);
// y (N, C, S) += b[c] (nn.cu), for the conv bias.
void add_channel_bias(DType dtype, void* y, int64_t N, int64_t C, int64_t S, const void* b);

}  // namespace galen::kernels::cuda
