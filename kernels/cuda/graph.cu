// CUDA graph primitives (kernels/backend.h, "graph primitives").
//
// Two ways to reduce rows into segments:
//  - atomic: one thread per (row, column) adds into the output with atomicAdd.
//    Fast and simple; the order of additions (hence the f32 rounding) varies
//    from run to run.
//  - sorted: the rows are sorted by segment (CUB radix sort of (index, row)
//    pairs, stable, so rows keep their order within a segment), segment
//    offsets found by binary search, and one thread per (segment, column)
//    walks its rows in row order: deterministic, the same order as the ref and
//    cpu kernels.
// Sum / Mean use the backend's "scatter" variant; Max (which must report the
// first maximum) and the segment softmax (which needs three passes over a
// segment) always use the sorted segments.
#include <cuda_runtime.h>

#include <cub/device/device_radix_sort.cuh>

#include "galen/kernels/cuda/cuda_common.cuh"

namespace galen::kernels::cuda {

namespace {

using Reduce = Backend::ScatterReduce;

// Scratch memory released at scope exit (the caching allocator makes this cheap).
struct Scratch {
  void* p = nullptr;
  explicit Scratch(size_t nbytes) : p(nbytes > 0 ? scratch_alloc(nbytes) : nullptr) {}
  ~Scratch() {
    if (p != nullptr) scratch_free(p);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  template <typename T>
  T* as() const {
    return static_cast<T*>(p);
  }
};

__global__ void iota_kernel(int64_t* v, int64_t n) {
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) v[i] = i;
}

// offsets[n] = first k with keys[k] >= n, for n in [0, N]: segment n is [offsets[n], offsets[n+1]).
__global__ void offsets_kernel(const int64_t* keys, int64_t E, int64_t N, int64_t* offsets) {
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t n = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; n <= N; n += step) {
    int64_t lo = 0, hi = E;
    while (lo < hi) {
      const int64_t mid = (lo + hi) / 2;
      if (keys[mid] < n) lo = mid + 1;
      else hi = mid;
    }
    offsets[n] = lo;
  }
}

// The rows of each segment: rows perm[offsets[n] .. offsets[n+1]).
struct Segments {
  Scratch keys, perm, offsets;
  Segments(int64_t E, int64_t N)
      : keys(static_cast<size_t>(E) * sizeof(int64_t)), perm(static_cast<size_t>(E) * sizeof(int64_t)),
        offsets(static_cast<size_t>(N + 1) * sizeof(int64_t)) {}
};

int bits_for(int64_t n) {
  int b = 1;
  while (b < 63 && (int64_t{1} << b) <= n) ++b;
  return b;
}

void sort_segments(const int64_t* index, int64_t E, int64_t N, Segments& s) {
  GALEN_CHECK(E <= static_cast<int64_t>(std::numeric_limits<int>::max()),
              "cuda graph primitives: at most 2^31-1 rows per call, got ", E);
  if (E > 0) {
    Scratch rows(static_cast<size_t>(E) * sizeof(int64_t));
    iota_kernel<<<grid_for(E), kThreads>>>(rows.as<int64_t>(), E);
    GALEN_CUDA_LAUNCH_CHECK("iota");
    size_t temp_bytes = 0;
    const int end_bit = bits_for(N);  // keys are in [0, N)
    GALEN_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, temp_bytes, index, s.keys.as<int64_t>(),
                                                     rows.as<int64_t>(), s.perm.as<int64_t>(), static_cast<int>(E), 0,
                                                     end_bit, cudaStream_t{}));
    Scratch temp(temp_bytes);
    GALEN_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(temp.p, temp_bytes, index, s.keys.as<int64_t>(),
                                                     rows.as<int64_t>(), s.perm.as<int64_t>(), static_cast<int>(E), 0,
                                                     end_bit, cudaStream_t{}));
  }
  offsets_kernel<<<grid_for(N + 1), kThreads>>>(s.keys.as<int64_t>(), E, N, s.offsets.as<int64_t>());
  GALEN_CUDA_LAUNCH_CHECK("segment offsets");
}

// One thread per (segment n, column f), rows in order.
template <typename T>
__global__ void __launch_bounds__(kThreads)
    segment_reduce_kernel(int op, const T* src, int64_t F, const int64_t* perm, const int64_t* offsets, int64_t N,
                          T* out, int64_t* arg) {
  const int64_t total = N * F;
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += step) {
    const int64_t n = i / F, f = i % F;
    const int64_t k0 = offsets[n], k1 = offsets[n + 1];
    if (k0 == k1) {
      out[i] = T(0);
      if (arg != nullptr) arg[i] = -1;
      continue;
    }
    int64_t best = perm[k0];
    T acc = src[best * F + f];
    for (int64_t k = k0 + 1; k < k1; ++k) {
      const int64_t r = perm[k];
      const T v = src[r * F + f];
      if (op == static_cast<int>(Reduce::Max)) {
        if (v > acc || (is_nan(v) && !is_nan(acc))) {
          acc = v;
          best = r;
        }
      } else {
        acc += v;
      }
    }
    if (op == static_cast<int>(Reduce::Mean)) acc /= static_cast<T>(k1 - k0);
    out[i] = acc;
    if (arg != nullptr) arg[i] = best;
  }
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    atomic_scatter_kernel(const T* src, int64_t F, const int64_t* index, int64_t E, T* out, T* count) {
  const int64_t total = E * F;
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += step) {
    const int64_t e = i / F, f = i % F;
    const int64_t n = index[e];
    atomicAdd(out + n * F + f, src[i]);  // f64 atomicAdd: sm_60+
    if (count != nullptr && f == 0) atomicAdd(count + n, T(1));
  }
}

template <typename T>
__global__ void __launch_bounds__(kThreads) divide_by_count_kernel(T* out, int64_t F, int64_t N, const T* count) {
  const int64_t total = N * F;
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += step) {
    const T c = count[i / F];
    if (c > T(0)) out[i] /= c;
  }
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    max_backward_kernel(const T* gout, const int64_t* arg, int64_t N, int64_t F, T* gsrc) {
  const int64_t total = N * F;
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += step) {
    const int64_t r = arg[i];
    if (r >= 0) gsrc[r * F + i % F] = gout[i];  // (row, column) pairs are distinct across segments
  }
}

// Accumulation type: double for both (the softmax sums a segment's exponentials).
template <typename T>
__global__ void __launch_bounds__(kThreads)
    segment_softmax_kernel(const T* src, int64_t F, const int64_t* perm, const int64_t* offsets, int64_t N, T* out) {
  const int64_t total = N * F;
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += step) {
    const int64_t n = i / F, f = i % F;
    const int64_t k0 = offsets[n], k1 = offsets[n + 1];
    if (k0 == k1) continue;
    double m = -INFINITY;
    for (int64_t k = k0; k < k1; ++k) m = fmax(m, static_cast<double>(src[perm[k] * F + f]));
    double z = 0.0;
    for (int64_t k = k0; k < k1; ++k) z += exp(static_cast<double>(src[perm[k] * F + f]) - m);
    for (int64_t k = k0; k < k1; ++k) {
      const int64_t j = perm[k] * F + f;
      out[j] = static_cast<T>(exp(static_cast<double>(src[j]) - m) / z);
    }
  }
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    segment_softmax_backward_kernel(const T* y, const T* gy, int64_t F, const int64_t* perm, const int64_t* offsets,
                                    int64_t N, T* gx) {
  const int64_t total = N * F;
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += step) {
    const int64_t n = i / F, f = i % F;
    const int64_t k0 = offsets[n], k1 = offsets[n + 1];
    double dot = 0.0;
    for (int64_t k = k0; k < k1; ++k) {
      const int64_t j = perm[k] * F + f;
      dot += static_cast<double>(gy[j]) * static_cast<double>(y[j]);
    }
    for (int64_t k = k0; k < k1; ++k) {
      const int64_t j = perm[k] * F + f;
      gx[j] = static_cast<T>(static_cast<double>(y[j]) * (static_cast<double>(gy[j]) - dot));
    }
  }
}

}  // namespace

void CudaBackend::scatter_reduce(ScatterReduce op, DType dtype, const void* src, int64_t E, int64_t F,
                                 const int64_t* index, int64_t N, void* out, int64_t* arg) {
  dispatch_float(dtype, "scatter_reduce", [&](auto tag) {
    using T = decltype(tag);
    if (N * F == 0) return;
    const T* s = static_cast<const T*>(src);
    T* o = static_cast<T*>(out);
    const bool atomic = op != ScatterReduce::Max && scatter_variant_.load() == kScatterAtomic;
    if (atomic) {
      GALEN_CUDA_CHECK(cudaMemsetAsync(o, 0, static_cast<size_t>(N * F) * sizeof(T)));
      Scratch count(op == ScatterReduce::Mean ? static_cast<size_t>(N) * sizeof(T) : 0);
      if (count.p != nullptr) GALEN_CUDA_CHECK(cudaMemsetAsync(count.p, 0, static_cast<size_t>(N) * sizeof(T)));
      if (E > 0) {
        atomic_scatter_kernel<T><<<grid_for(E * F), kThreads>>>(s, F, index, E, o, count.as<T>());
        GALEN_CUDA_LAUNCH_CHECK("scatter_reduce (atomic)");
      }
      if (count.p != nullptr) {
        divide_by_count_kernel<T><<<grid_for(N * F), kThreads>>>(o, F, N, count.as<T>());
        GALEN_CUDA_LAUNCH_CHECK("scatter_reduce (mean)");
      }
      return;
    }
    Segments seg(E, N);
    sort_segments(index, E, N, seg);
    segment_reduce_kernel<T><<<grid_for(N * F), kThreads>>>(static_cast<int>(op), s, F, seg.perm.as<int64_t>(),
                                                            seg.offsets.as<int64_t>(), N, o, arg);
    GALEN_CUDA_LAUNCH_CHECK("scatter_reduce (sorted)");
  });
}

void CudaBackend::scatter_max_backward(DType dtype, const void* gout, const int64_t* arg, int64_t N, int64_t F,
                                       int64_t E, void* gsrc) {
  dispatch_float(dtype, "scatter_max_backward", [&](auto tag) {
    using T = decltype(tag);
    if (E * F > 0) GALEN_CUDA_CHECK(cudaMemsetAsync(gsrc, 0, static_cast<size_t>(E * F) * sizeof(T)));
    if (N * F == 0) return;
    max_backward_kernel<T><<<grid_for(N * F), kThreads>>>(static_cast<const T*>(gout), arg, N, F,
                                                          static_cast<T*>(gsrc));
    GALEN_CUDA_LAUNCH_CHECK("scatter_max_backward");
  });
}

void CudaBackend::segment_softmax(DType dtype, const void* src, int64_t E, int64_t F, const int64_t* index, int64_t N,
                                  void* out) {
  dispatch_float(dtype, "segment_softmax", [&](auto tag) {
    using T = decltype(tag);
    if (E * F == 0) return;
    Segments seg(E, N);
    sort_segments(index, E, N, seg);
    segment_softmax_kernel<T><<<grid_for(N * F), kThreads>>>(static_cast<const T*>(src), F, seg.perm.as<int64_t>(),
                                                             seg.offsets.as<int64_t>(), N, static_cast<T*>(out));
    GALEN_CUDA_LAUNCH_CHECK("segment_softmax");
  });
}

void CudaBackend::segment_softmax_backward(DType dtype, const void* y, const void* gy, int64_t E, int64_t F,
                                           const int64_t* index, int64_t N, void* gx) {
  dispatch_float(dtype, "segment_softmax_backward", [&](auto tag) {
    using T = decltype(tag);
    if (E * F == 0) return;
    Segments seg(E, N);
    sort_segments(index, E, N, seg);
    segment_softmax_backward_kernel<T><<<grid_for(N * F), kThreads>>>(
        static_cast<const T*>(y), static_cast<const T*>(gy), F, seg.perm.as<int64_t>(), seg.offsets.as<int64_t>(), N,
        static_cast<T*>(gx));
    GALEN_CUDA_LAUNCH_CHECK("segment_softmax_backward");
  });
}

}  // namespace galen::kernels::cuda
