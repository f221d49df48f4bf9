// LibTorch peer of the recurrent benches (bench_rnn.cpp): torch::nn::LSTM / GRU
// on the CPU, the same sizes and work as galen's side.
#include "torch_peer_rnn.h"

#include <torch/torch.h>

namespace galen_bench::torch_peer {

std::function<void()> rnn_layer(bool lstm, int64_t T, int64_t B, int64_t I, int64_t H, int64_t layers,
                                bool backward) {
  torch::manual_seed(0);
  torch::Tensor x = torch::randn({T, B, I});
  if (lstm) {
    auto m = torch::nn::LSTM(torch::nn::LSTMOptions(I, H).num_layers(layers));
    return [m, x, backward]() mutable {
      auto out = std::get<0>(m->forward(x));
      if (backward) {
        out.sum().backward();
        for (auto& p : m->parameters()) p.mutable_grad() = torch::Tensor();
      }
    };
  }
  auto m = torch::nn::GRU(torch::nn::GRUOptions(I, H).num_layers(layers));
  return [m, x, backward]() mutable {
    auto out = std::get<0>(m->forward(x));
    if (backward) {
      out.sum().backward();
      for (auto& p : m->parameters()) p.mutable_grad() = torch::Tensor();
    }
  };
}

}  // namespace galen_bench::torch_peer
