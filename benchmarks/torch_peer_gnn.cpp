// LibTorch side of bench_gnn.cpp (see torch_peer_gnn.h): GCN and GIN in plain
// LibTorch, written the way PyG computes them on CPU (gather with index_select,
// aggregate with index_add / scatter_add, degree normalisation per forward).
#include "torch_peer_gnn.h"

#include <torch/torch.h>

namespace galen_bench::torch_peer {

namespace {

struct Data {
  torch::Tensor x, src, dst, batch, counts;
  int64_t N, G;
};

Data make_data(const GnnBatch& b) {
  Data d;
  d.x = torch::from_blob(const_cast<float*>(b.x), {b.N, b.F}, torch::kFloat32).clone();
  torch::Tensor ei = torch::from_blob(const_cast<int64_t*>(b.edge_index), {2, b.E}, torch::kInt64).clone();
  d.src = ei[0].contiguous();
  d.dst = ei[1].contiguous();
  d.batch = torch::from_blob(const_cast<int64_t*>(b.batch), {b.N}, torch::kInt64).clone();
  d.N = b.N;
  d.G = b.G;
  return d;
}

torch::Tensor glorot(int64_t out, int64_t in) {
  const double a = std::sqrt(6.0 / static_cast<double>(in + out));
  return torch::empty({out, in}).uniform_(-a, a).requires_grad_(true);
}

torch::Tensor scatter_sum(const torch::Tensor& src, const torch::Tensor& index, int64_t n) {
  return torch::zeros({n, src.size(1)}, src.options()).index_add(0, index, src);
}

// PyG GCNConv: x' = D^-1/2 (A + I) D^-1/2 x Wᵀ + b (add_remaining_self_loops, degree at the target).
torch::Tensor gcn(const Data& d, const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& bias) {
  torch::Tensor mask = d.src != d.dst;
  torch::Tensor loops = torch::arange(d.N, torch::kInt64);
  torch::Tensor src = torch::cat({d.src.masked_select(mask), loops});
  torch::Tensor dst = torch::cat({d.dst.masked_select(mask), loops});
  torch::Tensor ew = torch::ones({src.size(0)}, x.options());
  torch::Tensor deg = torch::zeros({d.N}, x.options()).index_add(0, dst, ew);
  torch::Tensor dinv = deg.pow(-0.5);
  dinv.masked_fill_(dinv == std::numeric_limits<float>::infinity(), 0);
  torch::Tensor norm = dinv.index_select(0, src) * ew * dinv.index_select(0, dst);
  torch::Tensor h = torch::matmul(x, w.t());
  torch::Tensor msg = h.index_select(0, src) * norm.unsqueeze(1);
  return scatter_sum(msg, dst, d.N) + bias;
}

struct Mlp {
  torch::nn::Linear a{nullptr}, b{nullptr};
  Mlp(int64_t in, int64_t h) : a(torch::nn::Linear(in, h)), b(torch::nn::Linear(h, h)) {}
  torch::Tensor operator()(const torch::Tensor& x) { return b->forward(torch::relu(a->forward(x))); }
  void drop_grads() {
    for (auto& p : a->parameters()) p.mutable_grad() = torch::Tensor();
    for (auto& p : b->parameters()) p.mutable_grad() = torch::Tensor();
  }
};

torch::Tensor gin(const Data& d, const torch::Tensor& x, Mlp& mlp) {
  torch::Tensor agg = scatter_sum(x.index_select(0, d.src), d.dst, d.N);
  return mlp(agg + x);  // (1 + eps) x with eps = 0
}

}  // namespace

std::function<void()> gnn_gcn2(const GnnBatch& b, int64_t hidden) {
  Data d = make_data(b);
  torch::Tensor w1 = glorot(hidden, b.F), b1 = torch::zeros({hidden}).requires_grad_(true);
  torch::Tensor w2 = glorot(hidden, hidden), b2 = torch::zeros({hidden}).requires_grad_(true);
  torch::Tensor counts = torch::zeros({d.G}).index_add(0, d.batch, torch::ones({d.N})).clamp_min(1).unsqueeze(1);
  return [d, w1, b1, w2, b2, counts]() mutable {
    torch::Tensor h = torch::relu(gcn(d, d.x, w1, b1));
    h = gcn(d, h, w2, b2);
    torch::Tensor pooled = scatter_sum(h, d.batch, d.G) / counts;  // global_mean_pool
    pooled.sum().backward();
    for (torch::Tensor* p : {&w1, &b1, &w2, &b2}) p->mutable_grad() = torch::Tensor();
  };
}

std::function<void()> gnn_gin2(const GnnBatch& b, int64_t hidden) {
  Data d = make_data(b);
  auto m1 = std::make_shared<Mlp>(b.F, hidden);
  auto m2 = std::make_shared<Mlp>(hidden, hidden);
  return [d, m1, m2]() mutable {
    torch::Tensor h = torch::relu(gin(d, d.x, *m1));
    h = gin(d, h, *m2);
    scatter_sum(h, d.batch, d.G).sum().backward();  // global_add_pool
    m1->drop_grads();
    m2->drop_grads();
  };
}

}  // namespace galen_bench::torch_peer
