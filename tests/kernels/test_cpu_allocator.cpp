// The caching host allocator: alignment, reuse of large blocks, size classes.
#include <cstdint>
#include <cstring>

#include "galen/kernels/cpu/allocator.h"
#include "test_util.h"

using namespace galen::kernels;

TEST_CASE("cpu allocator aligns, caches large blocks and empties its cache", "[kernels][allocator]") {
  cpu_empty_cache();
  for (size_t n : {size_t(0), size_t(1), size_t(63), size_t(1000), size_t(1) << 20, (size_t(5) << 20) + 3}) {
    void* p = cpu_alloc(n);
    REQUIRE(p != nullptr);
    REQUIRE(reinterpret_cast<uintptr_t>(p) % 64 == 0);
    std::memset(p, 0xab, n);
    cpu_free(p, n);
  }
  const size_t big = (size_t(48) << 20) + 12345;
  void* a = cpu_alloc(big);
  cpu_free(a, big);
  REQUIRE(cpu_cached_bytes() >= big);
  // Same size class (within a quarter power of two) gets the cached block back.
  void* b = cpu_alloc(big + 1000);
  REQUIRE(b == a);
  REQUIRE(cpu_cached_bytes() < big);
  cpu_free(b, big + 1000);
  // A much larger request does not take a too-small block.
  void* c = cpu_alloc(big * 2);
  REQUIRE(c != a);
  cpu_free(c, big * 2);
  cpu_empty_cache();
  REQUIRE(cpu_cached_bytes() == 0);
}

TEST_CASE("tensors reuse cached memory across iterations", "[kernels][allocator]") {
  using namespace galen;
  cpu_empty_cache();
  const void* first = nullptr;
  for (int i = 0; i < 3; ++i) {
    Tensor t = full({1 << 20}, static_cast<double>(i));  // 4 MiB
    if (!first) first = t.data_ptr();
    REQUIRE(t.data_ptr() == first);
    REQUIRE(t.sum().item() == static_cast<double>(i) * (1 << 20));
  }
}

TEST_CASE("cpu allocator: a smaller request reuses a cached block up to 1.5x its size, and accounts the real size",
          "[kernels][allocator]") {
  cpu_empty_cache();
  const size_t big = size_t(40) << 20;  // a size class of its own
  void* a = cpu_alloc(big);
  cpu_free(a, big);
  REQUIRE(cpu_cached_bytes() == big);
  // 30 MiB: a smaller class, within 1.5x -> takes the 40 MiB block; freeing it caches 40 MiB again.
  void* b = cpu_alloc(size_t(30) << 20);
  REQUIRE(b == a);
  REQUIRE(cpu_cached_bytes() == 0);
  std::memset(b, 0x5a, size_t(30) << 20);
  cpu_free(b, size_t(30) << 20);
  REQUIRE(cpu_cached_bytes() == big);
  // 20 MiB: the 40 MiB block is more than 1.5x -> a new block.
  void* c = cpu_alloc(size_t(20) << 20);
  REQUIRE(c != a);
  REQUIRE(cpu_cached_bytes() == big);
  cpu_free(c, size_t(20) << 20);
  REQUIRE(cpu_cached_bytes() == big + (size_t(20) << 20));
  cpu_empty_cache();
  REQUIRE(cpu_cached_bytes() == 0);
}
