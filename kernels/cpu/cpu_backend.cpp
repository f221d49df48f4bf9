// The CPU backend: 64-byte aligned host memory, the kernels of kernels/cpu/ and
// the gemm variants ("openblas", default, and "naive" = the reference loops).
// It registers itself at static-init time; core calls kernels::cpu_backend()
// so this translation unit is always linked, even from the static library.
#include <cstdlib>
#include <cstring>
#include <new>

#include "galen/core/error.h"
#include "galen/kernels/backend.h"
#include "galen/kernels/cpu/allocator.h"
#include "galen/kernels/cpu/cpu_kernels.h"
#include "galen/kernels/cpu/rnn_kernels.h"

namespace galen {
namespace detail {
void init_num_threads();  // core/threads.cpp: applies GALEN_NUM_THREADS once
}  // namespace detail

namespace kernels {
namespace {

enum class GemmVariant { OpenBLAS, Naive };

class CpuBackend final : public Backend {
 public:
  CpuBackend() { detail::init_num_threads(); }

  DeviceType type() const override { return DeviceType::CPU; }
  const char* name() const override { return "cpu"; }

  // 64-byte aligned, large blocks cached: see allocator.h.
  void* allocate(size_t nbytes, int) override { return cpu_alloc(nbytes); }
  void deallocate(void* p, size_t nbytes, int) override { cpu_free(p, nbytes); }
  void copy_from_host(void* dst, const void* src, size_t n, int) override {
    if (n) std::memcpy(dst, src, n);
  }
  void copy_to_host(void* dst, const void* src, size_t n, int) override {
    if (n) std::memcpy(dst, src, n);
  }
  void copy_device(void* dst, const void* src, size_t n, int) override {
    if (n) std::memcpy(dst, src, n);
  }
  void synchronize(int) override {}

  void copy(DType sdt, const void* src, const Layout& sl, DType ddt, void* dst,
            const Layout& dl) override {
    cpu::copy(sdt, src, sl, ddt, dst, dl);
  }
  void fill(DType dt, void* dst, int64_t n, double value) override { cpu::fill(dt, dst, n, value); }
  void unary(UnaryOp op, DType dt, const void* x, const Layout& xl, void* out,
             double scalar) override {
    cpu::unary(op, dt, x, xl, out, scalar);
  }
  void binary(BinaryOp op, DType dt, const void* a, const Layout& al, const void* b,
              const Layout& bl, void* out) override {
    cpu::binary(op, dt, a, al, b, bl, out);
  }
  void where(DType dt, const void* cond, const Layout& cl, const void* a, const Layout& al,
             const void* b, const Layout& bl, void* out) override {
    cpu::where(dt, cond, cl, a, al, b, bl, out);
  }
  void clamp(DType dt, const void* x, int64_t n, double lo, double hi, void* out) override {
    cpu::clamp(dt, x, n, lo, hi, out);
  }
  void reduce(ReduceOp op, DType dt, const void* x, int64_t outer, int64_t len, int64_t inner,
              void* out, int64_t* indices) override {
    cpu::reduce(op, dt, x, outer, len, inner, out, indices);
  }
  void softmax(DType dt, const void* x, int64_t rows, int64_t cols, void* out, bool log) override {
    cpu::softmax(dt, x, rows, cols, out, log);
  }
  void softmax_backward(DType dt, const void* y, const void* gy, int64_t rows, int64_t cols,
                        void* gx, bool log) override {
    cpu::softmax_backward(dt, y, gy, rows, cols, gx, log);
  }
  void gemm(DType dt, bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha,
            const void* A, int64_t lda, int64_t sa, const void* B, int64_t ldb, int64_t sb,
            double beta, void* C, int64_t ldc, int64_t sc, int64_t batch) override {
    if (gemm_ == GemmVariant::Naive) {
      // The reference loops, but still answering with this backend's name.
      if (dt != DType::f32 && dt != DType::f64) no_kernel("gemm", DeviceType::CPU, dt);
      ref_backend().gemm(dt, ta, tb, M, N, K, alpha, A, lda, sa, B, ldb, sb, beta, C, ldc, sc,
                         batch);
      return;
    }
    cpu::gemm_openblas(dt, ta, tb, M, N, K, alpha, A, lda, sa, B, ldb, sb, beta, C, ldc, sc, batch);
  }
  void index_select(DType dt, const void* x, int64_t outer, int64_t dim, int64_t inner,
                    const int64_t* idx, int64_t n, void* out) override {
    cpu::index_select(dt, x, outer, dim, inner, idx, n, out);
  }
  void index_add(DType dt, void* dst, int64_t outer, int64_t dim, int64_t inner,
                 const int64_t* idx, int64_t n, const void* src) override {
    cpu::index_add(dt, dst, outer, dim, inner, idx, n, src);
  }
  void gather(DType dt, const void* x, const Layout& xl, int axis, const int64_t* index,
              const Layout& il, void* out) override {
    cpu::gather(dt, x, xl, axis, index, il, out);
  }
  void scatter_add(DType dt, void* dst, const Layout& dl, int axis, const int64_t* index,
                   const Layout& il, const void* src, const Layout& sl) override {
    cpu::scatter_add(dt, dst, dl, axis, index, il, src, sl);
  }
  void minmax_i64(const int64_t* x, int64_t n, int64_t* mn, int64_t* mx) override {
    cpu::minmax_i64(x, n, mn, mx);
  }
  void adam_step(DType dt, void* p, const void* g, void* m, void* v, void* vmax, int64_t n,
                 const AdamParams& a) override {
    cpu::adam_step(dt, p, g, m, v, vmax, n, a);
  }
  void random(RandomDist dist, DType dt, void* out, int64_t n, uint64_t seed, uint64_t offset,
              double a, double b) override {
    cpu::random(dist, dt, out, n, seed, offset, a, b);
  }

  // ---- convolution, pooling, batch norm (nn.cpp) ------------------------------
  void im2col(DType dt, const void* x, const Conv2dGeometry& g, void* cols) override { cpu::im2col(dt, x, g, cols); }
  void col2im(DType dt, const void* cols, const Conv2dGeometry& g, void* x) override { cpu::col2im(dt, cols, g, x); }
  void max_pool2d(DType dt, const void* x, int64_t planes, const Conv2dGeometry& g, void* out,
                  int64_t* indices) override {
    cpu::max_pool2d(dt, x, planes, g, out, indices);
  }
  void max_pool2d_backward(DType dt, const void* gout, const int64_t* indices, int64_t planes,
                           const Conv2dGeometry& g, void* gx) override {
    cpu::max_pool2d_backward(dt, gout, indices, planes, g, gx);
  }
  void avg_pool2d(DType dt, const void* x, int64_t planes, const Conv2dGeometry& g, bool cip,
                  void* out) override {
    cpu::avg_pool2d(dt, x, planes, g, cip, out);
  }
  void avg_pool2d_backward(DType dt, const void* gout, int64_t planes, const Conv2dGeometry& g, bool cip,
                           void* gx) override {
    cpu::avg_pool2d_backward(dt, gout, planes, g, cip, gx);
  }
  void channel_stats(DType dt, const void* x, int64_t N, int64_t C, int64_t S, void* mean,
                     void* var) override {
    cpu::channel_stats(dt, x, N, C, S, mean, var);
  }
  void channel_affine(DType dt, const void* x, int64_t N, int64_t C, int64_t S, const void* mean,
                      const void* invstd, const void* w, const void* b, void* y) override {
    cpu::channel_affine(dt, x, N, C, S, mean, invstd, w, b, y);
  }
  void batch_norm_backward(DType dt, const void* x, const void* gy, int64_t N, int64_t C, int64_t S,
                           const void* mean, const void* invstd, const void* w, void* gx, void* gw,
                           void* gb) override {
    cpu::batch_norm_backward(dt, x, gy, N, C, S, mean, invstd, w, gx, gw, gb);
  }

  // ---- graph primitives (graph.cpp) ----
  void scatter_reduce(ScatterReduce op, DType dt, const void* src, int64_t E, int64_t F, const int64_t* index,
                      int64_t N, void* out, int64_t* arg) override {
    cpu::scatter_reduce(op, dt, src, E, F, index, N, out, arg);
  }
  void scatter_max_backward(DType dt, const void* gout, const int64_t* arg, int64_t N, int64_t F, int64_t E,
                            void* gsrc) override {
    cpu::scatter_max_backward(dt, gout, arg, N, F, E, gsrc);
  }
  void segment_softmax(DType dt, const void* src, int64_t E, int64_t F, const int64_t* index, int64_t N,
                       void* out) override {
    cpu::segment_softmax(dt, src, E, F, index, N, out);
  }
  void segment_softmax_backward(DType dt, const void* y, const void* gy, int64_t E, int64_t F, const int64_t* index,
                                int64_t N, void* gx) override {
    cpu::segment_softmax_backward(dt, y, gy, E, F, index, N, gx);
  }

  // ---- recurrent cells: rnn.cpp ------------------------------------------------
  void rnn_cell_forward(const RnnStep& s, DType dt, const void* gi, const void* gh, const void* bi, const void* bh,
                        const void* h_prev, const void* c_prev, void* h_out, void* c_out, void* y, int64_t ldy,
                        void* ws) override {
    cpu::rnn_cell_forward(s, dt, gi, gh, bi, bh, h_prev, c_prev, h_out, c_out, y, ldy, ws);
  }
  void rnn_cell_backward(const RnnStep& s, DType dt, const void* ws, const void* h_prev, const void* c_prev,
                         const void* dy, int64_t ldy, const void* dh, const void* dc, void* dgi, void* dgh,
                         void* dh_prev, void* dc_prev) override {
    cpu::rnn_cell_backward(s, dt, ws, h_prev, c_prev, dy, ldy, dh, dc, dgi, dgh, dh_prev, dc_prev);
  }

  std::vector<std::string> variants(const std::string& primitive) const override {
    if (primitive == "gemm") return {"openblas", "naive"};
    return {};
  }
  void set_variant(const std::string& primitive, const std::string& v) override {
    if (primitive == "gemm" && v == "openblas") gemm_ = GemmVariant::OpenBLAS;
    else if (primitive == "gemm" && v == "naive") gemm_ = GemmVariant::Naive;
    else Backend::set_variant(primitive, v);  // throws, naming both
  }
  std::string variant(const std::string& primitive) const override {
    if (primitive == "gemm") return gemm_ == GemmVariant::Naive ? "naive" : "openblas";
    return "";
  }

 private:
  GemmVariant gemm_ = GemmVariant::OpenBLAS;
};

// Registered before main() runs; cpu_backend() keeps this object file linked.
struct Registrar {
  Registrar() { register_backend(&cpu_backend()); }
} registrar;

}  // namespace

Backend& cpu_backend() {
  static CpuBackend b;
  return b;
}

}  // namespace kernels
}  // namespace galen
