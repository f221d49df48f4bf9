// conv2d: ResNet-style convolutions on CPU, forward and forward+backward
// (input and weight gradients of sum(out)), galen vs LibTorch.
//   GFLOP/s = 2 * N * OC * OH * OW * C * KH * KW / t for the forward; the
//   backward computes two more products of the same size, so forward+backward
//   counts 3x that.
#include <string>
#include <vector>

#include "benches.h"
#include "galen/core/ops.h"
#include "galen/core/random.h"
#include "torch_peer.h"

namespace galen_bench {

namespace {
struct Shape4 {
  const char* name;
  int64_t N, C, H, W, OC, k, stride, pad;
};
const Shape4 kShapes[] = {
    {"3x3_64to64_56x56_b8", 8, 64, 56, 56, 64, 3, 1, 1},
    {"1x1_256to64_56x56_b8", 8, 256, 56, 56, 64, 1, 1, 0},
};
}  // namespace

Bench bench_conv2d() {
  Bench b;
  b.name = "conv2d";
  b.description = "conv2d 3x3 64->64 and 1x1 256->64 at 56x56, batch 8, fwd and fwd+bwd, vs LibTorch";
  b.cases = [] {
    std::vector<Case> cases;
    for (const Shape4& s : kShapes) {
      for (bool backward : {false, true}) {
        Case c;
        c.name = std::string(s.name) + (backward ? "_fwd_bwd" : "_fwd");
        c.unit = Unit::GFlops;
        const int64_t oh = (s.H + 2 * s.pad - s.k) / s.stride + 1, ow = (s.W + 2 * s.pad - s.k) / s.stride + 1;
        c.work = 2.0 * s.N * s.OC * oh * ow * s.C * s.k * s.k * (backward ? 3.0 : 1.0);
        c.setup = [s, backward] {
          galen::manual_seed(0);
          galen::Tensor x = galen::randn({s.N, s.C, s.H, s.W});
          galen::Tensor w = galen::randn({s.OC, s.C, s.k, s.k}) * 0.05;
          if (backward) {
            x.requires_grad_();
            w.requires_grad_();
          }
          std::vector<Impl> impls;
          impls.push_back({"galen", false, [x, w, s, backward]() mutable {
                             galen::Tensor out = galen::conv2d(x, w, galen::Tensor(), s.stride, s.pad);
                             if (backward) {
                               out.sum().backward();
                               x.zero_grad();
                               w.zero_grad();
                             }
                           }, {}});
          if (torch_peer::kBuilt)
            impls.push_back({"libtorch", true,
                             torch_peer::conv2d(s.N, s.C, s.H, s.W, s.OC, s.k, s.stride, s.pad, backward), {}});
          return impls;
        };
        cases.push_back(c);
      }
    }
    return cases;
  };
  return b;
}

static Register register_conv2d(50, bench_conv2d);

}  // namespace galen_bench
