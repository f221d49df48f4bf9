// Host memory for CPU tensors: 64-byte aligned; blocks of 64 KiB and more are
// cached after free and reused for the next request that fits (same size class
// up to 1.5x its size).
// Why: glibc serves large blocks with a fresh mmap each time (and medium ones
// by growing and trimming the heap), and the page faults of touching new pages
// cost more than the kernels that fill them (a 16M-float add spent ~95% of its
// time faulting in its output; a training step of the MNIST MLP ~25%). Size
// classes are a quarter of a power of two, so at most 25% is wasted. The cache
// holds at most GALEN_CPU_CACHE_MB MiB (default: a quarter of physical memory,
// clamped to 1-16 GiB, so a training step's working set stays cached between
// steps); `cpu_empty_cache()` returns it to the system.
#pragma once

#include <cstddef>

namespace galen::kernels {

void* cpu_alloc(size_t nbytes);
void cpu_free(void* p, size_t nbytes);  // nbytes: the size passed to cpu_alloc
void cpu_empty_cache();
size_t cpu_cached_bytes();

}  // namespace galen::kernels
