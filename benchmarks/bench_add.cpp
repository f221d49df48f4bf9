// add: out = a + b on 16M contiguous f32 (same shape, no broadcast), against
// a plain OpenMP copy loop moving the same number of bytes.
//   bytes per run = 3 * 16M * 4: read a, read b, write out.
// The peer copies 1.5 * 16M floats (1.5*16M*4 bytes read, the same written),
// so both sides move exactly 3*16M*4 bytes: the copy is the bandwidth the
// machine gives a streaming kernel, and the ratio says how close galen::add
// gets to it. galen's output is allocated inside each timed run (its real
// cost, page faults included); the copy's destination is allocated and
// touched once.
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "benches.h"
#include "galen/core/ops.h"
#include "galen/core/random.h"
#include "galen/core/tensor.h"

namespace galen_bench {

namespace {
constexpr int64_t kN = int64_t{16} << 20;  // 16M elements
}

Bench bench_add() {
  Bench b;
  b.name = "add";
  b.description = "galen::add on 16M f32 vs an OpenMP copy of equal traffic (GB/s = 3*n*4/t)";
  b.cases = [] {
    Case c;
    c.name = "16M_f32";
    c.unit = Unit::GBytes;
    c.work = 3.0 * double(kN) * sizeof(float);
    c.setup = [] {
      galen::manual_seed(0);
      galen::Tensor x = galen::randn({kN});
      galen::Tensor y = galen::randn({kN});
      {
        galen::Tensor z = galen::add(x, y);
        const float *px = x.data<float>(), *py = y.data<float>(), *pz = z.data<float>();
        for (int64_t i = 0; i < kN; i += 4097)
          if (std::abs(pz[i] - (px[i] + py[i])) > 1e-6f) {
            note("add/16M_f32: WARNING galen::add result differs from a + b at " +
                 std::to_string(i));
            break;
          }
      }
      const size_t copy_floats = size_t(kN) * 3 / 2;
      auto src = std::make_shared<std::vector<float>>(copy_floats, 1.0f);
      auto dst = std::make_shared<std::vector<float>>(copy_floats, 0.0f);
      Impl g{"galen", false, [x, y] {
               galen::Tensor z = galen::add(x, y);
               do_not_optimize(z.data_ptr());
             }, {}};
      Impl p{"omp-copy", true, [src, dst] {
               parallel_copy(dst->data(), src->data(), dst->size() * sizeof(float));
               do_not_optimize(dst->data());
             }, {}};
      return std::vector<Impl>{g, p};
    };
    return std::vector<Case>{c};
  };
  return b;
}

static Register register_add(20, bench_add);

}  // namespace galen_bench
