// autograd_overhead: what the engine costs per op when the tensors are tiny,
// so the arithmetic is nothing and the bookkeeping is everything.
//   x: 16 f32, requires_grad. y = x, then 1000 ops alternating y = y * 1.0001
//   and y = y + 0.001, then y.sum().backward(), then x's grad is dropped.
//   unit: ms per forward+backward (lower is better); with 1000 ops, the figure
//   in ms is also the cost per op (forward + its backward) in microseconds.
// Peer: the same chain on torch::Tensor, when galen_bench is built with LibTorch.
#include <string>
#include <vector>

#include "benches.h"
#include "galen/core/autograd.h"
#include "galen/core/ops.h"
#include "galen/core/random.h"
#include "galen/core/tensor.h"
#include "torch_peer.h"

namespace galen_bench {

namespace {
constexpr int kOps = 1000;
constexpr int64_t kNumel = 16;
}  // namespace

Bench bench_autograd_overhead() {
  Bench b;
  b.name = "autograd_overhead";
  b.description = "1000-op chain on 16 floats, forward+backward, ms per pass vs LibTorch";
  b.cases = [] {
    Case c;
    c.name = "chain" + std::to_string(kOps) + "_" + std::to_string(kNumel) + "f32";
    c.unit = Unit::Ms;
    c.setup = [] {
      galen::manual_seed(0);
      galen::Tensor x = galen::randn({kNumel});
      x.requires_grad_(true);
      std::vector<Impl> impls;
      impls.push_back({"galen", false, [x]() mutable {
                         galen::Tensor y = x;
                         for (int i = 0; i < kOps; ++i) y = (i % 2 == 0) ? y * 1.0001 : y + 0.001;
                         y.sum().backward();
                         x.zero_grad();  // drop .grad so every run starts alike
                       }, {}});
      if (torch_peer::kBuilt)
        impls.push_back({"libtorch", true, torch_peer::autograd_chain(kOps, kNumel), {}});
      else
        note("autograd_overhead: no LibTorch peer (galen_bench built without LibTorch)");
      return impls;
    };
    return std::vector<Case>{c};
  };
  return b;
}

static Register register_autograd_overhead(40, bench_autograd_overhead);

}  // namespace galen_bench
