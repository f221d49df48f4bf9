// The LibTorch side of the benchmarks (see torch_peer.h). Built only when
// CMake finds LibTorch; it is the only file that includes torch headers.
#include "torch_peer.h"

#include <torch/torch.h>

namespace galen_bench::torch_peer {

std::string version() {
  return std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." +
         std::to_string(TORCH_VERSION_PATCH);
}

void set_num_threads(int n) { torch::set_num_threads(n); }

bool cuda_available() { return torch::cuda::is_available(); }

std::function<void()> autograd_chain(int n_ops, int64_t numel) {
  torch::Tensor x = torch::randn({numel}, torch::TensorOptions().dtype(torch::kFloat32))
                        .requires_grad_(true);
  return [x, n_ops]() mutable {
    torch::Tensor y = x;
    for (int i = 0; i < n_ops; ++i) y = (i % 2 == 0) ? y * 1.0001 : y + 0.001;
    y.sum().backward();
    x.mutable_grad() = torch::Tensor();  // like galen's zero_grad(): drop, don't zero
  };
}

std::function<void()> cuda_matmul(int64_t M, int64_t N, int64_t K) {
  auto opts = torch::TensorOptions().dtype(torch::kFloat32).device(torch::kCUDA);
  torch::Tensor a = torch::randn({M, K}, opts);
  torch::Tensor b = torch::randn({K, N}, opts);
  return [a, b]() {
    torch::Tensor c = torch::matmul(a, b);
    torch::cuda::synchronize();
  };
}

}  // namespace galen_bench::torch_peer
