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

std::function<void()> mnist_mlp_epoch(const float* images, const int64_t* labels, int64_t n, int64_t batch) {
  torch::Tensor x = torch::from_blob(const_cast<float*>(images), {n, 784}, torch::kFloat32).clone();
  torch::Tensor y = torch::from_blob(const_cast<int64_t*>(labels), {n}, torch::kInt64).clone();
  return [x, y, n, batch]() mutable {
    auto model = torch::nn::Sequential(torch::nn::Flatten(), torch::nn::Linear(784, 128), torch::nn::ReLU(),
                                       torch::nn::Linear(128, 10));
    auto opt = std::make_shared<torch::optim::Adam>(model->parameters(), torch::optim::AdamOptions(1e-3));
    for (int64_t s = 0; s + batch <= n; s += batch) {
      torch::Tensor xb = x.narrow(0, s, batch), yb = y.narrow(0, s, batch);
      opt->zero_grad();
      torch::Tensor loss = torch::nn::functional::cross_entropy(model->forward(xb), yb);
      loss.backward();
      opt->step();
    }
  };
}

std::function<void()> conv2d(int64_t N, int64_t C, int64_t H, int64_t W, int64_t OC, int64_t k, int64_t stride,
                             int64_t pad, bool backward) {
  torch::Tensor x = torch::randn({N, C, H, W}).requires_grad_(backward);
  torch::Tensor w = torch::randn({OC, C, k, k}).mul_(0.05).requires_grad_(backward);
  return [x, w, stride, pad, backward]() mutable {
    torch::Tensor out = torch::conv2d(x, w, {}, stride, pad);
    if (backward) {
      out.sum().backward();
      x.mutable_grad() = torch::Tensor();
      w.mutable_grad() = torch::Tensor();
    }
  };
}

}  // namespace galen_bench::torch_peer
