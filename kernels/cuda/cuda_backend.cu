// The CUDA backend object: registration, device count, the caching device
// allocator, byte copies, pinned host memory and the gemm / conv2d variant
// switches. The kernels themselves live in elementwise.cu, reduce.cu, gemm.cu,
// index.cu, random.cu, nn.cu and conv_cudnn.cu.
#include <cuda_runtime.h>

#include <cstdio>
#include <map>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "galen/kernels/cuda/cuda_backend.h"
#include "galen/kernels/cuda/cuda_common.cuh"

namespace galen::kernels::cuda {

namespace {

constexpr int kMaxDevices = 64;

// Rounds a request to its bucket size: multiples of 512 B up to 1 MiB, above
// that a quarter of the request's power of two (so at most 25% is wasted while
// blocks of similar size still share a bucket).
size_t bucket_size(size_t n) {
  constexpr size_t kSmallStep = 512;
  constexpr size_t kSmallLimit = size_t(1) << 20;
  if (n == 0) n = 1;
  if (n <= kSmallLimit) return (n + kSmallStep - 1) / kSmallStep * kSmallStep;
  size_t p = kSmallLimit;
  while (p <= n / 2) p *= 2;  // largest power of two <= n
  const size_t step = p / 4;
  return (n + step - 1) / step * step;
}

// Size-bucketed free lists per device. Freed blocks are kept and handed out
// again for requests of the same bucket; cudaMalloc only on a miss. All work is
// on the legacy default stream, so reusing a block is ordered after any kernel
// still using it. The cache is never released at process exit (the driver
// reclaims it; calling cudaFree during static destruction is unsafe).
class CachingAllocator {
 public:
  void* allocate(size_t nbytes, int device) {
    GALEN_CHECK(device >= 0 && device < kMaxDevices, "cuda allocate: bad device index ", device);
    GALEN_CUDA_CHECK(cudaSetDevice(device));
    const size_t size = bucket_size(nbytes);
    std::lock_guard<std::mutex> lock(mu_);
    auto it = free_.find({device, size});
    if (it != free_.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      cached_bytes_ -= size;
      allocated_bytes_ += size;
      live_[p] = Block{size, device};
      return p;
    }
    void* p = nullptr;
    cudaError_t err = cudaMalloc(&p, size);
    if (err == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();
      release_cached_locked(device);
      err = cudaMalloc(&p, size);
    }
    if (err != cudaSuccess) {
      (void)cudaGetLastError();
      size_t free_b = 0, total_b = 0;
      const bool have_info = cudaMemGetInfo(&free_b, &total_b) == cudaSuccess;
      (void)cudaGetLastError();
      if (err == cudaErrorMemoryAllocation)
        GALEN_FAIL("CUDA out of memory: tried to allocate ", nbytes, " bytes (", size,
                   " rounded) on cuda:", device, "; galen holds ", allocated_bytes_,
                   " bytes in live tensors",
                   have_info ? detail::concat(", the device has ", free_b, " of ", total_b,
                                              " bytes free")
                             : std::string());
      GALEN_FAIL("CUDA error: cudaMalloc(", size, " bytes) on cuda:", device,
                 " failed: ", cudaGetErrorName(err), ": ", cudaGetErrorString(err));
    }
    ++device_mallocs_;
    allocated_bytes_ += size;
    live_[p] = Block{size, device};
    return p;
  }

  // Never throws (called from Storage destructors).
  void deallocate(void* p) noexcept {
    if (p == nullptr) return;
    std::lock_guard<std::mutex> lock(mu_);
    auto it = live_.find(p);
    if (it == live_.end()) {
      std::fprintf(stderr, "galen: cuda deallocate of unknown pointer %p ignored\n", p);
      return;
    }
    const Block b = it->second;
    live_.erase(it);
    allocated_bytes_ -= b.size;
    cached_bytes_ += b.size;
    try {
      free_[{b.device, b.size}].push_back(p);
    } catch (...) {  // out of host memory for the list: give the block back instead
      cached_bytes_ -= b.size;
      (void)cudaFree(p);
      (void)cudaGetLastError();
    }
  }

  void empty_cache() {
    std::lock_guard<std::mutex> lock(mu_);
    release_cached_locked(-1);
  }

  CudaMemoryStats stats() {
    std::lock_guard<std::mutex> lock(mu_);
    CudaMemoryStats s;
    s.allocated_bytes = allocated_bytes_;
    s.cached_bytes = cached_bytes_;
    s.device_mallocs = device_mallocs_;
    return s;
  }

 private:
  struct Block {
    size_t size;
    int device;
  };

  // cudaFree of every cached block of `device` (-1: all devices). Keeps the
  // caller's current device.
  void release_cached_locked(int device) {
    int current = 0;
    const bool have_current = cudaGetDevice(&current) == cudaSuccess;
    for (auto it = free_.begin(); it != free_.end();) {
      const int dev = it->first.first;
      if (device >= 0 && dev != device) {
        ++it;
        continue;
      }
      if (cudaSetDevice(dev) == cudaSuccess) {
        for (void* p : it->second) {
          (void)cudaFree(p);
          cached_bytes_ -= it->first.second;
        }
      }
      (void)cudaGetLastError();
      it = free_.erase(it);
    }
    if (have_current) (void)cudaSetDevice(current);
    (void)cudaGetLastError();
  }

  std::mutex mu_;
  std::unordered_map<void*, Block> live_;
  std::map<std::pair<int, size_t>, std::vector<void*>> free_;
  size_t allocated_bytes_ = 0;
  size_t cached_bytes_ = 0;
  size_t device_mallocs_ = 0;
};

CachingAllocator& allocator() {
  static CachingAllocator* a = new CachingAllocator;  // intentionally never destroyed
  return *a;
}

std::once_flag g_count_once;
int g_device_count = 0;

}  // namespace

CudaBackend::~CudaBackend() = default;

int CudaBackend::device_count() const {
  // No driver / no GPU: cudaGetDeviceCount fails quietly; report 0, never throw.
  std::call_once(g_count_once, [] {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
      (void)cudaGetLastError();
      n = 0;
    }
    g_device_count = n;
  });
  return g_device_count;
}

void* CudaBackend::allocate(size_t nbytes, int device) {
  return allocator().allocate(nbytes, device);
}

void CudaBackend::deallocate(void* p, size_t /*nbytes*/, int /*device*/) {
  allocator().deallocate(p);
}

void CudaBackend::copy_from_host(void* dst, const void* src, size_t nbytes, int device) {
  if (nbytes == 0) return;
  GALEN_CUDA_CHECK(cudaSetDevice(device));
  GALEN_CUDA_CHECK(cudaMemcpy(dst, src, nbytes, cudaMemcpyHostToDevice));
}

void CudaBackend::copy_to_host(void* dst, const void* src, size_t nbytes, int device) {
  if (nbytes == 0) return;
  GALEN_CUDA_CHECK(cudaSetDevice(device));
  GALEN_CUDA_CHECK(cudaMemcpy(dst, src, nbytes, cudaMemcpyDeviceToHost));
}

void CudaBackend::copy_device(void* dst, const void* src, size_t nbytes, int device) {
  if (nbytes == 0 || dst == src) return;
  GALEN_CUDA_CHECK(cudaSetDevice(device));
  GALEN_CUDA_CHECK(cudaMemcpy(dst, src, nbytes, cudaMemcpyDeviceToDevice));
}

void CudaBackend::synchronize(int device) {
  GALEN_CUDA_CHECK(cudaSetDevice(device));
  GALEN_CUDA_CHECK(cudaDeviceSynchronize());
}

std::vector<std::string> CudaBackend::variants(const std::string& primitive) const {
  if (primitive == "gemm") return {"cublas", "tiled"};
  if (primitive == "conv2d") return {"im2col", "cudnn"};
  if (primitive == "scatter") return {"atomic", "sorted"};
  return {};
}

void CudaBackend::set_variant(const std::string& primitive, const std::string& variant) {
  if (primitive == "gemm") {
    if (variant == "cublas") {
      gemm_variant_.store(kGemmCublas);
      return;
    }
    if (variant == "tiled") {
      gemm_variant_.store(kGemmTiled);
      return;
    }
    GALEN_FAIL("cuda backend: gemm has variants cublas, tiled; got '", variant, "'");
  }
  if (primitive == "conv2d") {
    if (variant == "cudnn") {
      conv_variant_.store(kConvCudnn);
      return;
    }
    if (variant == "im2col") {
      conv_variant_.store(kConvIm2col);
      return;
    }
    GALEN_FAIL("cuda backend: conv2d has variants im2col, cudnn; got '", variant, "'");
  }
  if (primitive == "scatter") {
    if (variant == "atomic" || variant == "sorted") {
      scatter_variant_.store(variant == "sorted" ? kScatterSorted : kScatterAtomic);
      return;
    }
    GALEN_FAIL("cuda backend: scatter has variants atomic, sorted; got '", variant, "'");
  }
  Backend::set_variant(primitive, variant);
}

std::string CudaBackend::variant(const std::string& primitive) const {
  if (primitive == "gemm") return gemm_variant_.load() == kGemmTiled ? "tiled" : "cublas";
  if (primitive == "conv2d") return conv_variant_.load() == kConvCudnn ? "cudnn" : "im2col";
  if (primitive == "scatter") return scatter_variant_.load() == kScatterSorted ? "sorted" : "atomic";
  return "";
}

int current_sm_count() {
  static std::atomic<int> cache[kMaxDevices] = {};
  int dev = 0;
  GALEN_CUDA_CHECK(cudaGetDevice(&dev));
  if (dev < 0 || dev >= kMaxDevices) return 1;
  int n = cache[dev].load(std::memory_order_relaxed);
  if (n > 0) return n;
  GALEN_CUDA_CHECK(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev));
  if (n < 1) n = 1;
  cache[dev].store(n, std::memory_order_relaxed);
  return n;
}

void* scratch_alloc(size_t nbytes) {
  int dev = 0;
  GALEN_CUDA_CHECK(cudaGetDevice(&dev));
  return allocator().allocate(nbytes, dev);
}

void scratch_free(void* p) { allocator().deallocate(p); }

}  // namespace galen::kernels::cuda

namespace galen::kernels {

Backend& cuda_backend() {
  static cuda::CudaBackend* b = new cuda::CudaBackend;  // never destroyed: see the allocator
  return *b;
}

namespace {
// Static-init registration. Touches no CUDA API: a machine without a GPU or
// driver must be able to load galen.
[[maybe_unused]] const bool g_cuda_registered = [] {
  register_backend(&cuda_backend());
  return true;
}();
}  // namespace

void cuda_empty_cache() { cuda::allocator().empty_cache(); }

CudaMemoryStats cuda_memory_stats() { return cuda::allocator().stats(); }

void* cuda_host_alloc(size_t nbytes) {
  if (nbytes == 0) return nullptr;
  void* p = nullptr;
  GALEN_CUDA_CHECK(cudaMallocHost(&p, nbytes));
  return p;
}

void cuda_host_free(void* p) {
  if (p == nullptr) return;
  if (cudaFreeHost(p) != cudaSuccess) (void)cudaGetLastError();
}

}  // namespace galen::kernels
