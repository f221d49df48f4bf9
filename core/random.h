// The global random generator: counter-based Philox4x32-10. Its whole state is
// (seed, offset); every random op takes a block of counters and advances the
// offset, so manual_seed(s) makes every random op reproducible bit for bit, on
// any thread count, and a CPU and a CUDA tensor drawn from the same state hold
// the same numbers (the kernels compute element i from counter offset + i).
#pragma once

#include <array>
#include <cstdint>

namespace galen {

void manual_seed(uint64_t seed);

struct GeneratorState {
  uint64_t seed = 0;
  uint64_t offset = 0;
};
GeneratorState get_rng_state();
void set_rng_state(const GeneratorState& s);
// Reserves n counters and returns the offset of the first (for kernel authors).
uint64_t rng_reserve(uint64_t n);

namespace philox {
// One Philox4x32-10 block: 4 x u32 for counter (c0,c1,c2,c3) and key (k0,k1).
std::array<uint32_t, 4> block(uint64_t counter_lo, uint64_t counter_hi, uint64_t key);
}  // namespace philox

}  // namespace galen
