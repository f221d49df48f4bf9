// mnist_mlp_epoch: one training epoch of the MNIST tutorial model — Flatten,
// Linear(784,128), ReLU, Linear(128,10), cross entropy, Adam (lr 1e-3), batch
// 32 — over 60,000 images, galen vs the same model in LibTorch.
//   unit: ms per epoch (lower is better), model and optimizer created inside
//   the timed run on both sides. The images are random N(0,1) f32 of
//   MNIST's shape, identical for both sides: the cost of an epoch does not depend
//   on pixel values, and the bench then needs no data files.
#include <vector>

#include "benches.h"
#include "galen/core/ops.h"
#include "galen/core/random.h"
#include "galen/layers/layers.h"
#include "galen/optim/adam.h"
#include "torch_peer.h"

namespace galen_bench {

namespace {
constexpr int64_t kImages = 60000;
constexpr int64_t kBatch = 32;
}  // namespace

Bench bench_mnist_mlp_epoch() {
  Bench b;
  b.name = "mnist_mlp_epoch";
  b.description = "one epoch of the MNIST tutorial MLP (Adam, batch 32, 60k images), ms vs LibTorch";
  b.cases = [] {
    Case c;
    c.name = "60000x784_b32";
    c.unit = Unit::Ms;
    c.setup = [] {
      galen::manual_seed(0);
      galen::Tensor x = galen::randn({kImages, 784});
      galen::Tensor y = galen::randint(0, 10, {kImages});
      std::vector<Impl> impls;
      impls.push_back({"galen", false, [x, y]() {
                         // A fresh model each run (both sides): training the same weights
                         // run after run on random labels drifts into denormal numbers
                         // and times the FPU's slow path instead of the library.
                         auto model = std::make_shared<galen::nn::Sequential>(
                             std::vector<std::shared_ptr<galen::nn::Module>>{
                                 std::make_shared<galen::nn::Flatten>(), std::make_shared<galen::nn::Linear>(784, 128),
                                 std::make_shared<galen::nn::ReLU>(), std::make_shared<galen::nn::Linear>(128, 10)});
                         auto opt = std::make_shared<galen::optim::Adam>(model->parameters(), galen::optim::AdamOptions{});
                         for (int64_t s = 0; s + kBatch <= kImages; s += kBatch) {
                           galen::Tensor xb = x.narrow(0, s, kBatch), yb = y.narrow(0, s, kBatch);
                           opt->zero_grad();
                           galen::Tensor loss = galen::cross_entropy(model->forward(xb), yb);
                           loss.backward();
                           opt->step();
                         }
                       }, {}});
      if (torch_peer::kBuilt) {
        galen::Tensor xc = x.contiguous(), yc = y.contiguous();
        impls.push_back({"libtorch", true,
                         torch_peer::mnist_mlp_epoch(xc.data<float>(), yc.data<int64_t>(), kImages, kBatch), {}});
      } else {
        note("mnist_mlp_epoch: no LibTorch peer (galen_bench built without LibTorch)");
      }
      return impls;
    };
    return std::vector<Case>{c};
  };
  return b;
}

static Register register_mnist_mlp_epoch(60, bench_mnist_mlp_epoch);

}  // namespace galen_bench
