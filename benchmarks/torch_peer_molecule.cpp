// LibTorch side of bench_molecule.cpp (see torch_peer_molecule.h): the zoo's
// GIN-E and MPNN layer for layer in LibTorch modules, messages gathered with
// index_select and summed with index_add (mean = sum / in-degree), BatchNorm in
// training mode, the MPNN's edge network evaluated once per forward and shared
// by its T steps, exactly as galen's zoo::MPNN.
#include "torch_peer_molecule.h"

#include <torch/torch.h>

namespace galen_bench::torch_peer {

namespace {

struct Batch {
  torch::Tensor x, src, dst, ea, batch, y, inv_deg;
  int64_t N, G;
};

Batch copy_batch(const MolBatch& b) {
  Batch d;
  d.x = torch::from_blob(const_cast<float*>(b.x), {b.N, b.F}, torch::kFloat32).clone();
  torch::Tensor ei = torch::from_blob(const_cast<int64_t*>(b.edge_index), {2, b.E}, torch::kInt64).clone();
  d.src = ei[0].contiguous();
  d.dst = ei[1].contiguous();
  d.ea = torch::from_blob(const_cast<float*>(b.edge_attr), {b.E, b.D}, torch::kFloat32).clone();
  d.batch = torch::from_blob(const_cast<int64_t*>(b.batch), {b.N}, torch::kInt64).clone();
  d.y = torch::from_blob(const_cast<float*>(b.y), {b.G, 1}, torch::kFloat32).clone();
  d.N = b.N;
  d.G = b.G;
  return d;
}

torch::Tensor scatter_sum(const torch::Tensor& src, const torch::Tensor& index, int64_t n) {
  return torch::zeros({n, src.size(1)}, src.options()).index_add(0, index, src);
}

// Linear -> ReLU -> Linear.
struct Mlp2Impl : torch::nn::Module {
  torch::nn::Linear a{nullptr}, b{nullptr};
  Mlp2Impl(int64_t in, int64_t h, int64_t out) {
    a = register_module("a", torch::nn::Linear(in, h));
    b = register_module("b", torch::nn::Linear(h, out));
  }
  torch::Tensor forward(const torch::Tensor& x) { return b->forward(torch::relu(a->forward(x))); }
};
TORCH_MODULE(Mlp2);

struct GineLayerImpl : torch::nn::Module {
  torch::nn::Linear edge_lin{nullptr}, l1{nullptr}, l2{nullptr};
  torch::nn::BatchNorm1d bn_in{nullptr}, bn_out{nullptr};
  explicit GineLayerImpl(int64_t H, int64_t D) {
    edge_lin = register_module("edge_lin", torch::nn::Linear(D, H));
    l1 = register_module("l1", torch::nn::Linear(H, H));
    bn_in = register_module("bn_in", torch::nn::BatchNorm1d(H));
    l2 = register_module("l2", torch::nn::Linear(H, H));
    bn_out = register_module("bn_out", torch::nn::BatchNorm1d(H));
  }
  torch::Tensor forward(const Batch& b, const torch::Tensor& h) {
    torch::Tensor msg = torch::relu(h.index_select(0, b.src) + edge_lin->forward(b.ea));
    torch::Tensor z = scatter_sum(msg, b.dst, b.N) + h;  // (1 + eps) h, eps = 0
    z = l2->forward(torch::relu(bn_in->forward(l1->forward(z))));
    return bn_out->forward(z);
  }
};
TORCH_MODULE(GineLayer);

struct MolNet : torch::nn::Module {
  MolSpec spec;
  // GIN-E
  torch::nn::Linear encoder{nullptr};
  std::vector<GineLayer> layers;
  // MPNN
  torch::nn::Linear lin0{nullptr}, root{nullptr};
  Mlp2 edge_net{nullptr};
  torch::Tensor conv_bias;
  torch::nn::GRUCell gru{nullptr};
  Mlp2 head{nullptr};

  MolNet(const MolSpec& s, int64_t F, int64_t D) : spec(s) {
    const int64_t H = s.hidden;
    if (s.model == "gine") {
      encoder = register_module("encoder", torch::nn::Linear(F, H));
      for (int64_t l = 0; l < s.layers; ++l)
        layers.push_back(register_module("layer" + std::to_string(l), GineLayer(H, D)));
    } else {
      lin0 = register_module("lin0", torch::nn::Linear(F, H));
      edge_net = register_module("edge_net", Mlp2(D, s.edge_hidden, H * H));
      root = register_module("root", torch::nn::Linear(torch::nn::LinearOptions(H, H).bias(false)));
      conv_bias = register_parameter("conv_bias", torch::zeros({H}));
      gru = register_module("gru", torch::nn::GRUCell(H, H));
    }
    head = register_module("head", Mlp2(H, s.head_hidden, 1));
  }

  torch::Tensor forward(const Batch& b) {
    const int64_t H = spec.hidden;
    torch::Tensor h;
    if (spec.model == "gine") {
      h = encoder->forward(b.x);
      for (size_t l = 0; l < layers.size(); ++l) {
        h = layers[l]->forward(b, h);
        if (l + 1 < layers.size()) h = torch::relu(h);
      }
    } else {
      h = torch::relu(lin0->forward(b.x));
      torch::Tensor A = edge_net->forward(b.ea).view({-1, H, H});
      for (int64_t t = 0; t < spec.layers; ++t) {
        torch::Tensor msg = torch::bmm(h.index_select(0, b.src).unsqueeze(1), A).squeeze(1);
        torch::Tensor m = scatter_sum(msg, b.dst, b.N) * b.inv_deg + root->forward(h) + conv_bias;
        h = gru->forward(torch::relu(m), h);
      }
    }
    return head->forward(scatter_sum(h, b.batch, b.G));  // global_add_pool
  }
};

}  // namespace

std::function<void()> molecule_epoch(const std::vector<MolBatch>& batches, const MolSpec& spec) {
  auto data = std::make_shared<std::vector<Batch>>();
  for (const auto& b : batches) {
    Batch d = copy_batch(b);
    torch::Tensor deg = torch::zeros({d.N}).index_add(0, d.dst, torch::ones({d.src.size(0)}));
    d.inv_deg = (1.0 / deg.clamp_min(1)).unsqueeze(1);
    data->push_back(d);
  }
  const int64_t F = batches.empty() ? 1 : batches[0].F, D = batches.empty() ? 1 : batches[0].D;
  auto net = std::make_shared<MolNet>(spec, F, D);
  net->train();
  auto opt = std::make_shared<torch::optim::Adam>(net->parameters(), torch::optim::AdamOptions(1e-3));
  return [data, net, opt]() {
    for (const Batch& b : *data) {
      torch::Tensor loss = torch::mse_loss(net->forward(b), b.y);
      opt->zero_grad();
      loss.backward();
      opt->step();
    }
  };
}

}  // namespace galen_bench::torch_peer
