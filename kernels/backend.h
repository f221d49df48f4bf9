// The kernel boundary. A Backend is the table of raw-pointer kernels one device
// type provides; core/ ops check their arguments, allocate outputs and call
// exactly one Backend method per primitive. Kernels never see a Tensor or
// autograd: they get pointers, a DType and Layouts (sizes + element strides).
//
// Conventions for every method:
//  - `out` buffers are freshly allocated and contiguous (row-major) unless a
//    Layout for them is passed explicitly.
//  - Input Layouts carry element strides; a stride of 0 is a broadcast dim.
//  - All Layouts of one call have the same ndim (core/ pads with size-1 dims).
//  - An unsupported (op, dtype) throws galen::Error naming both and the device.
//
// Variants: a backend may offer several implementations of a primitive
// ("gemm": "openblas" / "ref" on CPU, "cublas" / "tiled" on CUDA). They stay
// compiled and are selectable by name at run time through set_variant().
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "galen/core/device.h"
#include "galen/core/dtype.h"
#include "galen/kernels/optim_math.h"

namespace galen::kernels {

inline constexpr int kMaxDims = 10;

struct Layout {
  int ndim = 0;
  int64_t sizes[kMaxDims] = {};
  int64_t strides[kMaxDims] = {};  // in elements

  int64_t numel() const {
    int64_t n = 1;
    for (int i = 0; i < ndim; ++i) n *= sizes[i];
    return n;
  }
  bool is_contiguous() const {
    int64_t expect = 1;
    for (int i = ndim - 1; i >= 0; --i) {
      if (sizes[i] != 1 && strides[i] != expect) return false;
      expect *= sizes[i];
    }
    return true;
  }
  static Layout contiguous(const std::vector<int64_t>& sizes);
  static Layout strided(const std::vector<int64_t>& sizes, const std::vector<int64_t>& strides);
};

enum class UnaryOp {
  Neg, Abs, Exp, Log, Sqrt, Rsqrt, Sigmoid, Tanh, Relu, Gelu,  // gelu: exact (erf) form
  PowScalar,   // x ^ scalar
  Sign,        // -1, 0, 1
  Square,      // x * x
  Reciprocal,  // 1 / x
  GeluGrad,    // d gelu(x) / dx
  Step,        // x > 0 ? 1 : 0  (relu's derivative)
};
const char* unary_name(UnaryOp op);

enum class BinaryOp {
  Add, Sub, Mul, Div, Pow, Maximum, Minimum,
  Eq, Ne, Lt, Le, Gt, Ge,  // comparisons write DType::boolean
};
const char* binary_name(BinaryOp op);
inline bool is_comparison(BinaryOp op) { return op >= BinaryOp::Eq; }

enum class ReduceOp { Sum, Prod, Max, Min, ArgMax, ArgMin };
const char* reduce_name(ReduceOp op);

enum class RandomDist { Uniform, Normal, RandInt };

// Sizes of one 2-D convolution / pooling window sweep over a (C, H, W) input.
struct Conv2dGeometry {
  int64_t C = 0, H = 0, W = 0;     // input channels (per image / per group slice) and size
  int64_t KH = 1, KW = 1;          // window
  int64_t SH = 1, SW = 1;          // stride
  int64_t PH = 0, PW = 0;          // padding (top/left; bottom/right implied by OH/OW)
  int64_t DH = 1, DW = 1;          // dilation
  int64_t OH = 0, OW = 0;          // output size
};

// ---- recurrent cells: types (the methods are in Backend's "recurrent cells" section)
// The cell of a recurrent layer. G = rnn_gates(cell) gate blocks of H columns,
// in PyTorch's order: LSTM i, f, g, o; GRU r, z, n; RNN one block.
enum class RnnCell { Tanh, Relu, Lstm, Gru };
inline int rnn_gates(RnnCell c) { return c == RnnCell::Lstm ? 4 : c == RnnCell::Gru ? 3 : 1; }
// Values per (row, hidden unit) a forward step saves for its backward (`ws`):
// RNN h'; LSTM i, f, g, o, tanh(c'); GRU r, z, n, (W_hn h + b_hn).
inline int rnn_saved(RnnCell c) { return c == RnnCell::Lstm ? 5 : c == RnnCell::Gru ? 4 : 1; }
// One time step t of B rows with hidden size H. Row b is active when lengths is
// null or t < lengths[b] (lengths: B values in this backend's memory); an
// inactive row is a padded step: it carries its state through unchanged, writes
// a zero output and passes gradients through untouched.
struct RnnStep {
  RnnCell cell = RnnCell::Tanh;
  int64_t B = 0, H = 0;
  const int64_t* lengths = nullptr;
  int64_t t = 0;
};
// One whole layer (both directions when bidirectional) for a library path
// (cuDNN): x (T, B, I), y (T, B, D*H), h/c (D, B, H), time-major, contiguous.
struct RnnLayerDesc {
  RnnCell cell = RnnCell::Tanh;
  int64_t T = 0, B = 0, I = 0, H = 0;
  bool bidirectional = false;
  bool has_bias = true;
  const int64_t* lengths = nullptr;  // HOST array of B lengths in 1..T, or null (all T)
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual DeviceType type() const = 0;
  virtual const char* name() const = 0;
  // Number of devices of this type that can be used now (CPU: 1; CUDA: GPUs
  // visible to the runtime, 0 when none or when the driver is missing).
  virtual int device_count() const { return 1; }

  // ---- memory -------------------------------------------------------------
  virtual void* allocate(size_t nbytes, int device) = 0;
  virtual void deallocate(void* p, size_t nbytes, int device) = 0;
  // Byte copies between this device and host / within this device.
  virtual void copy_from_host(void* dst, const void* src, size_t nbytes, int device) = 0;
  virtual void copy_to_host(void* dst, const void* src, size_t nbytes, int device) = 0;
  virtual void copy_device(void* dst, const void* src, size_t nbytes, int device) = 0;
  virtual void synchronize(int device) = 0;

  // ---- elementwise ----------------------------------------------------------
  // dst[dl] = cast<dst_dtype>(src[sl]); both strided, same sizes. Covers
  // contiguous(), to(dtype), cat/stack slices and copy_ into views.
  virtual void copy(DType src_dtype, const void* src, const Layout& sl, DType dst_dtype, void* dst,
                    const Layout& dl) = 0;
  // dst (contiguous, n elements) = value.
  virtual void fill(DType dtype, void* dst, int64_t n, double value) = 0;
  // out (contiguous, shape xl.sizes) = op(x). `scalar` is PowScalar's exponent.
  virtual void unary(UnaryOp op, DType dtype, const void* x, const Layout& xl, void* out,
                     double scalar) = 0;
  // out (contiguous, shape al.sizes == bl.sizes after broadcasting) = a op b.
  // a and b have the same dtype; comparisons write bool.
  virtual void binary(BinaryOp op, DType dtype, const void* a, const Layout& al, const void* b,
                      const Layout& bl, void* out) = 0;
  // out = cond ? a : b; cond is bool; all three broadcast to the out shape.
  virtual void where(DType dtype, const void* cond, const Layout& cl, const void* a,
                     const Layout& al, const void* b, const Layout& bl, void* out) = 0;
  // out = min(max(x, lo), hi) for contiguous x of n elements (NaN-propagating).
  virtual void clamp(DType dtype, const void* x, int64_t n, double lo, double hi, void* out) = 0;

  // ---- reductions (contiguous rows) ----------------------------------------
  // x is (outer, len, inner) contiguous; reduces the middle dim.
  // Sum/Prod/Max/Min write `out` (outer*inner values, dtype of x);
  // Max/Min also write `indices` (i64) when non-null; ArgMax/ArgMin write only
  // `indices`. NaN wins max/min (as in PyTorch); the first extreme index wins.
  virtual void reduce(ReduceOp op, DType dtype, const void* x, int64_t outer, int64_t len,
                      int64_t inner, void* out, int64_t* indices) = 0;
  // Numerically stable (log_)softmax over the last dim of a (rows, cols) matrix.
  virtual void softmax(DType dtype, const void* x, int64_t rows, int64_t cols, void* out,
                       bool log) = 0;
  // gx = y * (gy - sum(gy * y))          (softmax),
  // gx = gy - exp(y) * sum(gy)           (log_softmax; y is the log-probabilities).
  virtual void softmax_backward(DType dtype, const void* y, const void* gy, int64_t rows,
                                int64_t cols, void* gx, bool log) = 0;

  // ---- linear algebra -------------------------------------------------------
  // Row-major C (M,N) = alpha * op(A) op(B) + beta * C for `batch` matrices at
  // element strides sa/sb/sc (0 = the same matrix for every batch entry).
  // op(A) is (M,K): A is (M,K) with leading dim lda, or (K,M) if trans_a.
  virtual void gemm(DType dtype, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,
                    double alpha, const void* A, int64_t lda, int64_t sa, const void* B,
                    int64_t ldb, int64_t sb, double beta, void* C, int64_t ldc, int64_t sc,
                    int64_t batch) = 0;

  // ---- indexing (contiguous operands; indices are i64, already range-checked)
  // x viewed as (outer, dim, inner): out (outer, n, inner)[o,j,i] = x[o, idx[j], i].
  virtual void index_select(DType dtype, const void* x, int64_t outer, int64_t dim, int64_t inner,
                            const int64_t* idx, int64_t n, void* out) = 0;
  // dst (outer, dim, inner)[o, idx[j], i] += src (outer, n, inner)[o, j, i].
  virtual void index_add(DType dtype, void* dst, int64_t outer, int64_t dim, int64_t inner,
                         const int64_t* idx, int64_t n, const void* src) = 0;
  // torch.gather: for every position p of `index` (Layout il; out has il.sizes,
  // contiguous): out[p] = x[p with coordinate `axis` replaced by index[p]].
  virtual void gather(DType dtype, const void* x, const Layout& xl, int axis, const int64_t* index,
                      const Layout& il, void* out) = 0;
  // torch.scatter_add_: dst[p with coordinate `axis` replaced by index[p]] += src[p]
  // for every position p of `index` (src read through sl, same sizes as il).
  virtual void scatter_add(DType dtype, void* dst, const Layout& dl, int axis,
                           const int64_t* index, const Layout& il, const void* src,
                           const Layout& sl) = 0;
  // min and max of n i64 values on this device (for index range checks). n > 0.
  // mn / mx are host pointers (the result is read back to the host).
  virtual void minmax_i64(const int64_t* x, int64_t n, int64_t* mn, int64_t* mx) = 0;

  // ---- random (counter-based Philox4x32-10; identical on every backend) -----
  // Element i of the call uses the Philox block at counter (offset + i, 0) with
  // key (seed lo, seed hi). Uniform: [a, b); Normal: mean a, std b (Box-Muller on
  // lanes 0,1); RandInt: integers in [a, b). dtype f32/f64 (RandInt: any).
  virtual void random(RandomDist dist, DType dtype, void* out, int64_t n, uint64_t seed,
                      uint64_t offset, double a, double b) = 0;

  // ---- convolution and pooling (NCHW, contiguous) ----------------------------
  // One image at a time. x (C, H, W) -> cols (C*KH*KW, OH*OW), row index
  // (c*KH + kh)*KW + kw, zero where the window reads padding.
  virtual void im2col(DType dtype, const void* x, const Conv2dGeometry& g, void* cols);
  // The adjoint: x (C, H, W) += scatter of cols (overwrites x: x = col2im(cols)).
  virtual void col2im(DType dtype, const void* cols, const Conv2dGeometry& g, void* x);
  // out (N*C, OH, OW) = max over each window of x (N*C, H, W); indices
  // (flat h*W + w within the plane, i64) of the first maximum; NaN wins.
  // Windows that only see padding cannot occur (checked by core).
  virtual void max_pool2d(DType dtype, const void* x, int64_t planes, const Conv2dGeometry& g, void* out,
                          int64_t* indices);
  // gx (N*C, H, W) = 0, then gx[plane, indices[o]] += gout[plane, o].
  virtual void max_pool2d_backward(DType dtype, const void* gout, const int64_t* indices, int64_t planes,
                                   const Conv2dGeometry& g, void* gx);
  // Average over each window; divisor = number of in-bounds elements when
  // !count_include_pad, else the window clipped to the padded input (PyTorch's rule).
  virtual void avg_pool2d(DType dtype, const void* x, int64_t planes, const Conv2dGeometry& g,
                          bool count_include_pad, void* out);
  virtual void avg_pool2d_backward(DType dtype, const void* gout, int64_t planes, const Conv2dGeometry& g,
                                   bool count_include_pad, void* gx);
  // Per-channel batch statistics of x (N, C, S): mean[c], and biased var[c].
  virtual void channel_stats(DType dtype, const void* x, int64_t N, int64_t C, int64_t S, void* mean,
                             void* var);
  // y = (x - mean[c]) * invstd[c] * w[c] + b[c] for x (N, C, S); w/b may be null (1/0).
  virtual void channel_affine(DType dtype, const void* x, int64_t N, int64_t C, int64_t S, const void* mean,
                              const void* invstd, const void* w, const void* b, void* y);
  // Batch-norm backward (training statistics): given x, gy, mean, invstd, w
  // (null = 1): gx, and per-channel gw = sum(gy * xhat), gb = sum(gy) (each may be null).
  virtual void batch_norm_backward(DType dtype, const void* x, const void* gy, int64_t N, int64_t C,
                                   int64_t S, const void* mean, const void* invstd, const void* w, void* gx,
                                   void* gw, void* gb);

  // Whole-convolution library path (cuDNN on CUDA), used by core's conv2d when
  // the backend's "conv2d" variant names it; returns false when not offered, and
  // core falls back to im2col + gemm. x (N, C*groups... see core/ops_nn.cpp):
  // x (N, Cin, H, W), w (OC, Cin/groups, KH, KW), b (OC) or null, y (N, OC, OH, OW);
  // g describes one group's input slice (g.C = Cin/groups).
  virtual bool conv2d_forward(DType /*dtype*/, const void* /*x*/, const void* /*w*/, const void* /*b*/,
                              int64_t /*N*/, const Conv2dGeometry& /*g*/, int64_t /*OC*/, int64_t /*groups*/,
                              void* /*y*/) {
    return false;
  }
  // gx / gw / gb may each be null (not needed); all outputs are overwritten.
  virtual bool conv2d_backward(DType /*dtype*/, const void* /*x*/, const void* /*w*/, const void* /*gy*/,
                               int64_t /*N*/, const Conv2dGeometry& /*g*/, int64_t /*OC*/, int64_t /*groups*/,
                               void* /*gx*/, void* /*gw*/, void* /*gb*/) {
    return false;
  }

  // ---- fused optimizer steps ---------------------------------------------------
  // Adam/AdamW over n contiguous elements of p, g, m, v (vmax only with
  // amsgrad), element formula kernels::adam_element (optim_math.h). f32/f64.
  virtual void adam_step(DType dtype, void* p, const void* g, void* m, void* v, void* vmax, int64_t n,
                         const AdamParams& a);

  // ---- recurrent cells (RNN / LSTM / GRU gate kernels) ----------------------
  // The fused gate kernels of one time step (s.t), run after the step's GEMMs.
  // gi = x_t W_ihᵀ and gh = h_prev W_hhᵀ, each (B, G*H) contiguous; bi / bh the
  // biases b_ih / b_hh (G*H) or null. h_prev, c_prev (c: LSTM only) (B, H).
  // Writes the new state h_out, c_out (B, H); y (B rows at stride ldy, may be
  // null) = h_out for active rows, 0 for padded ones; ws (B, rnn_saved*H), may be
  // null when no backward follows:
  //   RNN  h' = act(gi + bi + gh + bh)
  //   LSTM [i f g o] = [σ σ tanh σ](gi + bi + gh + bh), c' = f c + i g, h' = o tanh(c')
  //   GRU  r, z = σ(gi + bi + gh + bh), n = tanh(gi_n + bi_n + r (gh_n + bh_n)),
  //        h' = (1 - z) n + z h
  virtual void rnn_cell_forward(const RnnStep& s, DType dtype, const void* gi, const void* gh, const void* bi,
                                const void* bh, const void* h_prev, const void* c_prev, void* h_out, void* c_out,
                                void* y, int64_t ldy, void* ws);
  // The adjoint of rnn_cell_forward for step s.t, given the saved ws, h_prev and
  // c_prev (LSTM) of that step, the output gradient dy (rows at stride ldy, or
  // null = 0) and the gradients dh, dc (B, H) w.r.t. h_out, c_out (dc: LSTM; null
  // = 0). Writes dgi = d/d(gi) (B, G*H); dgh = d/d(gh) (GRU only, where it
  // differs from dgi; null for the others); dh_prev = the part of d/d(h_prev)
  // that does not pass through gh (GRU z * dh; 0 for RNN / LSTM; the caller adds
  // dgh W_hh); dc_prev (LSTM). Padded rows: dgi = dgh = 0, dh_prev = dh, dc_prev
  // = dc. No output may alias an input.
  virtual void rnn_cell_backward(const RnnStep& s, DType dtype, const void* ws, const void* h_prev,
                                 const void* c_prev, const void* dy, int64_t ldy, const void* dh, const void* dc,
                                 void* dgi, void* dgh, void* dh_prev, void* dc_prev);
  // A whole-layer library path (cuDNN on CUDA), used when the backend's "rnn"
  // variant names it. Returns false when not offered for (dtype, d); then core
  // runs the fused kernels. Otherwise sets *reserve_bytes: the memory forward
  // (training = a backward follows) keeps for backward.
  virtual bool rnn_library_plan(DType /*dtype*/, const RnnLayerDesc& /*d*/, bool /*training*/,
                                size_t* /*reserve_bytes*/) {
    return false;
  }
  // w: per direction w_ih (G*H, I), w_hh (G*H, H), b_ih, b_hh (G*H; null without
  // bias): 4*D pointers. hx / cx (D, B, H) (cx: LSTM). y at padded steps = 0.
  // reserve: null for inference, else reserve_bytes from rnn_library_plan.
  virtual void rnn_library_forward(DType dtype, const RnnLayerDesc& d, const void* const* w, const void* x,
                                   const void* hx, const void* cx, void* y, void* hy, void* cy, void* reserve,
                                   size_t reserve_bytes);
  // Gradients of a training forward with the same arguments: dx, dhx, dcx and
  // dw (4*D pointers as w; null biases without bias) are overwritten. dhy / dcy
  // may be null (= 0).
  virtual void rnn_library_backward(DType dtype, const RnnLayerDesc& d, const void* const* w, const void* x,
                                    const void* hx, const void* cx, const void* y, const void* dy,
                                    const void* dhy, const void* dcy, void* reserve, size_t reserve_bytes,
                                    void* dx, void* dhx, void* dcx, void* const* dw);

  // ---- graph primitives (scatter / segment reductions for message passing) ---
  enum class ScatterReduce { Sum, Mean, Max };
  // Rows of src (E, F), contiguous, are grouped into N segments by index (E
  // values, i64, already checked to lie in [0, N); any order, duplicates
  // allowed). A segment that no row reaches gives 0 (PyTorch Geometric's rule).
  //   Sum / Mean: out (N, F) = the sum / mean of the segment's rows.
  //   Max: out (N, F) = the column-wise maximum (NaN wins); arg (N, F), when
  //        non-null, = the row e of the first maximum in row order, -1 for an
  //        empty segment.
  // The ref and cpu backends add each segment's rows in row order (the cpu one
  // after a stable counting sort of index), so their results are deterministic.
  // CUDA: Sum / Mean follow the "scatter" variant: "atomic" (atomicAdd, the order
  // of additions varies run to run) or "sorted" (rows sorted by index, each
  // segment summed in row order by one thread: deterministic). Max always sorts.
  virtual void scatter_reduce(ScatterReduce op, DType dtype, const void* src, int64_t E, int64_t F,
                              const int64_t* index, int64_t N, void* out, int64_t* arg);
  // Max's backward: gsrc (E, F) = 0, then gsrc[arg[n, f], f] = gout[n, f] where
  // arg[n, f] >= 0 (each (row, column) is the argmax of at most one segment).
  virtual void scatter_max_backward(DType dtype, const void* gout, const int64_t* arg, int64_t N, int64_t F,
                                    int64_t E, void* gsrc);
  // Softmax of src (E, F) within each segment, column by column (numerically
  // stable: the segment's maximum is subtracted first):
  //   out[e, f] = exp(src[e, f] - m[s, f]) / sum_{e' in s} exp(src[e', f] - m[s, f]),  s = index[e].
  virtual void segment_softmax(DType dtype, const void* src, int64_t E, int64_t F, const int64_t* index,
                               int64_t N, void* out);
  // gx[e, f] = y[e, f] * (gy[e, f] - sum_{e' in index[e]'s segment} gy[e', f] * y[e', f]).
  virtual void segment_softmax_backward(DType dtype, const void* y, const void* gy, int64_t E, int64_t F,
                                        const int64_t* index, int64_t N, void* gx);

  // ---- variants -------------------------------------------------------------
  virtual std::vector<std::string> variants(const std::string& /*primitive*/) const { return {}; }
  virtual void set_variant(const std::string& primitive, const std::string& variant);
  virtual std::string variant(const std::string& /*primitive*/) const { return ""; }
};

// The backend for a device type: the CPU one always exists; CUDA only when the
// CUDA backend was compiled in (otherwise a galen::Error saying so).
Backend& backend(DeviceType t);
bool has_backend(DeviceType t);
// Called once at static-init time by each backend's translation unit.
void register_backend(Backend* b);

// The CPU backend (kernels/cpu/). core/ calls it once so that its translation
// unit (and with it the static-init registration) is linked from the static
// library; backend(DeviceType::CPU) returns the same object.
Backend& cpu_backend();

// The naive reference backend (kernels/ref/): the specification every other
// backend is tested against. Host memory, single-threaded, obviously correct.
Backend& ref_backend();

// Throws the standard "no kernel" error: "<prim>: no <device> kernel for dtype <dt>".
[[noreturn]] void no_kernel(const char* primitive, DeviceType dev, DType dt);

}  // namespace galen::kernels
