// CUDA graph primitives and GNN layers against the CPU on the same inputs:
// scatter sum / mean / max, segment softmax and gather_rows (forward and
// backward) under both "scatter" variants (atomic, sorted), the sorted
// variant's run-to-run determinism, whole layers moved with Module::to, and
// GraphBatch on the GPU. Tagged [cuda]; skipped without a GPU.
#include <string>
#include <vector>

#include "galen/core/graph_ops.h"
#include "galen/data/graph.h"
#include "galen/kernels/backend.h"
#include "galen/layers/gnn.h"
#include "test_util.h"

using namespace galen;

namespace {

const Device kCuda{DeviceType::CUDA, 0};

Tensor idx_t(const std::vector<int64_t>& v) { return from_vector<int64_t>(v, {static_cast<int64_t>(v.size())}); }

// Restores the CUDA "scatter" variant on scope exit.
struct ScatterVariant {
  std::string prev;
  explicit ScatterVariant(const std::string& v) {
    auto& b = kernels::backend(DeviceType::CUDA);
    prev = b.variant("scatter");
    b.set_variant("scatter", v);
  }
  ~ScatterVariant() { kernels::backend(DeviceType::CUDA).set_variant("scatter", prev); }
};

struct Shp {
  int64_t E, F, N;
};
// E = 0, one segment, empty segments, large (many blocks).
const std::vector<Shp> kShapes = {{0, 3, 4}, {5, 1, 1}, {7, 3, 10}, {37, 5, 11}, {20011, 67, 3001}};

Tensor rand_index(int64_t E, int64_t N) { return E == 0 ? from_vector<int64_t>({}, {0}) : randint(0, N, {E}); }

}  // namespace

TEST_CASE("cuda graph: scatter sum / mean / max, segment softmax, gather_rows match CPU (both variants)",
          "[cuda][graph]") {
  GALEN_REQUIRE_CUDA();
  manual_seed(3);
  for (const std::string variant : {"atomic", "sorted"}) {
    ScatterVariant sv(variant);
    for (const Shp& s : kShapes)
      for (DType dt : {DType::f32, DType::f64}) {
        INFO("variant " << variant << " E=" << s.E << " F=" << s.F << " N=" << s.N << " " << dtype_name(dt));
        const double tol = dt == DType::f64 ? 1e-12 : 1e-5;
        const Tensor src = randn({s.E, s.F}, dt), idx = rand_index(s.E, s.N), g = randn({s.N, s.F}, dt);
        using Fn = Tensor (*)(const Tensor&, const Tensor&, int64_t);
        for (Fn f : {Fn(scatter_sum), Fn(scatter_mean), Fn(scatter_max)}) {
          Tensor a = src.clone().requires_grad_(), b = src.to(kCuda).detach().requires_grad_();
          Tensor ya = f(a, idx, s.N), yb = f(b, idx.to(kCuda), s.N);
          REQUIRE(yb.device() == kCuda);
          REQUIRE_CLOSE(yb, ya, tol, tol);
          sum(mul(ya, g)).backward();
          sum(mul(yb, g.to(kCuda))).backward();
          REQUIRE_CLOSE(b.grad(), a.grad(), tol, tol);
        }
        auto [m, arg] = scatter_max_with_arg(src.to(kCuda), idx.to(kCuda), s.N);
        REQUIRE(equal(arg.cpu(), scatter_max_with_arg(src, idx, s.N).second));
        Tensor a = (src * 5.0).detach().requires_grad_(), b = (src * 5.0).to(kCuda).detach().requires_grad_();
        Tensor ya = segment_softmax(a, idx, s.N), yb = segment_softmax(b, idx.to(kCuda), s.N);
        REQUIRE_CLOSE(yb, ya, tol, tol);
        const Tensor w = randn({s.E, s.F}, dt);
        sum(mul(ya, w)).backward();
        sum(mul(yb, w.to(kCuda))).backward();
        REQUIRE_CLOSE(b.grad(), a.grad(), tol, tol);
        Tensor xa = randn({s.N, s.F}, dt).requires_grad_();
        Tensor xb = xa.detach().to(kCuda).requires_grad_();
        Tensor ga = gather_rows(xa, idx), gb = gather_rows(xb, idx.to(kCuda));
        REQUIRE_CLOSE(gb, ga, 0.0, 0.0);
        sum(mul(ga, w)).backward();
        sum(mul(gb, w.to(kCuda))).backward();
        REQUIRE_CLOSE(xb.grad(), xa.grad(), tol, tol);
      }
  }
}

TEST_CASE("cuda graph: the sorted variant is deterministic and bit-equal to the CPU in f64", "[cuda][graph]") {
  GALEN_REQUIRE_CUDA();
  ScatterVariant sv("sorted");
  manual_seed(9);
  const Tensor src = randn({50000, 32}), idx = randint(0, 500, {50000});
  const Tensor a = scatter_sum(src.to(kCuda), idx.to(kCuda), 500).cpu();
  const Tensor b = scatter_sum(src.to(kCuda), idx.to(kCuda), 500).cpu();
  REQUIRE(equal(a, b));
  const Tensor s64 = src.to(DType::f64);
  // Same rows in the same order, same double additions: identical results.
  REQUIRE(equal(scatter_sum(s64.to(kCuda), idx.to(kCuda), 500).cpu(), scatter_sum(s64, idx, 500)));
  REQUIRE(kernels::backend(DeviceType::CUDA).variants("scatter") == std::vector<std::string>{"atomic", "sorted"});
  REQUIRE_THROWS_AS(kernels::backend(DeviceType::CUDA).set_variant("scatter", "magic"), Error);
}

TEST_CASE("cuda graph: GNN layers and GraphBatch on the GPU match the CPU", "[cuda][graph][gnn]") {
  GALEN_REQUIRE_CUDA();
  manual_seed(12);
  std::vector<data::Graph> gs;
  for (int64_t n : {5, 1, 7}) {
    data::Graph g;
    g.x = randn({n, 4});
    std::vector<int64_t> s, d;
    for (int64_t i = 1; i < n; ++i) {
      s.push_back(i - 1);
      d.push_back(i);
      s.push_back(i);
      d.push_back(i - 1);
    }
    std::vector<int64_t> ei = s;
    ei.insert(ei.end(), d.begin(), d.end());
    g.edge_index = from_vector<int64_t>(ei, {2, static_cast<int64_t>(s.size())});
    g.edge_attr = randn({static_cast<int64_t>(s.size()), 3});
    gs.push_back(g);
  }
  data::GraphBatch cpu_batch = data::GraphBatch::collate(gs);
  data::GraphBatch gpu_batch = cpu_batch.to(kCuda);
  REQUIRE(gpu_batch.x().device() == kCuda);
  REQUIRE(gpu_batch.batch().device() == kCuda);
  std::vector<data::Graph> gpu_graphs;
  for (const auto& g : gs) gpu_graphs.push_back({g.x.to(kCuda), g.edge_index.to(kCuda), g.edge_attr.to(kCuda), {}});
  REQUIRE(equal(data::GraphBatch::collate(gpu_graphs).edge_index().cpu(), cpu_batch.edge_index()));
  REQUIRE(equal(gpu_batch.split()[2].edge_attr.cpu(), gs[2].edge_attr));

  nn::GCNConv gcn(4, 6);
  nn::GATConv gat(6, 3, 2);
  nn::NNConv nnc(6, 2, std::make_shared<nn::Linear>(3, 12));
  nn::GlobalAttention att(std::make_shared<nn::Linear>(2, 1));
  auto run = [&](const data::GraphBatch& b) {
    Tensor h = relu(gcn.forward(b.x(), b.edge_index()));
    h = gat.forward(h, b.edge_index());
    h = nnc.forward(h, b.edge_index(), b.edge_attr());
    return cat({att.forward(h, b.batch(), b.num_graphs()), nn::global_max_pool(h, b.batch(), b.num_graphs())}, 1);
  };
  Tensor ya = run(cpu_batch);
  sum(ya).backward();
  const Tensor g_cpu = gcn.lin->weight.grad().clone();
  for (nn::Module* m : std::vector<nn::Module*>{&gcn, &gat, &nnc, &att}) m->to(kCuda);
  Tensor yb = run(gpu_batch);
  REQUIRE(yb.device() == kCuda);
  REQUIRE_CLOSE(yb, ya, 1e-5, 1e-4);
  sum(yb).backward();
  REQUIRE_CLOSE(gcn.lin->weight.grad(), g_cpu, 1e-5, 1e-4);
}
