// Private Philox streams for the data pipeline (see generator.h).
#include "galen/data/generator.h"

#include <algorithm>
#include <utility>

#include "galen/core/error.h"
#include "galen/core/tensor.h"
#include "galen/kernels/philox.h"

namespace galen::data {

namespace {
thread_local Generator* t_current = nullptr;

uint64_t splitmix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}
}  // namespace

uint64_t mix_seed(uint64_t a, uint64_t b) { return splitmix(splitmix(a) ^ (b + 0x632BE59BD9B4E019ull)); }
uint64_t mix_seed(uint64_t a, uint64_t b, uint64_t c) { return mix_seed(mix_seed(a, b), c); }

double Generator::uniform() {
  const auto r = kernels::philox::block(offset_++, 0, key_);
  return kernels::philox::u01d(r.x, r.y);
}

double Generator::uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }

int64_t Generator::randint(int64_t lo, int64_t hi) {
  GALEN_CHECK(hi > lo, "Generator::randint: empty range [", lo, ", ", hi, ")");
  const auto r = kernels::philox::block(offset_++, 0, key_);
  const uint64_t v = (static_cast<uint64_t>(r.x) << 32) | r.y;
  return lo + static_cast<int64_t>(v % static_cast<uint64_t>(hi - lo));
}

Generator* current_generator() { return t_current; }

GeneratorScope::GeneratorScope(Generator* g) : prev_(t_current) { t_current = g; }
GeneratorScope::~GeneratorScope() { t_current = prev_; }

double draw_uniform(Generator* g) {
  if (!g) g = t_current;
  if (g) return g->uniform();
  return galen::rand({1}, DType::f64).item();
}

std::vector<int64_t> permutation(int64_t n, uint64_t key) {
  GALEN_CHECK(n >= 0, "permutation: n must be non-negative, got ", n);
  std::vector<int64_t> p(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) p[i] = i;
  // Same mapping as galen::randperm: element i draws u_i from counter i, and
  // the swap partner of position i is floor(u_i * (i + 1)).
  for (int64_t i = n - 1; i > 0; --i) {
    const auto r = kernels::philox::block(static_cast<uint64_t>(i), 0, key);
    const double u = kernels::philox::u01d(r.x, r.y);
    const int64_t j = std::min<int64_t>(static_cast<int64_t>(u * static_cast<double>(i + 1)), i);
    std::swap(p[i], p[j]);
  }
  return p;
}

}  // namespace galen::data
