// relu: out = max(x, 0) on 16M contiguous f32, against a plain OpenMP copy of
// the same traffic.
//   bytes per run = 2 * 16M * 4: read x, write out.
// The peer copies 16M floats (16M*4 read + 16M*4 written). As in add, galen's
// output allocation is inside the timed run; the copy's destination is not.
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

Bench bench_relu() {
  Bench b;
  b.name = "relu";
  b.description = "galen::relu on 16M f32 vs an OpenMP copy of equal traffic (GB/s = 2*n*4/t)";
  b.cases = [] {
    Case c;
    c.name = "16M_f32";
    c.unit = Unit::GBytes;
    c.work = 2.0 * double(kN) * sizeof(float);
    c.setup = [] {
      galen::manual_seed(0);
      galen::Tensor x = galen::randn({kN});  // about half negative
      {
        galen::Tensor z = galen::relu(x);
        const float *px = x.data<float>(), *pz = z.data<float>();
        for (int64_t i = 0; i < kN; i += 4097)
          if (pz[i] != (px[i] > 0.0f ? px[i] : 0.0f)) {
            note("relu/16M_f32: WARNING galen::relu result differs from max(x,0) at " +
                 std::to_string(i));
            break;
          }
      }
      auto src = std::make_shared<std::vector<float>>(size_t(kN), 1.0f);
      auto dst = std::make_shared<std::vector<float>>(size_t(kN), 0.0f);
      Impl g{"galen", false, [x] {
               galen::Tensor z = galen::relu(x);
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

static Register register_relu(30, bench_relu);

}  // namespace galen_bench
