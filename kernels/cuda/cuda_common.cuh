// What every CUDA kernel file shares: error checks that turn CUDA failures into
// galen::Error, grid sizing, dtype dispatch, and the single strided/broadcast
// indexer (StridedIndexer) that all elementwise-style kernels use, and the
// per-device library handle pool (cuBLAS, cuDNN).
#pragma once

#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <mutex>
#include <type_traits>

#include "galen/core/error.h"
#include "galen/kernels/backend.h"
#include "galen/kernels/cuda/cuda_internal.h"

// Checks a CUDA runtime call; on failure clears the (non-sticky) error state and
// throws galen::Error naming the call and CUDA's description of the error.
#define GALEN_CUDA_CHECK(call)                                                              \
  do {                                                                                      \
    const cudaError_t galen_cuda_err_ = (call);                                             \
    if (galen_cuda_err_ != cudaSuccess) {                                                   \
      (void)cudaGetLastError();                                                             \
      GALEN_FAIL("CUDA error: ", #call, " failed: ", cudaGetErrorName(galen_cuda_err_), ": ", \
                 cudaGetErrorString(galen_cuda_err_));                                      \
    }                                                                                       \
  } while (0)

// After every kernel launch: a bad configuration (or an earlier asynchronous
// fault) surfaces here as a galen::Error naming the kernel.
#define GALEN_CUDA_LAUNCH_CHECK(what)                                                     \
  do {                                                                                    \
    const cudaError_t galen_cuda_err_ = cudaGetLastError();                               \
    if (galen_cuda_err_ != cudaSuccess)                                                   \
      GALEN_FAIL("CUDA kernel launch failed (", what, "): ", cudaGetErrorName(galen_cuda_err_), \
                 ": ", cudaGetErrorString(galen_cuda_err_));                              \
  } while (0)

namespace galen::kernels::cuda {

inline constexpr int kThreads = 256;

__host__ __device__ inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Blocks for a grid-stride loop over n items: enough to fill the GPU a few
// times over, never more than the work needs, at least one.
inline unsigned grid_for(int64_t n, int threads = kThreads) {
  int64_t blocks = ceil_div(n, threads);
  const int64_t cap = static_cast<int64_t>(current_sm_count()) * 16;
  if (blocks > cap) blocks = cap;
  if (blocks < 1) blocks = 1;
  return static_cast<unsigned>(blocks);
}

// ---- dtype dispatch -----------------------------------------------------------
// f(T{}) for the C++ type of dt among the listed families; anything else is the
// standard "no kernel" error.
template <typename F>
void dispatch_all(DType dt, const char* prim, F&& f) {
  switch (dt) {
    case DType::f32: f(float{}); return;
    case DType::f64: f(double{}); return;
    case DType::i32: f(int32_t{}); return;
    case DType::i64: f(int64_t{}); return;
    case DType::u8: f(uint8_t{}); return;
    case DType::boolean: f(bool{}); return;
    default: no_kernel(prim, DeviceType::CUDA, dt);
  }
}
template <typename F>
void dispatch_numeric(DType dt, const char* prim, F&& f) {  // no bool
  switch (dt) {
    case DType::f32: f(float{}); return;
    case DType::f64: f(double{}); return;
    case DType::i32: f(int32_t{}); return;
    case DType::i64: f(int64_t{}); return;
    case DType::u8: f(uint8_t{}); return;
    default: no_kernel(prim, DeviceType::CUDA, dt);
  }
}
template <typename F>
void dispatch_float(DType dt, const char* prim, F&& f) {
  switch (dt) {
    case DType::f32: f(float{}); return;
    case DType::f64: f(double{}); return;
    default: no_kernel(prim, DeviceType::CUDA, dt);
  }
}
// Pure data movement only needs the element width.
template <typename F>
void dispatch_by_size(DType dt, const char* prim, F&& f) {
  switch (dt) {
    case DType::f32:
    case DType::i32: f(uint32_t{}); return;
    case DType::f64:
    case DType::i64: f(uint64_t{}); return;
    case DType::u8:
    case DType::boolean: f(uint8_t{}); return;
    default: no_kernel(prim, DeviceType::CUDA, dt);
  }
}

template <typename T>
__host__ __device__ __forceinline__ bool is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>) return v != v;
  else return false;
}

// ---- the strided / broadcast indexer ----------------------------------------------
// N operands walk the same logical shape; each has its own element strides
// (0 = broadcast). Built on the host by plan_dims(), which drops size-1 dims and
// merges dims that are contiguous with their inner neighbour for *every*
// operand, so a contiguous (or contiguous + scalar-broadcast) call collapses to
// one dim and decodes with no division at all.
template <int N>
struct DimPlan {
  int ndim = 1;
  int64_t numel = 1;
  int64_t sizes[kMaxDims] = {};
  int64_t strides[N][kMaxDims] = {};
};

// sizes: the logical shape (ndim dims); strides[k]: operand k's strides.
template <int N>
DimPlan<N> plan_dims(int ndim, const int64_t* sizes, const int64_t* const (&strides)[N]) {
  GALEN_CHECK(ndim >= 0 && ndim <= kMaxDims, "cuda: layouts have at most ", kMaxDims,
              " dims, got ", ndim);
  DimPlan<N> p;
  p.numel = 1;
  for (int d = 0; d < ndim; ++d) p.numel *= sizes[d];
  // Walk from the innermost dim outwards, building collapsed dims inner-first.
  int64_t cs[kMaxDims];
  int64_t cst[N][kMaxDims];
  int nd = 0;
  for (int d = ndim - 1; d >= 0; --d) {
    if (sizes[d] == 1) continue;
    bool merge = nd > 0;
    for (int k = 0; k < N && merge; ++k)
      merge = strides[k][d] == cst[k][nd - 1] * cs[nd - 1];
    if (merge) {
      cs[nd - 1] *= sizes[d];
    } else {
      cs[nd] = sizes[d];
      for (int k = 0; k < N; ++k) cst[k][nd] = strides[k][d];
      ++nd;
    }
  }
  if (nd == 0) {  // every dim has size 1: a single element
    cs[0] = 1;
    for (int k = 0; k < N; ++k) cst[k][0] = 0;
    nd = 1;
  }
  p.ndim = nd;
  for (int d = 0; d < nd; ++d) {  // back to outer-first order
    p.sizes[d] = cs[nd - 1 - d];
    for (int k = 0; k < N; ++k) p.strides[k][d] = cst[k][nd - 1 - d];
  }
  return p;
}

// True when every linear index and every operand offset fits in int32, so the
// kernels can decode with 32-bit division (several times cheaper on the GPU).
template <int N>
bool fits_int32(const DimPlan<N>& p) {
  constexpr int64_t kMax = std::numeric_limits<int32_t>::max();
  if (p.numel > kMax) return false;
  for (int k = 0; k < N; ++k) {
    int64_t reach = 0;
    for (int d = 0; d < p.ndim; ++d) {
      const int64_t s = p.strides[k][d] < 0 ? -p.strides[k][d] : p.strides[k][d];
      if (s > kMax) return false;
      reach += (p.sizes[d] - 1) * s;
      if (reach > kMax) return false;
    }
  }
  return true;
}

template <int N, typename IndexT>
struct StridedIndexer {
  int ndim;
  IndexT sizes[kMaxDims];
  IndexT strides[N][kMaxDims];

  explicit StridedIndexer(const DimPlan<N>& p) : ndim(p.ndim) {
    for (int d = 0; d < kMaxDims; ++d) {
      sizes[d] = d < p.ndim ? static_cast<IndexT>(p.sizes[d]) : IndexT(1);
      for (int k = 0; k < N; ++k)
        strides[k][d] = d < p.ndim ? static_cast<IndexT>(p.strides[k][d]) : IndexT(0);
    }
  }

  // Offsets (in elements) of logical element `linear` (row-major) for every operand.
  // The loop is unrolled over kMaxDims so the arrays are indexed by constants and
  // stay in the kernel-parameter bank instead of being copied to local memory.
  __device__ __forceinline__ void offsets(IndexT linear, IndexT (&off)[N]) const {
#pragma unroll
    for (int k = 0; k < N; ++k) off[k] = 0;
    IndexT rem = linear;
#pragma unroll
    for (int d = kMaxDims - 1; d > 0; --d) {
      if (d < ndim) {
        const IndexT q = rem / sizes[d];
        const IndexT r = rem - q * sizes[d];
#pragma unroll
        for (int k = 0; k < N; ++k) off[k] += r * strides[k][d];
        rem = q;
      }
    }
#pragma unroll
    for (int k = 0; k < N; ++k) off[k] += rem * strides[k][0];
  }
};

// Grid-stride loop over n logical elements; op(off) gets the operand offsets.
template <int N, typename IndexT, typename Op>
__global__ void __launch_bounds__(kThreads)
    strided_kernel(StridedIndexer<N, IndexT> ix, int64_t n, Op op) {
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    IndexT off[N];
    ix.offsets(static_cast<IndexT>(i), off);
    op(off);
  }
}

// Launches strided_kernel for a plan, picking 32- or 64-bit index math.
template <int N, typename Op>
void launch_strided(const DimPlan<N>& p, const Op& op, const char* what) {
  if (p.numel <= 0) return;
  const unsigned grid = grid_for(p.numel);
  if (fits_int32(p)) {
    strided_kernel<N, int32_t, Op><<<grid, kThreads>>>(StridedIndexer<N, int32_t>(p), p.numel, op);
  } else {
    strided_kernel<N, int64_t, Op><<<grid, kThreads>>>(StridedIndexer<N, int64_t>(p), p.numel, op);
  }
  GALEN_CUDA_LAUNCH_CHECK(what);
}

// Contiguous row-major strides for sizes[0..ndim).
inline void contiguous_strides(int ndim, const int64_t* sizes, int64_t* strides) {
  int64_t s = 1;
  for (int d = ndim - 1; d >= 0; --d) {
    strides[d] = s;
    s *= sizes[d];
  }
}

// The broadcast shape of several layouts of equal ndim. A dim of size 1 (or
// stride 0) in one operand broadcasts against the others; the returned
// per-operand strides have 0 wherever the operand is broadcast.
template <int N>
struct BroadcastShape {
  int ndim = 0;
  int64_t sizes[kMaxDims] = {};
  int64_t strides[N][kMaxDims] = {};
};

template <int N>
BroadcastShape<N> broadcast_layouts(const char* prim, const Layout* const (&ls)[N]) {
  BroadcastShape<N> b;
  b.ndim = ls[0]->ndim;
  for (int k = 1; k < N; ++k)
    GALEN_CHECK(ls[k]->ndim == b.ndim, prim, ": operand layouts must have equal ndim, got ",
                b.ndim, " and ", ls[k]->ndim);
  GALEN_CHECK(b.ndim >= 0 && b.ndim <= kMaxDims, prim, ": at most ", kMaxDims, " dims, got ",
              b.ndim);
  for (int d = 0; d < b.ndim; ++d) {
    int64_t s = 1;
    for (int k = 0; k < N; ++k) {
      const int64_t sk = ls[k]->sizes[d];
      if (sk == 1) continue;
      GALEN_CHECK(s == 1 || s == sk, prim, ": shapes do not broadcast in dim ", d, " (", s,
                  " vs ", sk, ")");
      s = sk;
    }
    b.sizes[d] = s;
    for (int k = 0; k < N; ++k) b.strides[k][d] = ls[k]->sizes[d] == 1 ? 0 : ls[k]->strides[d];
  }
  return b;
}

// One library handle per device (cuBLAS, cuDNN), made by create() the first time
// it is asked for on the current device and kept for the life of the process
// (destroying handles during static destruction is unsafe). One pool per
// instantiation: call it from one (inline) function per library. `what` names
// the library in errors.
template <typename Handle, typename Create>
Handle per_device_handle(const char* what, Create create) {
  constexpr int kMaxDevices = 64;
  static std::mutex mu;
  static Handle handles[kMaxDevices] = {};
  int dev = 0;
  GALEN_CUDA_CHECK(cudaGetDevice(&dev));
  GALEN_CHECK(dev >= 0 && dev < kMaxDevices, what, ": device index ", dev, " out of range");
  std::lock_guard<std::mutex> lock(mu);
  if (handles[dev] == nullptr) handles[dev] = create();
  return handles[dev];
}

}  // namespace galen::kernels::cuda
