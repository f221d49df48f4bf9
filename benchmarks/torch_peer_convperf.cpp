// LibTorch side of bench_cnn_ops.cpp (see torch_peer_convperf.h).
#include "torch_peer_convperf.h"

#include <torch/torch.h>

namespace galen_bench::torch_peer {

namespace {
// Runs f(x) and, with backward, sum(f(x) * g).backward(), dropping the grads.
std::function<void()> fwd_bwd(torch::Tensor x, std::vector<torch::Tensor> params,
                              std::function<torch::Tensor(const torch::Tensor&)> f, bool backward) {
  if (backward) {
    x.requires_grad_(true);
    for (auto& p : params) p.requires_grad_(true);
  }
  torch::Tensor g = backward ? torch::randn(f(x).sizes()) : torch::Tensor();
  return [x, params, f, g, backward]() mutable {
    torch::Tensor y = f(x);
    if (backward) {
      (y * g).sum().backward();
      x.mutable_grad() = torch::Tensor();
      for (auto& p : params) p.mutable_grad() = torch::Tensor();
    }
  };
}
}  // namespace

std::function<void()> batch_norm_train(int64_t N, int64_t C, int64_t H, int64_t W, bool backward) {
  torch::Tensor w = torch::ones({C}), b = torch::zeros({C}), rm = torch::zeros({C}), rv = torch::ones({C});
  return fwd_bwd(torch::randn({N, C, H, W}), {w, b},
                 [w, b, rm, rv](const torch::Tensor& x) { return torch::batch_norm(x, w, b, rm, rv, true, 0.1, 1e-5, false); },
                 backward);
}

std::function<void()> batch_norm_relu_train(int64_t N, int64_t C, int64_t H, int64_t W, bool backward) {
  torch::Tensor w = torch::ones({C}), b = torch::zeros({C}), rm = torch::zeros({C}), rv = torch::ones({C});
  return fwd_bwd(torch::randn({N, C, H, W}), {w, b},
                 [w, b, rm, rv](const torch::Tensor& x) {
                   return torch::relu(torch::batch_norm(x, w, b, rm, rv, true, 0.1, 1e-5, false));
                 },
                 backward);
}

std::function<void()> max_pool2d(int64_t N, int64_t C, int64_t H, int64_t W, int64_t k, int64_t s, int64_t p,
                                 bool backward) {
  return fwd_bwd(torch::randn({N, C, H, W}), {},
                 [k, s, p](const torch::Tensor& x) { return torch::max_pool2d(x, {k, k}, {s, s}, {p, p}); }, backward);
}

std::function<void()> avg_pool2d(int64_t N, int64_t C, int64_t H, int64_t W, int64_t k, int64_t s, bool backward) {
  return fwd_bwd(torch::randn({N, C, H, W}), {},
                 [k, s](const torch::Tensor& x) { return torch::avg_pool2d(x, {k, k}, {s, s}); }, backward);
}

std::function<void()> global_avg_pool(int64_t N, int64_t C, int64_t H, int64_t W, bool backward) {
  return fwd_bwd(torch::randn({N, C, H, W}), {},
                 [](const torch::Tensor& x) { return torch::adaptive_avg_pool2d(x, {1, 1}); }, backward);
}

}  // namespace galen_bench::torch_peer
