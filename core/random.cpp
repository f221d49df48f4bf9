// The global Philox generator state (seed, offset). See random.h.
#include "galen/core/random.h"

#include <mutex>

#include "galen/kernels/philox.h"

namespace galen {

namespace {
std::mutex g_mu;
GeneratorState g_state{0x5eed5eedULL, 0};
}  // namespace

void manual_seed(uint64_t seed) {
  std::lock_guard<std::mutex> lock(g_mu);
  g_state = GeneratorState{seed, 0};
}

GeneratorState get_rng_state() {
  std::lock_guard<std::mutex> lock(g_mu);
  return g_state;
}

void set_rng_state(const GeneratorState& s) {
  std::lock_guard<std::mutex> lock(g_mu);
  g_state = s;
}

uint64_t rng_reserve(uint64_t n) {
  std::lock_guard<std::mutex> lock(g_mu);
  const uint64_t first = g_state.offset;
  g_state.offset += n;
  return first;
}

namespace philox {
std::array<uint32_t, 4> block(uint64_t counter_lo, uint64_t counter_hi, uint64_t key) {
  const auto r = kernels::philox::block(counter_lo, counter_hi, key);
  return {r.x, r.y, r.z, r.w};
}
}  // namespace philox

}  // namespace galen
