// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3",
// SC'11) and the element -> number mappings every backend shares, so CPU and
// CUDA produce identical streams. Header-only, host and device.
#pragma once

#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define GALEN_HD __host__ __device__ __forceinline__
#else
#define GALEN_HD inline
#endif

namespace galen::kernels::philox {

struct U4 {
  uint32_t x, y, z, w;
};

GALEN_HD void mulhilo(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
  const uint64_t p = static_cast<uint64_t>(a) * b;
  hi = static_cast<uint32_t>(p >> 32);
  lo = static_cast<uint32_t>(p);
}

// counter = (c0, c1) as two u64 halves, key = seed.
GALEN_HD U4 block(uint64_t c0, uint64_t c1, uint64_t key) {
  uint32_t x = static_cast<uint32_t>(c0), y = static_cast<uint32_t>(c0 >> 32);
  uint32_t z = static_cast<uint32_t>(c1), w = static_cast<uint32_t>(c1 >> 32);
  uint32_t k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
  for (int r = 0; r < 10; ++r) {
    uint32_t hi0, lo0, hi1, lo1;
    mulhilo(0xD2511F53u, x, hi0, lo0);
    mulhilo(0xCD9E8D57u, z, hi1, lo1);
    const uint32_t nx = hi1 ^ y ^ k0, ny = lo1, nz = hi0 ^ w ^ k1, nw = lo0;
    x = nx; y = ny; z = nz; w = nw;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return {x, y, z, w};
}

// [0,1) with 24 bits (float) / 53 bits (double).
GALEN_HD float u01f(uint32_t a) { return static_cast<float>(a >> 8) * (1.0f / 16777216.0f); }
GALEN_HD double u01d(uint32_t a, uint32_t b) {
  const uint64_t v = (static_cast<uint64_t>(a) << 21) ^ (static_cast<uint64_t>(b) >> 11);
  return static_cast<double>(v & ((1ull << 53) - 1)) * (1.0 / 9007199254740992.0);
}

// Element i of a call: every dtype draws its number(s) from block(offset + i, 0, seed).
GALEN_HD double uniform(uint64_t seed, uint64_t offset, int64_t i, bool dbl, double a, double b) {
  const U4 r = block(offset + static_cast<uint64_t>(i), 0, seed);
  const double u = dbl ? u01d(r.x, r.y) : static_cast<double>(u01f(r.x));
  return a + (b - a) * u;
}
GALEN_HD double normal(uint64_t seed, uint64_t offset, int64_t i, double mean, double stdv) {
  const U4 r = block(offset + static_cast<uint64_t>(i), 0, seed);
  // u1 in (0,1] so log is finite.
  const double u1 = 1.0 - u01d(r.x, r.y);
  const double u2 = u01d(r.z, r.w);
  return mean + stdv * ::sqrt(-2.0 * ::log(u1)) * ::cos(6.283185307179586 * u2);
}
GALEN_HD int64_t randint(uint64_t seed, uint64_t offset, int64_t i, int64_t lo, int64_t hi) {
  const U4 r = block(offset + static_cast<uint64_t>(i), 0, seed);
  const uint64_t v = (static_cast<uint64_t>(r.x) << 32) | r.y;
  const uint64_t range = static_cast<uint64_t>(hi - lo);
  return lo + static_cast<int64_t>(v % range);
}

}  // namespace galen::kernels::philox
