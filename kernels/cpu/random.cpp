// CPU random fills. Element i depends only on (seed, offset + i) through the
// shared Philox mapping (kernels/philox.h), so any thread split gives the same
// numbers, and so does the CUDA backend.
#include <type_traits>

#include "galen/core/error.h"
#include "galen/kernels/cpu/common.h"
#include "galen/kernels/cpu/cpu_kernels.h"
#include "galen/kernels/philox.h"
#include "galen/kernels/ref/dispatch.h"

namespace galen::kernels::cpu {

using namespace dispatch;

namespace {
// A Philox block is ~40 multiplies: worth threads far earlier than a copy.
constexpr int64_t kRandomCost = 16;
}  // namespace

void random(RandomDist dist, DType dt, void* out, int64_t n, uint64_t seed, uint64_t offset,
            double a, double b) {
  if (dist == RandomDist::RandInt) {
    on_type<kNumeric>("randint", kDev, dt, [&](auto tag) {
      using T = decltype(tag);
      const auto lo = static_cast<int64_t>(a), hi = static_cast<int64_t>(b);
      GALEN_CHECK(hi > lo, "randint: empty range [", lo, ", ", hi, ")");
      T* o = static_cast<T*>(out);
      parallel_for(n, n * kRandomCost, [&](int64_t s, int64_t e) {
        for (int64_t i = s; i < e; ++i) o[i] = static_cast<T>(philox::randint(seed, offset, i, lo, hi));
      });
    });
    return;
  }
  const bool uniform = dist == RandomDist::Uniform;
  on_type<kFloat>(uniform ? "uniform" : "normal", kDev, dt, [&](auto tag) {
    using T = decltype(tag);
    constexpr bool dbl = std::is_same_v<T, double>;
    T* o = static_cast<T*>(out);
    parallel_for(n, n * kRandomCost, [&](int64_t s, int64_t e) {
      if (uniform) {
        for (int64_t i = s; i < e; ++i) o[i] = static_cast<T>(philox::uniform(seed, offset, i, dbl, a, b));
      } else {
        for (int64_t i = s; i < e; ++i) o[i] = static_cast<T>(philox::normal(seed, offset, i, a, b));
      }
    });
  });
}

}  // namespace galen::kernels::cpu
