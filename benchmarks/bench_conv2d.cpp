// conv2d: ResNet-50 / DenseNet-121 convolutions on CPU, forward and
// forward+backward (input and weight gradients of sum(out)), galen vs LibTorch.
// "galen" is the CPU backend's default conv2d variant ("tiled", kernels/cpu/
// conv.cpp); "galen-im2col" is core's whole-image im2col + gemm fallback,
// shown so the two paths can be compared in one run.
//   GFLOP/s = 2 * N * OC * OH * OW * C * KH * KW / t for the forward; the
//   backward computes two more products of the same size, so forward+backward
//   counts 3x that.
#include <string>
#include <vector>

#include "benches.h"
#include "galen/core/ops.h"
#include "galen/core/random.h"
#include "galen/kernels/backend.h"
#include "torch_peer.h"

namespace galen_bench {

namespace {
struct Shape4 {
  const char* name;
  int64_t N, C, H, W, OC, k, stride, pad;
};
const Shape4 kShapes[] = {
    {"3x3_64to64_56x56_b8", 8, 64, 56, 56, 64, 3, 1, 1},        // ResNet-50 layer1
    {"1x1_256to64_56x56_b8", 8, 256, 56, 56, 64, 1, 1, 0},      // layer1 bottleneck in
    {"1x1_64to256_56x56_b8", 8, 64, 56, 56, 256, 1, 1, 0},      // layer1 bottleneck out
    {"3x3_128to128_28x28_b8", 8, 128, 28, 28, 128, 3, 1, 1},   // layer2
    {"3x3_256to256_14x14_b8", 8, 256, 14, 14, 256, 3, 1, 1},    // layer3
    {"3x3_512to512_7x7_b8", 8, 512, 7, 7, 512, 3, 1, 1},        // layer4
    {"1x1s2_512to1024_28x28_b8", 8, 512, 28, 28, 1024, 1, 2, 0},  // layer3 downsample
    {"7x7s2_3to64_224x224_b8", 8, 3, 224, 224, 64, 7, 2, 3},    // stem
    {"3x3_128to32_56x56_b8", 8, 128, 56, 56, 32, 3, 1, 1},      // DenseNet-121 block 1 growth conv
    {"3x3_64to64_56x56_b1", 1, 64, 56, 56, 64, 3, 1, 1},        // batch-1 inference
    {"3x3_512to512_7x7_b1", 1, 512, 7, 7, 512, 3, 1, 1},
};
}  // namespace

Bench bench_conv2d() {
  Bench b;
  b.name = "conv2d";
  b.description = "conv2d ResNet-50 / DenseNet-121 shapes, fwd and fwd+bwd, tiled and im2col paths, vs LibTorch";
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
          auto run = [x, w, s, backward]() mutable {
            galen::Tensor out = galen::conv2d(x, w, galen::Tensor(), s.stride, s.pad);
            if (backward) {
              out.sum().backward();
              x.zero_grad();
              w.zero_grad();
            }
          };
          auto variant = [](const char* v) {
            return [v] { galen::kernels::cpu_backend().set_variant("conv2d", v); };
          };
          // im2col first, so the default variant is back in place after the case.
          impls.push_back({"galen-im2col", false, run, variant("im2col")});
          impls.push_back({"galen", false, run, variant("tiled")});
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
