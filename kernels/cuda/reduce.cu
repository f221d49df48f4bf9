// CUDA reductions over the middle dim of (outer, len, inner), softmax /
// log_softmax (+ backward) over rows, and minmax_i64.
//
// Reduce, inner == 1: a group of threads per row (a warp for short rows, the
// whole 256-thread block for long ones), warp-shuffle tree reduction.
// Reduce, inner > 1: 32x8 blocks; x walks 32 adjacent columns (coalesced loads),
// y splits the reduced dim; the 8 partials meet in shared memory.
// When there are too few rows/columns to fill the GPU, the reduced dim is cut
// into chunks: pass 1 writes one partial accumulator per chunk, pass 2 reduces
// the partials with the same kernels.
#include <cuda_runtime.h>

#include "galen/kernels/cuda/cuda_common.cuh"

namespace galen::kernels::cuda {

namespace {

constexpr unsigned kFullMask = 0xffffffffu;
constexpr int64_t kNoIndex = std::numeric_limits<int64_t>::max();  // "no element yet"

template <typename T>
__device__ __forceinline__ T shfl_down(T v, int delta) {
  if constexpr (sizeof(T) < 4) {
    return static_cast<T>(__shfl_down_sync(kFullMask, static_cast<int>(v), delta));
  } else if constexpr (std::is_same_v<T, int64_t>) {
    return static_cast<int64_t>(
        __shfl_down_sync(kFullMask, static_cast<long long>(v), delta));
  } else {
    return __shfl_down_sync(kFullMask, v, delta);
  }
}

// Value + position, for max/min/argmax/argmin.
template <typename T>
struct ValIdx {
  T v;
  int64_t i;
};

template <typename T>
__device__ __forceinline__ ValIdx<T> shfl_down(ValIdx<T> a, int delta) {
  return ValIdx<T>{shfl_down(a.v, delta), shfl_down(a.i, delta)};
}

// ---- reduction functors ----------------------------------------------------------------
// Acc: the accumulator; init(); step(acc, x, position); merge(a, b); write().
template <typename T, typename A>
struct SumR {
  using Acc = A;
  __device__ Acc init() const { return A(0); }
  __device__ Acc step(Acc a, T v, int64_t) const { return static_cast<A>(a + static_cast<A>(v)); }
  __device__ Acc merge(Acc a, Acc b) const { return static_cast<A>(a + b); }
  __device__ void write(T* out, int64_t*, int64_t pos, Acc a) const { out[pos] = static_cast<T>(a); }
};

template <typename T, typename A>
struct ProdR {
  using Acc = A;
  __device__ Acc init() const { return A(1); }
  __device__ Acc step(Acc a, T v, int64_t) const { return static_cast<A>(a * static_cast<A>(v)); }
  __device__ Acc merge(Acc a, Acc b) const { return static_cast<A>(a * b); }
  __device__ void write(T* out, int64_t*, int64_t pos, Acc a) const { out[pos] = static_cast<T>(a); }
};

// Max (kMax) or min with position. NaN beats any number; ties and NaN-vs-NaN go
// to the lower position, so the result is the first extreme whatever the
// order in which partial results meet. Writes the value when out != nullptr
// and the position when idx != nullptr.
template <typename T, bool kMax>
struct ExtremeR {
  using Acc = ValIdx<T>;
  __device__ Acc init() const { return Acc{T(0), kNoIndex}; }
  __device__ static bool first_wins(const Acc& a, const Acc& b) {
    if (b.i == kNoIndex) return true;
    if (a.i == kNoIndex) return false;
    const bool an = is_nan(a.v), bn = is_nan(b.v);
    if (an || bn) return an && bn ? a.i < b.i : an;
    if (a.v == b.v) return a.i < b.i;
    return kMax ? a.v > b.v : a.v < b.v;
  }
  __device__ Acc merge(Acc a, Acc b) const { return first_wins(a, b) ? a : b; }
  __device__ Acc step(Acc a, T v, int64_t pos) const { return merge(a, Acc{v, pos}); }
  __device__ void write(T* out, int64_t* idx, int64_t pos, Acc a) const {
    if (out) out[pos] = a.v;
    if (idx) idx[pos] = a.i;
  }
};

template <typename R, typename Acc>
__device__ __forceinline__ Acc warp_reduce(const R& r, Acc v) {
#pragma unroll
  for (int d = 16; d > 0; d >>= 1) v = r.merge(v, shfl_down(v, d));
  return v;
}

// ---- inner == 1: rows ------------------------------------------------------------------
// Segments are (row, chunk) pairs; GROUP threads reduce one segment. kFromPartial:
// the input is pass 1's accumulators (len == chunks of pass 1, positions already
// inside). kFinal: write the outputs, otherwise one accumulator per segment.
template <int GROUP, bool kFromPartial, bool kFinal, typename T, typename R>
__global__ void __launch_bounds__(kThreads)
    reduce_rows_kernel(const void* in, int64_t outer, int64_t len, int64_t chunks,
                       int64_t chunk_len, typename R::Acc* partial, T* out, int64_t* idx, R r) {
  using Acc = typename R::Acc;
  static_assert(GROUP == 32 || GROUP == kThreads, "a warp or the whole block per segment");
  constexpr int kGroupsPerBlock = kThreads / GROUP;
  __shared__ Acc warp_acc[kThreads / 32];
  const int lane_in_group = threadIdx.x % GROUP;
  const int64_t nseg = outer * chunks;
  const int64_t seg_step = static_cast<int64_t>(gridDim.x) * kGroupsPerBlock;
  // For GROUP == kThreads the loop is block-uniform, which __syncthreads needs.
  for (int64_t seg = static_cast<int64_t>(blockIdx.x) * kGroupsPerBlock + threadIdx.x / GROUP;
       seg < nseg; seg += seg_step) {
    const int64_t row = seg / chunks, c = seg % chunks;
    const int64_t begin = c * chunk_len;
    const int64_t end = begin + chunk_len < len ? begin + chunk_len : len;
    Acc acc = r.init();
    if constexpr (kFromPartial) {
      const Acc* x = static_cast<const Acc*>(in) + row * len;
      for (int64_t l = begin + lane_in_group; l < end; l += GROUP) acc = r.merge(acc, x[l]);
    } else {
      const T* x = static_cast<const T*>(in) + row * len;
      for (int64_t l = begin + lane_in_group; l < end; l += GROUP) acc = r.step(acc, x[l], l);
    }
    acc = warp_reduce(r, acc);
    if constexpr (GROUP > 32) {
      const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
      __syncthreads();  // warp_acc may still be read from the previous segment
      if (lane == 0) warp_acc[warp] = acc;
      __syncthreads();
      if (warp == 0) {
        acc = warp_acc[lane % (kThreads / 32)];
        // Lanes >= kThreads/32 hold copies; lane 0 only ever reads lanes 0..7.
#pragma unroll
        for (int d = kThreads / 64; d > 0; d >>= 1) acc = r.merge(acc, shfl_down(acc, d));
      }
    }
    if (lane_in_group == 0) {
      if constexpr (kFinal) r.write(out, idx, row, acc);
      else partial[seg] = acc;
    }
  }
}

// ---- inner > 1: columns ------------------------------------------------------------------
constexpr int kColX = 32, kColY = kThreads / kColX;

// Tiles are (row o, 32-column block, chunk). Input (outer, len, inner) of T, or of
// accumulators when kFromPartial; partial output is (outer, chunks, inner).
template <bool kFromPartial, bool kFinal, typename T, typename R>
__global__ void __launch_bounds__(kThreads)
    reduce_cols_kernel(const void* in, int64_t outer, int64_t len, int64_t inner, int64_t chunks,
                       int64_t chunk_len, typename R::Acc* partial, T* out, int64_t* idx, R r) {
  using Acc = typename R::Acc;
  __shared__ Acc tile_acc[kColY][kColX];
  const int tx = threadIdx.x % kColX, ty = threadIdx.x / kColX;
  const int64_t col_blocks = ceil_div(inner, kColX);
  const int64_t ntiles = outer * col_blocks * chunks;
  for (int64_t t = blockIdx.x; t < ntiles; t += gridDim.x) {  // block-uniform
    const int64_t c = t % chunks;
    const int64_t cb = (t / chunks) % col_blocks;
    const int64_t o = t / (chunks * col_blocks);
    const int64_t i = cb * kColX + tx;
    const int64_t begin = c * chunk_len;
    const int64_t end = begin + chunk_len < len ? begin + chunk_len : len;
    Acc acc = r.init();
    if (i < inner) {
      if constexpr (kFromPartial) {
        const Acc* x = static_cast<const Acc*>(in) + o * len * inner + i;
        for (int64_t l = begin + ty; l < end; l += kColY) acc = r.merge(acc, x[l * inner]);
      } else {
        const T* x = static_cast<const T*>(in) + o * len * inner + i;
        for (int64_t l = begin + ty; l < end; l += kColY) acc = r.step(acc, x[l * inner], l);
      }
    }
    __syncthreads();  // the previous tile's partials have been read
    tile_acc[ty][tx] = acc;
    __syncthreads();
    if (ty == 0 && i < inner) {
#pragma unroll
      for (int y = 1; y < kColY; ++y) acc = r.merge(acc, tile_acc[y][tx]);
      if constexpr (kFinal) r.write(out, idx, o * inner + i, acc);
      else partial[(o * chunks + c) * inner + i] = acc;
    }
  }
}

// How many chunks to cut the reduced dim into: enough segments to give every SM
// a few blocks, but chunks of at least kMinChunk elements.
int64_t choose_chunks(int64_t segments_per_chunk, int64_t len) {
  constexpr int64_t kMinChunk = 4096;
  const int64_t target = static_cast<int64_t>(current_sm_count()) * 4;
  if (segments_per_chunk >= target || len < 2 * kMinChunk) return 1;
  int64_t chunks = ceil_div(target, segments_per_chunk);
  const int64_t max_chunks = len / kMinChunk;
  if (chunks > max_chunks) chunks = max_chunks;
  return chunks < 1 ? 1 : chunks;
}

unsigned grid_for_segments(int64_t nseg, int per_block) {
  const int64_t blocks = ceil_div(nseg, per_block);
  const int64_t cap = static_cast<int64_t>(current_sm_count()) * 32;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > cap ? cap : blocks));
}

template <bool kFromPartial, bool kFinal, typename T, typename R>
void launch_rows(const void* in, int64_t outer, int64_t len, int64_t chunks, int64_t chunk_len,
                 typename R::Acc* partial, T* out, int64_t* idx, const R& r) {
  const int64_t nseg = outer * chunks;
  if (chunk_len <= 512) {
    reduce_rows_kernel<32, kFromPartial, kFinal, T, R>
        <<<grid_for_segments(nseg, kThreads / 32), kThreads>>>(in, outer, len, chunks, chunk_len,
                                                               partial, out, idx, r);
  } else {
    reduce_rows_kernel<kThreads, kFromPartial, kFinal, T, R>
        <<<grid_for_segments(nseg, 1), kThreads>>>(in, outer, len, chunks, chunk_len, partial,
                                                   out, idx, r);
  }
  GALEN_CUDA_LAUNCH_CHECK("reduce (rows)");
}

template <bool kFromPartial, bool kFinal, typename T, typename R>
void launch_cols(const void* in, int64_t outer, int64_t len, int64_t inner, int64_t chunks,
                 int64_t chunk_len, typename R::Acc* partial, T* out, int64_t* idx, const R& r) {
  const int64_t ntiles = outer * ceil_div(inner, kColX) * chunks;
  reduce_cols_kernel<kFromPartial, kFinal, T, R><<<grid_for_segments(ntiles, 1), kThreads>>>(
      in, outer, len, inner, chunks, chunk_len, partial, out, idx, r);
  GALEN_CUDA_LAUNCH_CHECK("reduce (columns)");
}

// Frees a scratch block on scope exit (also when a launch check throws).
struct ScratchGuard {
  void* p = nullptr;
  ~ScratchGuard() { scratch_free(p); }
};

template <typename T, typename R>
void run_reduce(const T* x, int64_t outer, int64_t len, int64_t inner, T* out, int64_t* idx,
                const R& r) {
  using Acc = typename R::Acc;
  if (inner == 1) {
    const int64_t chunks = choose_chunks(outer, len);
    if (chunks == 1) {
      launch_rows<false, true, T, R>(x, outer, len, 1, len, nullptr, out, idx, r);
      return;
    }
    const int64_t chunk_len = ceil_div(len, chunks);
    const int64_t nchunks = ceil_div(len, chunk_len);
    ScratchGuard g{scratch_alloc(sizeof(Acc) * static_cast<size_t>(outer * nchunks))};
    Acc* partial = static_cast<Acc*>(g.p);
    launch_rows<false, false, T, R>(x, outer, len, nchunks, chunk_len, partial, nullptr, nullptr, r);
    launch_rows<true, true, T, R>(partial, outer, nchunks, 1, nchunks, nullptr, out, idx, r);
    return;
  }
  const int64_t chunks = choose_chunks(outer * ceil_div(inner, kColX), len);
  if (chunks == 1) {
    launch_cols<false, true, T, R>(x, outer, len, inner, 1, len, nullptr, out, idx, r);
    return;
  }
  const int64_t chunk_len = ceil_div(len, chunks);
  const int64_t nchunks = ceil_div(len, chunk_len);
  ScratchGuard g{scratch_alloc(sizeof(Acc) * static_cast<size_t>(outer * nchunks * inner))};
  Acc* partial = static_cast<Acc*>(g.p);
  launch_cols<false, false, T, R>(x, outer, len, inner, nchunks, chunk_len, partial, nullptr,
                                  nullptr, r);
  launch_cols<true, true, T, R>(partial, outer, nchunks, inner, 1, nchunks, nullptr, out, idx, r);
}

// ---- softmax ----------------------------------------------------------------------------
template <int GROUP, typename A>
__device__ __forceinline__ A group_sum(A v, A* smem) {
#pragma unroll
  for (int d = 16; d > 0; d >>= 1) v += __shfl_down_sync(kFullMask, v, d);
  if constexpr (GROUP == 32) {
    return __shfl_sync(kFullMask, v, 0);
  } else {
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    __syncthreads();
    if (lane == 0) smem[warp] = v;
    __syncthreads();
    A total = 0;
#pragma unroll
    for (int w = 0; w < GROUP / 32; ++w) total += smem[w];
    return total;
  }
}

template <int GROUP, typename A>
__device__ __forceinline__ A group_max(A v, A* smem) {
#pragma unroll
  for (int d = 16; d > 0; d >>= 1) {
    const A o = __shfl_down_sync(kFullMask, v, d);
    v = (o > v || is_nan(o)) ? o : v;
  }
  if constexpr (GROUP == 32) {
    return __shfl_sync(kFullMask, v, 0);
  } else {
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    __syncthreads();
    if (lane == 0) smem[warp] = v;
    __syncthreads();
    A m = smem[0];
#pragma unroll
    for (int w = 1; w < GROUP / 32; ++w) m = (smem[w] > m || is_nan(smem[w])) ? smem[w] : m;
    return m;
  }
}

__device__ __forceinline__ float s_exp(float x) { return expf(x); }
__device__ __forceinline__ double s_exp(double x) { return exp(x); }
__device__ __forceinline__ float s_log(float x) { return logf(x); }
__device__ __forceinline__ double s_log(double x) { return log(x); }

// One GROUP of threads per row (a warp for cols <= 1024, else the block).
template <int GROUP, typename T>
__global__ void __launch_bounds__(kThreads)
    softmax_kernel(const T* x, int64_t rows, int64_t cols, T* out, bool log_out) {
  constexpr int kRowsPerBlock = kThreads / GROUP;
  __shared__ T smem[kThreads / 32];
  const int lane = threadIdx.x % GROUP;
  const int64_t step = static_cast<int64_t>(gridDim.x) * kRowsPerBlock;
  for (int64_t row = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / GROUP;
       row < rows; row += step) {
    const T* xr = x + row * cols;
    T* yr = out + row * cols;
    T m = -INFINITY;
    for (int64_t j = lane; j < cols; j += GROUP) m = (xr[j] > m || is_nan(xr[j])) ? xr[j] : m;
    m = group_max<GROUP>(m, smem);
    T s = 0;
    for (int64_t j = lane; j < cols; j += GROUP) s += s_exp(xr[j] - m);
    s = group_sum<GROUP>(s, smem);
    if (log_out) {
      const T ls = s_log(s);
      for (int64_t j = lane; j < cols; j += GROUP) yr[j] = xr[j] - m - ls;
    } else {
      const T inv = T(1) / s;
      for (int64_t j = lane; j < cols; j += GROUP) yr[j] = s_exp(xr[j] - m) * inv;
    }
  }
}

// softmax:     gx = y * (gy - sum(gy * y))
// log_softmax: gx = gy - exp(y) * sum(gy)
template <int GROUP, typename T>
__global__ void __launch_bounds__(kThreads)
    softmax_backward_kernel(const T* y, const T* gy, int64_t rows, int64_t cols, T* gx,
                            bool log_out) {
  constexpr int kRowsPerBlock = kThreads / GROUP;
  __shared__ T smem[kThreads / 32];
  const int lane = threadIdx.x % GROUP;
  const int64_t step = static_cast<int64_t>(gridDim.x) * kRowsPerBlock;
  for (int64_t row = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / GROUP;
       row < rows; row += step) {
    const T* yr = y + row * cols;
    const T* gr = gy + row * cols;
    T* outr = gx + row * cols;
    T s = 0;
    if (log_out) {
      for (int64_t j = lane; j < cols; j += GROUP) s += gr[j];
    } else {
      for (int64_t j = lane; j < cols; j += GROUP) s += gr[j] * yr[j];
    }
    s = group_sum<GROUP>(s, smem);
    if (log_out) {
      for (int64_t j = lane; j < cols; j += GROUP) outr[j] = gr[j] - s_exp(yr[j]) * s;
    } else {
      for (int64_t j = lane; j < cols; j += GROUP) outr[j] = yr[j] * (gr[j] - s);
    }
  }
}

// ---- minmax_i64 ---------------------------------------------------------------------------
__global__ void __launch_bounds__(kThreads)
    minmax_kernel(const int64_t* x, int64_t n, long long* result) {
  long long mn = std::numeric_limits<long long>::max();
  long long mx = std::numeric_limits<long long>::min();
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    const long long v = x[i];
    mn = v < mn ? v : mn;
    mx = v > mx ? v : mx;
  }
#pragma unroll
  for (int d = 16; d > 0; d >>= 1) {
    const long long omn = __shfl_down_sync(kFullMask, mn, d);
    const long long omx = __shfl_down_sync(kFullMask, mx, d);
    mn = omn < mn ? omn : mn;
    mx = omx > mx ? omx : mx;
  }
  if (threadIdx.x % 32 == 0) {
    atomicMin(&result[0], mn);
    atomicMax(&result[1], mx);
  }
}

}  // namespace

void CudaBackend::reduce(ReduceOp op, DType dtype, const void* x, int64_t outer, int64_t len,
                         int64_t inner, void* out, int64_t* indices) {
  const char* prim = reduce_name(op);
  GALEN_CHECK(outer >= 0 && len >= 0 && inner >= 0, prim, ": negative extent (", outer, ", ", len,
              ", ", inner, ")");
  dispatch_numeric(dtype, prim, [&](auto tag) {
    using T = decltype(tag);
    if (outer * inner == 0) return;
    if (len == 0) {
      GALEN_CHECK(op == ReduceOp::Sum || op == ReduceOp::Prod, prim,
                  ": cannot reduce an empty dimension (no identity)");
      fill(dtype, out, outer * inner, op == ReduceOp::Sum ? 0.0 : 1.0);
      return;
    }
    const T* xt = static_cast<const T*>(x);
    T* ot = static_cast<T*>(out);
    switch (op) {
      case ReduceOp::Sum:
        // f32 sums and products accumulate in double, as in the reference:
        // cheap here (memory bound) and insensitive to the order partials meet in.
        if constexpr (std::is_same_v<T, float>) run_reduce(xt, outer, len, inner, ot, nullptr, SumR<T, double>{});
        else run_reduce(xt, outer, len, inner, ot, nullptr, SumR<T, T>{});
        return;
      case ReduceOp::Prod:
        if constexpr (std::is_same_v<T, float>) run_reduce(xt, outer, len, inner, ot, nullptr, ProdR<T, double>{});
        else run_reduce(xt, outer, len, inner, ot, nullptr, ProdR<T, T>{});
        return;
      case ReduceOp::Max: run_reduce(xt, outer, len, inner, ot, indices, ExtremeR<T, true>{}); return;
      case ReduceOp::Min: run_reduce(xt, outer, len, inner, ot, indices, ExtremeR<T, false>{}); return;
      case ReduceOp::ArgMax:
        GALEN_CHECK(indices != nullptr, prim, ": needs an indices buffer");
        run_reduce(xt, outer, len, inner, static_cast<T*>(nullptr), indices, ExtremeR<T, true>{});
        return;
      case ReduceOp::ArgMin:
        GALEN_CHECK(indices != nullptr, prim, ": needs an indices buffer");
        run_reduce(xt, outer, len, inner, static_cast<T*>(nullptr), indices, ExtremeR<T, false>{});
        return;
    }
    GALEN_FAIL("reduce: unknown op ", static_cast<int>(op));
  });
}

void CudaBackend::softmax(DType dtype, const void* x, int64_t rows, int64_t cols, void* out,
                          bool log) {
  if (rows <= 0 || cols <= 0) return;
  dispatch_float(dtype, log ? "log_softmax" : "softmax", [&](auto tag) {
    using T = decltype(tag);
    const T* xt = static_cast<const T*>(x);
    T* ot = static_cast<T*>(out);
    if (cols <= 1024) {
      softmax_kernel<32, T><<<grid_for_segments(rows, kThreads / 32), kThreads>>>(xt, rows, cols, ot, log);
    } else {
      softmax_kernel<kThreads, T><<<grid_for_segments(rows, 1), kThreads>>>(xt, rows, cols, ot, log);
    }
    GALEN_CUDA_LAUNCH_CHECK("softmax");
  });
}

void CudaBackend::softmax_backward(DType dtype, const void* y, const void* gy, int64_t rows,
                                   int64_t cols, void* gx, bool log) {
  if (rows <= 0 || cols <= 0) return;
  dispatch_float(dtype, log ? "log_softmax_backward" : "softmax_backward", [&](auto tag) {
    using T = decltype(tag);
    const T* yt = static_cast<const T*>(y);
    const T* gt = static_cast<const T*>(gy);
    T* ot = static_cast<T*>(gx);
    if (cols <= 1024) {
      softmax_backward_kernel<32, T><<<grid_for_segments(rows, kThreads / 32), kThreads>>>(
          yt, gt, rows, cols, ot, log);
    } else {
      softmax_backward_kernel<kThreads, T><<<grid_for_segments(rows, 1), kThreads>>>(
          yt, gt, rows, cols, ot, log);
    }
    GALEN_CUDA_LAUNCH_CHECK("softmax_backward");
  });
}

void CudaBackend::minmax_i64(const int64_t* x, int64_t n, int64_t* mn, int64_t* mx) {
  GALEN_CHECK(n > 0, "minmax_i64: needs at least one value, got n = ", n);
  ScratchGuard g{scratch_alloc(2 * sizeof(long long))};
  long long* res = static_cast<long long*>(g.p);
  const long long init[2] = {std::numeric_limits<long long>::max(),
                             std::numeric_limits<long long>::min()};
  GALEN_CUDA_CHECK(cudaMemcpy(res, init, sizeof(init), cudaMemcpyHostToDevice));
  minmax_kernel<<<grid_for(n), kThreads>>>(x, n, res);
  GALEN_CUDA_LAUNCH_CHECK("minmax_i64");
  // mn / mx may be host or device pointers: unified addressing sorts it out.
  GALEN_CUDA_CHECK(cudaMemcpy(mn, res, sizeof(int64_t), cudaMemcpyDefault));
  GALEN_CUDA_CHECK(cudaMemcpy(mx, res + 1, sizeof(int64_t), cudaMemcpyDefault));
}

}  // namespace galen::kernels::cuda
