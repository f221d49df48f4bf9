// gnn: a molecular-property-sized GNN step on CPU — 128 random molecule-like
// graphs (~25 atoms, ~27 bonds = ~54 directed edges each: a random tree plus a
// few ring closures), 16 input features, hidden 64 — forward + backward of a
// two-layer GCN (mean readout) and a two-layer GIN (sum readout), galen vs the
// same model written in LibTorch with index_select / index_add
// (torch_peer_gnn.cpp). Unit: ms per step (lower is better); both sides use
// the same graph and compute the GCN normalisation every step.
#include <random>
#include <vector>

#include "benches.h"
#include "galen/core/ops.h"
#include "galen/core/random.h"
#include "galen/data/graph.h"
#include "galen/layers/layers.h"
#include "torch_peer.h"
#include "torch_peer_gnn.h"

namespace galen_bench {

namespace {
constexpr int64_t kGraphs = 128, kFeatures = 16, kHidden = 64;

galen::data::GraphBatch molecules() {
  std::mt19937_64 rng(17);
  std::vector<galen::data::Graph> gs;
  for (int64_t g = 0; g < kGraphs; ++g) {
    const int64_t n = std::uniform_int_distribution<int64_t>(18, 32)(rng);
    std::vector<int64_t> s, d;
    auto bond = [&](int64_t a, int64_t b) {
      s.push_back(a);
      d.push_back(b);
      s.push_back(b);
      d.push_back(a);
    };
    for (int64_t i = 1; i < n; ++i) bond(std::uniform_int_distribution<int64_t>(std::max<int64_t>(0, i - 4), i - 1)(rng), i);
    for (int r = 0; r < 2; ++r) {  // ring closures
      const int64_t a = std::uniform_int_distribution<int64_t>(0, n - 6)(rng);
      bond(a, a + 5);
    }
    galen::data::Graph gr;
    gr.x = galen::randn({n, kFeatures});
    std::vector<int64_t> ei = s;
    ei.insert(ei.end(), d.begin(), d.end());
    gr.edge_index = galen::from_vector<int64_t>(ei, {2, static_cast<int64_t>(s.size())});
    gs.push_back(gr);
  }
  return galen::data::GraphBatch::collate(gs);
}

std::shared_ptr<galen::nn::Sequential> mlp(int64_t in, int64_t h) {
  return std::make_shared<galen::nn::Sequential>(galen::nn::Sequential::List{
      std::make_shared<galen::nn::Linear>(in, h), std::make_shared<galen::nn::ReLU>(),
      std::make_shared<galen::nn::Linear>(h, h)});
}

// Host copies for the peer, kept alive by the closures.
struct HostBatch {
  galen::Tensor x, ei, batch;
  torch_peer::GnnBatch view(int64_t G) const {
    return {x.data<float>(), x.size(0), x.size(1), ei.data<int64_t>(), ei.size(1), batch.data<int64_t>(), G};
  }
};
}  // namespace

Bench bench_gnn() {
  Bench b;
  b.name = "gnn";
  b.description = "2-layer GCN and GIN fwd+bwd, 128 molecule-sized graphs, hidden 64, ms vs LibTorch index_add";
  b.cases = [] {
    std::vector<Case> cases;
    for (const char* model : {"gcn2", "gin2"}) {
      Case c;
      c.name = std::string(model) + "_128mol_h64_fwd_bwd";
      c.unit = Unit::Ms;
      const bool is_gcn = std::string(model) == "gcn2";
      c.setup = [is_gcn] {
        galen::manual_seed(0);
        galen::data::GraphBatch batch = molecules();
        std::vector<Impl> impls;
        if (is_gcn) {
          auto c1 = std::make_shared<galen::nn::GCNConv>(kFeatures, kHidden);
          auto c2 = std::make_shared<galen::nn::GCNConv>(kHidden, kHidden);
          impls.push_back({"galen", false, [batch, c1, c2]() {
                             galen::Tensor h = galen::relu(c1->forward(batch.x(), batch.edge_index()));
                             h = c2->forward(h, batch.edge_index());
                             galen::nn::global_mean_pool(h, batch.batch(), batch.num_graphs()).sum().backward();
                             c1->zero_grad();
                             c2->zero_grad();
                           }, {}});
        } else {
          auto c1 = std::make_shared<galen::nn::GINConv>(mlp(kFeatures, kHidden));
          auto c2 = std::make_shared<galen::nn::GINConv>(mlp(kHidden, kHidden));
          impls.push_back({"galen", false, [batch, c1, c2]() {
                             galen::Tensor h = galen::relu(c1->forward(batch.x(), batch.edge_index()));
                             h = c2->forward(h, batch.edge_index());
                             galen::nn::global_add_pool(h, batch.batch(), batch.num_graphs()).sum().backward();
                             c1->zero_grad();
                             c2->zero_grad();
                           }, {}});
        }
        if (torch_peer::kBuilt) {
          auto host = std::make_shared<HostBatch>(
              HostBatch{batch.x().contiguous(), batch.edge_index().contiguous(), batch.batch().contiguous()});
          auto fn = is_gcn ? torch_peer::gnn_gcn2(host->view(batch.num_graphs()), kHidden)
                           : torch_peer::gnn_gin2(host->view(batch.num_graphs()), kHidden);
          impls.push_back({"libtorch", true, [host, fn]() { fn(); }, {}});
        } else {
          note("gnn: no LibTorch peer (galen_bench built without LibTorch)");
        }
        return impls;
      };
      cases.push_back(c);
    }
    return cases;
  };
  return b;
}

static Register register_gnn(65, bench_gnn);

}  // namespace galen_bench
