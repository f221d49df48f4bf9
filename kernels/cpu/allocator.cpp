// The caching host allocator (see allocator.h).
#include "galen/kernels/cpu/allocator.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>

#include "galen/core/error.h"

namespace galen::kernels {

namespace {

constexpr size_t kAlign = 64;
constexpr size_t kLarge = size_t(64) << 10;

size_t size_class(size_t n) {
  if (n < kLarge) return n == 0 ? kAlign : (n + kAlign - 1) / kAlign * kAlign;
  const size_t p = size_t(1) << (63 - __builtin_clzll(n));  // largest power of two <= n
  const size_t quarter = p / 4;
  return (n + quarter - 1) / quarter * quarter;
}

size_t cache_limit() {
  static const size_t limit = [] {
    const char* v = std::getenv("GALEN_CPU_CACHE_MB");
    if (v && *v) return static_cast<size_t>(std::strtoull(v, nullptr, 10)) << 20;
    // A quarter of physical memory, between 1 and 16 GiB: a training step's whole working set
    // (DenseNet-121 at batch 8, 224 px: ~1.8 GiB) must fit, or every step faults the rest in
    // again (a 1 GiB cap made that step 30% slower).
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    const size_t ram = pages > 0 && page > 0 ? static_cast<size_t>(pages) * static_cast<size_t>(page) : 0;
    return std::clamp(ram / 4, size_t(1) << 30, size_t(16) << 30);
  }();
  return limit;
}

struct Cache {
  std::mutex mu;
  std::multimap<size_t, void*> free_blocks;  // block size -> block
  std::unordered_map<void*, size_t> live;    // large blocks handed out -> their real size
  size_t bytes = 0;
};

Cache& cache() {
  static Cache* c = new Cache;  // never destroyed: tensors may be freed at exit
  return *c;
}

void* raw_alloc(size_t n) {
  void* p = std::aligned_alloc(kAlign, n);
  if (!p) {
    cpu_empty_cache();
    p = std::aligned_alloc(kAlign, n);
  }
  GALEN_CHECK(p != nullptr, "cpu: out of memory allocating ", n, " bytes");
  return p;
}

}  // namespace

// A request takes the smallest cached block of at least its size class and at most 1.5x it
// (a DenseNet's concatenations grow by a few channels per layer, so exact classes alone left
// most of the cache unused and the process's peak memory ~15% higher).
void* cpu_alloc(size_t nbytes) {
  const size_t n = size_class(nbytes);
  GALEN_CHECK(n >= nbytes, "cpu: allocation of ", nbytes, " bytes is too large");
  if (n < kLarge) return raw_alloc(n);
  Cache& c = cache();
  {
    std::lock_guard<std::mutex> lock(c.mu);
    auto it = c.free_blocks.lower_bound(n);
    if (it != c.free_blocks.end() && it->first - n <= n / 2) {
      const size_t size = it->first;
      void* p = it->second;
      c.free_blocks.erase(it);
      c.bytes -= size;
      c.live[p] = size;
      return p;
    }
  }
  void* p = raw_alloc(n);  // unlocked: on failure it empties the cache, which takes the lock
  std::lock_guard<std::mutex> lock(c.mu);
  c.live[p] = n;
  return p;
}

void cpu_free(void* p, size_t nbytes) {
  if (!p) return;
  if (size_class(nbytes) < kLarge) {
    std::free(p);
    return;
  }
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  const auto it = c.live.find(p);
  if (it == c.live.end()) {  // not ours (cannot happen through the backend); free runs in destructors: no throw
    std::free(p);
    return;
  }
  const size_t size = it->second;
  c.live.erase(it);
  if (c.bytes + size <= cache_limit()) {
    c.free_blocks.emplace(size, p);
    c.bytes += size;
    return;
  }
  std::free(p);
}

void cpu_empty_cache() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  for (auto& [n, p] : c.free_blocks) std::free(p);
  c.free_blocks.clear();
  c.bytes = 0;
}

size_t cpu_cached_bytes() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.bytes;
}

}  // namespace galen::kernels
