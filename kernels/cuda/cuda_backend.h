// The CUDA backend's public hooks, as a plain C++ header (no CUDA includes), so
// core/ and data/ can call them from .cpp files when GALEN_WITH_CUDA is defined.
#pragma once

#include <cstddef>

#include "galen/kernels/backend.h"

namespace galen::kernels {

// The CUDA backend singleton. Also registered at static-init time; calling this
// from core keeps the backend's translation unit in a static-library link.
Backend& cuda_backend();

// Returns every cached (freed, not in use) device block to the driver.
void cuda_empty_cache();

// Caching-allocator counters, summed over devices.
struct CudaMemoryStats {
  size_t allocated_bytes = 0;  // handed out and not yet freed (rounded sizes)
  size_t cached_bytes = 0;     // freed blocks kept for reuse
  size_t device_mallocs = 0;   // cudaMalloc calls so far (cache misses)
};
CudaMemoryStats cuda_memory_stats();

// Page-locked host memory (for asynchronous host<->device copies in the data
// loader). cuda_host_alloc(0) returns nullptr; cuda_host_free(nullptr) is a no-op.
// cuda_host_alloc throws galen::Error on failure; cuda_host_free never throws.
void* cuda_host_alloc(size_t nbytes);
void cuda_host_free(void* p);

}  // namespace galen::kernels
