// The caching host allocator (see allocator.h).
#include "galen/kernels/cpu/allocator.h"

#include <cstdlib>
#include <map>
#include <mutex>
#include <string>

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
    if (!v || !*v) return size_t(1024) << 20;
    return static_cast<size_t>(std::strtoull(v, nullptr, 10)) << 20;
  }();
  return limit;
}

struct Cache {
  std::mutex mu;
  std::multimap<size_t, void*> free_blocks;  // size class -> block
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

void* cpu_alloc(size_t nbytes) {
  const size_t n = size_class(nbytes);
  GALEN_CHECK(n >= nbytes, "cpu: allocation of ", nbytes, " bytes is too large");
  if (n >= kLarge) {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mu);
    auto it = c.free_blocks.find(n);
    if (it != c.free_blocks.end()) {
      void* p = it->second;
      c.free_blocks.erase(it);
      c.bytes -= n;
      return p;
    }
  }
  return raw_alloc(n);
}

void cpu_free(void* p, size_t nbytes) {
  if (!p) return;
  const size_t n = size_class(nbytes);
  if (n >= kLarge) {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mu);
    if (c.bytes + n <= cache_limit()) {
      c.free_blocks.emplace(n, p);
      c.bytes += n;
      return;
    }
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
