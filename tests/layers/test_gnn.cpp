// GNN layers (layers/gnn.h) and GraphBatch (data/graph.h): parity with the
// reference formulas of PyTorch Geometric's layers (tests/fixtures/gnn_parity.safetensors,
// made by tools/make_gnn_fixtures.py in plain torch), f64 gradchecks, permutation
// equivariance / invariance, batching = per-graph results, and bad-graph errors.
#include <algorithm>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "test_util.h"

#include "galen/core/graph_ops.h"
#include "galen/core/json.h"
#include "galen/data/graph.h"
#include "galen/layers/gnn.h"
#include "galen/layers/init.h"

using namespace galen;
using data::Graph;
using data::GraphBatch;

namespace {

const SafetensorsFile& fixture() {
  static const SafetensorsFile f = load_safetensors(std::string(GALEN_FIXTURES_DIR) + "/gnn_parity.safetensors");
  return f;
}
Tensor fx(const std::string& key) {
  auto it = fixture().tensors.find(key);
  INFO("fixture key " << key);
  REQUIRE(it != fixture().tensors.end());
  return it->second;
}
bool has(const std::string& key) { return fixture().tensors.count(key) > 0; }

std::shared_ptr<nn::Sequential> mlp(const std::vector<int64_t>& dims) {
  auto s = std::make_shared<nn::Sequential>();
  for (size_t k = 0; k + 1 < dims.size(); ++k) {
    s->push_back(std::make_shared<nn::Linear>(dims[k], dims[k + 1]));
    if (k + 2 < dims.size()) s->push_back(std::make_shared<nn::ReLU>());
  }
  return s;
}

Tensor idx_t(const std::vector<int64_t>& v) { return from_vector<int64_t>(v, {static_cast<int64_t>(v.size())}); }
Tensor edges(const std::vector<int64_t>& src, const std::vector<int64_t>& dst) {
  std::vector<int64_t> v = src;
  v.insert(v.end(), dst.begin(), dst.end());
  return from_vector<int64_t>(v, {2, static_cast<int64_t>(src.size())});
}

// A layer under test: the module (may be null for the pooling functions) and its forward.
struct LayerUnderTest {
  std::shared_ptr<nn::Module> module;
  std::function<Tensor(const Tensor& x, const Tensor& ei, const Tensor& ea, const Tensor& ew, const Tensor& batch)> fwd;
};

bool flag(const json::Value& meta, const char* key, bool dflt) {
  const json::Value* v = meta.find(key);
  return v != nullptr ? v->as_bool() : dflt;
}

LayerUnderTest make_layer(const json::Value& meta, int64_t num_graphs) {
  const std::string layer = meta.find("layer")->as_string();
  const json::Value* oc = meta.find("out_channels");
  const int64_t out = oc != nullptr ? oc->as_int() : 0;
  const json::Value* ag = meta.find("aggr");
  const std::string aggr = ag != nullptr ? ag->as_string() : "add";
  LayerUnderTest t;
  if (layer == "GCNConv") {
    auto m = std::make_shared<nn::GCNConv>(5, out, flag(meta, "add_self_loops", true));
    t.module = m;
    t.fwd = [m](auto& x, auto& ei, auto&, auto& ew, auto&) { return m->forward(x, ei, ew); };
  } else if (layer == "GraphConv") {
    auto m = std::make_shared<nn::GraphConv>(5, out, aggr);
    t.module = m;
    t.fwd = [m](auto& x, auto& ei, auto&, auto& ew, auto&) { return m->forward(x, ei, ew); };
  } else if (layer == "SAGEConv") {
    auto m = std::make_shared<nn::SAGEConv>(5, out, "mean", true, flag(meta, "normalize", false));
    t.module = m;
    t.fwd = [m](auto& x, auto& ei, auto&, auto&, auto&) { return m->forward(x, ei); };
  } else if (layer == "GINConv") {
    const json::Value* e = meta.find("eps");
    auto m = std::make_shared<nn::GINConv>(mlp({5, 8, 6}), e != nullptr ? e->as_double() : 0.0,
                                           flag(meta, "train_eps", false));
    t.module = m;
    t.fwd = [m](auto& x, auto& ei, auto&, auto&, auto&) { return m->forward(x, ei); };
  } else if (layer == "GINEConv") {
    auto m = std::make_shared<nn::GINEConv>(mlp({5, 8, 6}), 5, meta.find("edge_dim")->as_int(),
                                            meta.find("eps")->as_double());
    t.module = m;
    t.fwd = [m](auto& x, auto& ei, auto& ea, auto&, auto&) { return m->forward(x, ei, ea); };
  } else if (layer == "GATConv") {
    auto m = std::make_shared<nn::GATConv>(5, out, meta.find("heads")->as_int(), flag(meta, "concat", true));
    t.module = m;
    t.fwd = [m](auto& x, auto& ei, auto&, auto&, auto&) { return m->forward(x, ei); };
  } else if (layer == "NNConv") {
    auto m = std::make_shared<nn::NNConv>(5, out, mlp({3, 6, 5 * out}), aggr);
    t.module = m;
    t.fwd = [m](auto& x, auto& ei, auto& ea, auto&, auto&) { return m->forward(x, ei, ea); };
  } else if (layer == "global_add_pool") {
    t.fwd = [num_graphs](auto& x, auto&, auto&, auto&, auto& b) { return nn::global_add_pool(x, b, num_graphs); };
  } else if (layer == "global_mean_pool") {
    t.fwd = [num_graphs](auto& x, auto&, auto&, auto&, auto& b) { return nn::global_mean_pool(x, b, num_graphs); };
  } else if (layer == "global_max_pool") {
    t.fwd = [num_graphs](auto& x, auto&, auto&, auto&, auto& b) { return nn::global_max_pool(x, b, num_graphs); };
  } else if (layer == "GlobalAttention") {
    auto m = std::make_shared<nn::GlobalAttention>(std::make_shared<nn::Linear>(5, 1), std::make_shared<nn::Linear>(5, 4));
    t.module = m;
    t.fwd = [m, num_graphs](auto& x, auto&, auto&, auto&, auto& b) { return m->forward(x, b, num_graphs); };
  } else {
    FAIL("unknown layer " << layer);
  }
  if (t.module) t.module->eval();
  return t;
}

int64_t fixture_num_graphs() {
  return json::parse(fixture().metadata.at("__format__")).find("num_graphs")->as_int();
}

}  // namespace

TEST_CASE("gnn layers: parity with PyG's formulas (outputs, input and parameter gradients; f64, f32)",
          "[layers][gnn][parity]") {
  const int64_t G = fixture_num_graphs();
  int n_cases = 0;
  for (const auto& [name, text] : fixture().metadata) {
    if (name.rfind("__", 0) == 0) continue;
    const json::Value meta = json::parse(text);
    if (meta.find("layer") == nullptr) continue;
    for (DType dt : {DType::f64, DType::f32}) {
      INFO("case " << name << " in " << dtype_name(dt));
      const double tol = dt == DType::f64 ? 1e-10 : 2e-5;
      LayerUnderTest t = make_layer(meta, G);
      nn::StateDict sd;
      const std::string pre = name + ".p.";
      for (const auto& [key, v] : fixture().tensors)
        if (key.rfind(pre, 0) == 0) sd[key.substr(pre.size())] = v;
      if (t.module) {
        t.module->to(dt);
        t.module->load_state_dict(sd, true);
      } else {
        REQUIRE(sd.empty());
      }
      Tensor x = fx("graph.x").to(dt).detach().clone().requires_grad_();
      Tensor ea = fx("graph.edge_attr").to(dt).detach().clone().requires_grad_();
      Tensor ew = fx("graph.edge_weight").to(dt).detach().clone().requires_grad_();
      const bool use_ea = meta.find("use_edge_attr")->as_bool(), use_ew = meta.find("use_edge_weight")->as_bool();
      Tensor out = t.fwd(x, fx("graph.edge_index"), use_ea ? ea : Tensor(), use_ew ? ew : Tensor(), fx("graph.batch"));
      REQUIRE_CLOSE(out, fx(name + ".out"), tol, tol);
      sum(mul(out, fx(name + ".w").to(dt))).backward();
      REQUIRE_CLOSE(x.grad(), fx(name + ".gx"), tol, tol);
      if (use_ea) REQUIRE_CLOSE(ea.grad(), fx(name + ".gea"), tol, tol);
      if (use_ew) REQUIRE_CLOSE(ew.grad(), fx(name + ".gew"), tol, tol);
      if (t.module)
        for (const auto& [key, p] : t.module->named_parameters()) {
          INFO("parameter " << key);
          REQUIRE(has(name + ".g." + key));
          REQUIRE(p.grad().defined());
          REQUIRE_CLOSE(p.grad(), fx(name + ".g." + key), tol, tol);
        }
    }
    ++n_cases;
  }
  REQUIRE(n_cases >= 19);
}

TEST_CASE("gnn layers: PyG parameter names and shapes", "[layers][gnn]") {
  auto keys = [](const nn::Module& m) {
    std::vector<std::string> k;
    for (const auto& [name, t] : m.state_dict()) k.push_back(name + shape_str(t.sizes()));
    return k;
  };
  using V = std::vector<std::string>;
  REQUIRE(keys(nn::GCNConv(4, 3)) == V{"bias[3]", "lin.weight[3, 4]"});
  REQUIRE(keys(nn::GATConv(4, 3, 2)) == V{"att_dst[1, 2, 3]", "att_src[1, 2, 3]", "bias[6]", "lin.weight[6, 4]"});
  REQUIRE(keys(nn::GATConv(4, 3, 2, false)) == V{"att_dst[1, 2, 3]", "att_src[1, 2, 3]", "bias[3]", "lin.weight[6, 4]"});
  REQUIRE(keys(nn::GraphConv(4, 3)) == V{"lin_rel.bias[3]", "lin_rel.weight[3, 4]", "lin_root.weight[3, 4]"});
  REQUIRE(keys(nn::SAGEConv(4, 3)) == V{"lin_l.bias[3]", "lin_l.weight[3, 4]", "lin_r.weight[3, 4]"});
  REQUIRE(keys(nn::GINConv(mlp({4, 3}))) == V{"eps[1]", "nn.0.bias[3]", "nn.0.weight[3, 4]"});
  REQUIRE(nn::GINConv(mlp({4, 3}), 0.5, true).named_parameters().size() == 3);  // eps trainable
  REQUIRE(nn::GINConv(mlp({4, 3}), 0.5, false).named_parameters().size() == 2);
  REQUIRE(keys(nn::NNConv(2, 3, mlp({4, 6}))) == V{"bias[3]", "lin.weight[3, 2]", "nn.0.bias[6]", "nn.0.weight[6, 4]"});
  REQUIRE(nn::GCNConv(4, 3).repr().rfind("GCNConv(\n  4, 3\n", 0) == 0);
  REQUIRE(nn::GATConv(4, 3, 2).repr().rfind("GATConv(\n  4, 3, heads=2\n", 0) == 0);
}

// ---- gradchecks ------------------------------------------------------------------------------

namespace {
struct SmallGraph {
  Tensor x, ei, ea, ew, batch;
};
// Two graphs: a triangle with a self-loop and a duplicate edge (nodes 0-2), an isolated node 3,
// and a path 4-5; edges in no particular order.
SmallGraph small_graph(DType dt = DType::f64) {
  manual_seed(5);
  SmallGraph g;
  g.ei = edges({1, 0, 2, 1, 0, 2, 2, 4, 5, 0}, {0, 1, 1, 2, 2, 0, 2, 5, 4, 1});
  g.x = randn({6, 3}, dt);
  g.ea = randn({10, 2}, dt);
  g.ew = add(rand({10}, dt), 0.5);
  g.batch = idx_t({0, 0, 0, 0, 1, 1});
  return g;
}
void expect_gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f, const std::vector<Tensor>& in) {
  auto r = gradcheck(f, in);
  INFO(r.message);
  REQUIRE(r.ok);
}
}  // namespace

TEST_CASE("gnn layers: f64 gradchecks w.r.t. node features, edge attributes and edge weights",
          "[layers][gnn][gradcheck]") {
  SmallGraph g = small_graph();
  Tensor x = g.x.requires_grad_(), ea = g.ea.requires_grad_(), ew = g.ew.requires_grad_();
  auto gcn = std::make_shared<nn::GCNConv>(3, 4);
  gcn->to(DType::f64);
  expect_gradcheck([&](const std::vector<Tensor>& v) { return gcn->forward(v[0], g.ei, v[1]); }, {x, ew});
  auto gc = std::make_shared<nn::GraphConv>(3, 4, "max");
  gc->to(DType::f64);
  expect_gradcheck([&](const std::vector<Tensor>& v) { return gc->forward(v[0], g.ei, v[1]); }, {x, ew});
  auto sage = std::make_shared<nn::SAGEConv>(3, 4, "mean", true, true);
  sage->to(DType::f64);
  expect_gradcheck([&](const std::vector<Tensor>& v) { return sage->forward(v[0], g.ei); }, {x});
  auto gin = std::make_shared<nn::GINConv>(mlp({3, 5, 2}), 0.1, true);
  gin->to(DType::f64);
  expect_gradcheck([&](const std::vector<Tensor>& v) { return gin->forward(v[0], g.ei); }, {x});
  auto gine = std::make_shared<nn::GINEConv>(mlp({3, 5, 2}), 3, 2);
  gine->to(DType::f64);
  expect_gradcheck([&](const std::vector<Tensor>& v) { return gine->forward(v[0], g.ei, v[1]); }, {x, ea});
  auto gat = std::make_shared<nn::GATConv>(3, 2, 3);
  gat->to(DType::f64);
  expect_gradcheck([&](const std::vector<Tensor>& v) { return gat->forward(v[0], g.ei); }, {x});
  auto nnc = std::make_shared<nn::NNConv>(3, 2, mlp({2, 4, 6}), "mean");
  nnc->to(DType::f64);
  expect_gradcheck([&](const std::vector<Tensor>& v) { return nnc->forward(v[0], g.ei, v[1]); }, {x, ea});
  auto att = std::make_shared<nn::GlobalAttention>(mlp({3, 1}), mlp({3, 2}));
  att->to(DType::f64);
  expect_gradcheck([&](const std::vector<Tensor>& v) { return att->forward(v[0], g.batch, 3); }, {x});
  expect_gradcheck([&](const std::vector<Tensor>& v) { return nn::global_max_pool(v[0], g.batch, 2); }, {x});
  expect_gradcheck([&](const std::vector<Tensor>& v) { return nn::global_mean_pool(v[0], g.batch, 3); }, {x});
}

// ---- permutation equivariance / invariance ----------------------------------------------------

TEST_CASE("gnn layers: node outputs are permutation-equivariant, pooled outputs invariant", "[layers][gnn]") {
  SmallGraph g = small_graph();
  const int64_t N = g.x.size(0), E = g.ei.size(1);
  std::mt19937_64 rng(99);
  std::vector<int64_t> pi(static_cast<size_t>(N)), eperm(static_cast<size_t>(E));
  std::iota(pi.begin(), pi.end(), 0);
  std::iota(eperm.begin(), eperm.end(), 0);
  std::shuffle(pi.begin(), pi.end(), rng);  // old node i -> new node pi[i]
  std::shuffle(eperm.begin(), eperm.end(), rng);
  std::vector<int64_t> inv(static_cast<size_t>(N));
  for (int64_t i = 0; i < N; ++i) inv[static_cast<size_t>(pi[static_cast<size_t>(i)])] = i;
  const Tensor inv_t = idx_t(inv), ep_t = idx_t(eperm);
  const std::vector<int64_t> e = g.ei.contiguous().to_vector<int64_t>();
  std::vector<int64_t> s2, d2;
  for (int64_t k : eperm) {
    s2.push_back(pi[static_cast<size_t>(e[static_cast<size_t>(k)])]);
    d2.push_back(pi[static_cast<size_t>(e[static_cast<size_t>(E + k)])]);
  }
  const Tensor x2 = gather_rows(g.x, inv_t), ei2 = edges(s2, d2), ea2 = gather_rows(g.ea, ep_t),
               ew2 = gather_rows(g.ew, ep_t), b2 = gather_rows(g.batch, inv_t);

  std::vector<std::pair<std::string, std::function<Tensor(const Tensor&, const Tensor&, const Tensor&, const Tensor&)>>>
      layers;
  auto gcn = std::make_shared<nn::GCNConv>(3, 4);
  auto gc = std::make_shared<nn::GraphConv>(3, 4, "max");
  auto sage = std::make_shared<nn::SAGEConv>(3, 4);
  auto gin = std::make_shared<nn::GINConv>(mlp({3, 5, 2}), 0.3, true);
  auto gine = std::make_shared<nn::GINEConv>(mlp({3, 5, 2}), 3, 2);
  auto gat = std::make_shared<nn::GATConv>(3, 2, 2);
  auto nnc = std::make_shared<nn::NNConv>(3, 2, mlp({2, 4, 6}));
  for (nn::Module* m : std::vector<nn::Module*>{gcn.get(), gc.get(), sage.get(), gin.get(), gine.get(), gat.get(), nnc.get()})
    m->to(DType::f64);
  layers.push_back({"GCNConv", [&](auto& x, auto& ei, auto&, auto& ew) { return gcn->forward(x, ei, ew); }});
  layers.push_back({"GraphConv", [&](auto& x, auto& ei, auto&, auto& ew) { return gc->forward(x, ei, ew); }});
  layers.push_back({"SAGEConv", [&](auto& x, auto& ei, auto&, auto&) { return sage->forward(x, ei); }});
  layers.push_back({"GINConv", [&](auto& x, auto& ei, auto&, auto&) { return gin->forward(x, ei); }});
  layers.push_back({"GINEConv", [&](auto& x, auto& ei, auto& ea, auto&) { return gine->forward(x, ei, ea); }});
  layers.push_back({"GATConv", [&](auto& x, auto& ei, auto&, auto&) { return gat->forward(x, ei); }});
  layers.push_back({"NNConv", [&](auto& x, auto& ei, auto& ea, auto&) { return nnc->forward(x, ei, ea); }});
  for (auto& [name, f] : layers) {
    INFO(name);
    Tensor y = f(g.x, g.ei, g.ea, g.ew);
    Tensor y2 = f(x2, ei2, ea2, ew2);
    REQUIRE_CLOSE(y2, gather_rows(y, inv_t), 1e-12, 1e-10);  // new node j is old node inv[j]
    // Pooled outputs do not depend on the numbering.
    REQUIRE_CLOSE(nn::global_add_pool(y2, b2, 2), nn::global_add_pool(y, g.batch, 2), 1e-12, 1e-10);
    REQUIRE_CLOSE(nn::global_mean_pool(y2, b2, 2), nn::global_mean_pool(y, g.batch, 2), 1e-12, 1e-10);
    REQUIRE_CLOSE(nn::global_max_pool(y2, b2, 2), nn::global_max_pool(y, g.batch, 2), 1e-12, 1e-10);
  }
  auto att = std::make_shared<nn::GlobalAttention>(mlp({3, 1}), mlp({3, 2}));
  att->to(DType::f64);
  REQUIRE_CLOSE(att->forward(x2, b2, 2), att->forward(g.x, g.batch, 2), 1e-12, 1e-10);
}

// ---- GraphBatch ------------------------------------------------------------------------------

namespace {
// A molecule-like graph as the SMILES parser produces it: x (n, 4) f32, bonds both ways, edge_attr (E, 2).
Graph molecule(int64_t n, const std::vector<std::pair<int64_t, int64_t>>& bonds, float tag) {
  Graph g;
  g.x = add(randn({n, 4}), static_cast<double>(tag));
  std::vector<int64_t> s, d;
  for (auto [a, b] : bonds) {
    s.push_back(a);
    d.push_back(b);
    s.push_back(b);
    d.push_back(a);
  }
  g.edge_index = edges(s, d);
  g.edge_attr = randn({static_cast<int64_t>(s.size()), 2});
  g.y = from_vector<float>({tag, -tag}, {2});
  return g;
}
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}
}  // namespace

TEST_CASE("GraphBatch: collate offsets edges and fills batch; split inverts it", "[data][graph]") {
  manual_seed(3);
  std::vector<Graph> gs = {molecule(3, {{0, 1}, {1, 2}}, 1.f), molecule(1, {}, 2.f),  // single atom: no edges
                           molecule(4, {{0, 1}, {2, 3}}, 3.f)};                       // two fragments
  // Self-loop and duplicate bond are legal.
  gs[2].edge_index = cat({gs[2].edge_index, edges({3, 0}, {3, 1})}, 1);
  gs[2].edge_attr = cat({gs[2].edge_attr, randn({2, 2})}, 0);
  GraphBatch b = GraphBatch::collate(gs);
  REQUIRE(b.num_graphs() == 3);
  REQUIRE(b.num_nodes() == 8);
  REQUIRE(b.num_edges() == 4 + 0 + 6);
  REQUIRE(b.node_ptr() == std::vector<int64_t>{0, 3, 4, 8});
  REQUIRE(b.batch().to_vector<int64_t>() == std::vector<int64_t>{0, 0, 0, 1, 2, 2, 2, 2});
  REQUIRE(b.edge_index().to_vector<int64_t>() ==
          std::vector<int64_t>{0, 1, 1, 2, 4, 5, 6, 7, 7, 4, 1, 0, 2, 1, 5, 4, 7, 6, 7, 5});
  REQUIRE(b.edge_attr().sizes() == Shape{10, 2});
  REQUIRE(b.y().sizes() == Shape{3, 2});
  REQUIRE(b.source().to_vector<int64_t>()[4] == 4);
  std::vector<Graph> back = b.split();
  REQUIRE(back.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    INFO("graph " << i);
    REQUIRE(equal(back[i].x, gs[i].x));
    REQUIRE(equal(back[i].edge_index, gs[i].edge_index));
    REQUIRE(equal(back[i].edge_attr, gs[i].edge_attr));
    REQUIRE(equal(back[i].y, gs[i].y));
  }
  GraphBatch c = b.to(Device{});
  REQUIRE(c.num_graphs() == 3);
  REQUIRE(equal(c.x(), b.x()));
  // Without edge_attr and y.
  std::vector<Graph> plain = {gs[0], gs[1]};
  for (auto& g : plain) {
    g.edge_attr = Tensor();
    g.y = Tensor();
  }
  GraphBatch p = GraphBatch::collate(plain);
  REQUIRE(!p.edge_attr().defined());
  REQUIRE(p.split()[1].edge_index.sizes() == Shape{2, 0});
  // From tensors: default batch = one graph; explicit num_graphs leaves trailing graphs empty.
  GraphBatch one(b.x(), b.edge_index());
  REQUIRE(one.num_graphs() == 1);
  GraphBatch five(b.x(), b.edge_index(), b.edge_attr(), b.batch(), 5);
  REQUIRE(five.node_ptr() == std::vector<int64_t>{0, 3, 4, 8, 8, 8});
  REQUIRE(five.split()[4].x.sizes() == Shape{0, 4});
}

TEST_CASE("GraphBatch: a model on the batch equals the model on each graph", "[data][graph][layers][gnn]") {
  manual_seed(8);
  std::vector<Graph> gs = {molecule(5, {{0, 1}, {1, 2}, {2, 3}, {3, 4}, {4, 0}}, 0.f), molecule(1, {}, 1.f),
                           molecule(3, {{0, 1}, {0, 2}}, -1.f)};
  GraphBatch b = GraphBatch::collate(gs);
  nn::GCNConv gcn(4, 3);
  nn::GINEConv gine(mlp({4, 6, 3}), 4, 2);
  nn::GATConv gat(4, 3, 2);
  nn::NNConv nnc(4, 2, mlp({2, 8}), "mean");
  auto model = [&](const Tensor& x, const Tensor& ei, const Tensor& ea, const Tensor& batch, int64_t G) {
    Tensor h = cat({relu(gcn.forward(x, ei)), gine.forward(x, ei, ea), gat.forward(x, ei), nnc.forward(x, ei, ea)}, 1);
    return cat({nn::global_mean_pool(h, batch, G), nn::global_max_pool(h, batch, G), nn::global_add_pool(h, batch, G)},
               1);
  };
  Tensor all = model(b.x(), b.edge_index(), b.edge_attr(), b.batch(), b.num_graphs());
  REQUIRE(all.sizes() == Shape{3, 3 * (3 + 3 + 6 + 2)});
  for (size_t i = 0; i < gs.size(); ++i) {
    INFO("graph " << i);
    Tensor one = model(gs[i].x, gs[i].edge_index, gs[i].edge_attr, Tensor(), 1);
    REQUIRE_CLOSE(one, all.narrow(0, static_cast<int64_t>(i), 1), 1e-5, 1e-5);
  }
}

TEST_CASE("GraphBatch: bad graphs are errors that say what and where", "[data][graph][errors]") {
  manual_seed(4);
  Graph g = molecule(3, {{0, 1}, {1, 2}}, 0.f);
  auto with_edges = [&](const std::vector<int64_t>& s, const std::vector<int64_t>& d) {
    Graph h = g;
    h.edge_index = edges(s, d);
    h.edge_attr = randn({static_cast<int64_t>(s.size()), 2});
    return h;
  };
  auto has = [](const std::string& msg, const std::string& part) {
    INFO(msg);
    REQUIRE(msg.find(part) != std::string::npos);
  };
  has(error_of([&] { GraphBatch::collate({g, with_edges({0, 3}, {1, 0})}); }),
      "graph 1: edge_index[0, 1] = 3 is out of range for 3 nodes");
  has(error_of([&] { GraphBatch::collate({with_edges({0, 1}, {-1, 0})}); }), "edge_index[1, 0] = -1 is negative");
  Graph bad_attr = g;
  bad_attr.edge_attr = randn({3, 2});
  has(error_of([&] { GraphBatch::collate({g, bad_attr}); }), "edge_attr has 3 rows but edge_index has 4 edges");
  Graph no_attr = g;
  no_attr.edge_attr = Tensor();
  has(error_of([&] { GraphBatch::collate({g, no_attr}); }), "graph 1 has no edge_attr");
  Graph wide = g;
  wide.x = randn({3, 5});
  has(error_of([&] { GraphBatch::collate({g, wide}); }), "graph 1 has 5 node features, graph 0 has 4");
  Graph i32 = g;
  i32.edge_index = g.edge_index.to(DType::i32);
  has(error_of([&] { GraphBatch::collate({i32}); }), "edge_index must be i64");
  Graph flat = g;
  flat.edge_index = g.edge_index.reshape({-1});
  has(error_of([&] { GraphBatch::collate({flat}); }), "edge_index must have shape (2, num_edges)");
  has(error_of([&] { GraphBatch::collate({}); }), "no graphs");
  // From tensors: batch unsorted / out of range / wrong length.
  Tensor x = randn({4, 2}), ei = edges({0, 1}, {1, 3});
  has(error_of([&] { GraphBatch(x, ei, Tensor(), idx_t({0, 1, 0, 1})); }),
      "batch is not sorted: batch[2] = 0 follows batch[1] = 1");
  has(error_of([&] { GraphBatch(x, ei, Tensor(), idx_t({0, 0, 1, 2}), 2); }), "batch[3] = 2 is out of range for 2 graphs");
  has(error_of([&] { GraphBatch(x, ei, Tensor(), idx_t({0, -1, 1, 1})); }), "batch[1] = -1 is negative");
  has(error_of([&] { GraphBatch(x, ei, Tensor(), idx_t({0, 0, 1})); }), "batch must have shape (4)");
  has(error_of([&] { GraphBatch(x, ei, randn({3, 1})); }), "edge_attr has 3 rows but edge_index has 2 edges");
  has(error_of([&] { GraphBatch(x, edges({0, 4}, {1, 1})); }), "edge_index[0, 1] = 4 is out of range for 4 nodes");
  has(error_of([&] { GraphBatch(x.to(DType::i64), ei); }), "x must be floating");
  has(error_of([&] { GraphBatch(x, ei, Tensor(), idx_t({0, 0, 1, 1}), -1, randn({3})); }), "y must have one row per graph");
  // An edge joining two graphs cannot be split.
  GraphBatch cross(x, edges({0, 1}, {3, 0}), Tensor(), idx_t({0, 0, 1, 1}));
  has(error_of([&] { cross.split(); }), "edge 0 joins node 0 (graph 0) to node 3 (graph 1)");
}

TEST_CASE("gnn layers: bad inputs are errors naming the layer", "[layers][gnn][errors]") {
  SmallGraph g = small_graph(DType::f32);
  auto has = [](const std::string& msg, const std::string& part) {
    INFO(msg);
    REQUIRE(msg.find(part) != std::string::npos);
  };
  nn::GCNConv gcn(3, 2);
  has(error_of([&] { gcn.forward(randn({6, 4}), g.ei); }), "GCNConv: x has 4 features, expected 3");
  has(error_of([&] { gcn.forward(g.x, g.ei.reshape({-1})); }), "GCNConv: edge_index must have shape (2, num_edges)");
  has(error_of([&] { gcn.forward(g.x, edges({0, 7}, {1, 1})); }), "out of range");
  has(error_of([&] { gcn.forward(g.x, g.ei, ones({3})); }), "edge_weight must have one row per edge (10)");
  nn::GINEConv gine(mlp({3, 2}), 3);
  has(error_of([&] { gine.forward(g.x, g.ei, g.ea); }), "GINEConv: edge features must have 3 columns");
  nn::NNConv nnc(3, 2, mlp({2, 5}));
  has(error_of([&] { nnc.forward(g.x, g.ei, g.ea); }), "NNConv: nn must map edge_attr to (10, 6)");
  has(error_of([&] { nn::GraphConv(3, 2, "median"); }), "unknown aggregation 'median'");
  has(error_of([&] { nn::global_add_pool(g.x, idx_t({0, 1})); }), "global_add_pool: batch must have shape (6)");
  nn::GlobalAttention att(mlp({3, 2}));
  has(error_of([&] { att.forward(g.x, g.batch); }), "gate_nn must map x to (num_nodes, 1)");
}

TEST_CASE("gnn layers: graphs without edges, isolated nodes, GAT attention and dropout", "[layers][gnn]") {
  manual_seed(21);
  const Tensor x = randn({4, 3});
  const Tensor none = from_vector<int64_t>({}, {2, 0});
  // No edges: GCN sees only self-loops (weight 1, degree 1): lin(x) + bias.
  nn::GCNConv gcn(3, 2);
  REQUIRE_CLOSE(gcn.forward(x, none), add(linear(x, gcn.lin->weight), gcn.bias), 1e-6, 1e-6);
  nn::GCNConv bare(3, 2, false);
  REQUIRE_CLOSE(bare.forward(x, none), add(zeros({4, 2}), bare.bias), 0.0, 0.0);  // nothing flows in
  nn::SAGEConv sage(3, 2);
  REQUIRE_CLOSE(sage.forward(x, none), add(sage.lin_r->forward(x), sage.lin_l->bias), 1e-6, 1e-6);
  nn::NNConv nnc(3, 2, mlp({2, 6}));
  REQUIRE(nnc.forward(x, none, zeros({0, 2})).sizes() == Shape{4, 2});
  nn::GINEConv gine(mlp({3, 2}), 3, 2);
  REQUIRE(gine.forward(x, none, zeros({0, 2})).sizes() == Shape{4, 2});
  // GAT: attention over each node's incoming edges (self-loop included) sums to 1.
  nn::GATConv gat(3, 2, 3, true, 0.2, 0.5);
  SmallGraph g = small_graph(DType::f32);
  gat.eval();
  auto [out, att] = gat.forward_with_attention(g.x, g.ei);
  const Tensor& ei = att.first;
  const Tensor& alpha = att.second;
  REQUIRE(ei.size(1) == 10 - 1 + 6);  // one self-loop removed, six added
  REQUIRE(alpha.sizes() == Shape{15, 3});
  REQUIRE_CLOSE(scatter_sum(alpha, ei.select(0, 1), 6), ones({6, 3}), 1e-6, 1e-6);
  // Training mode: dropout on the attention changes the output; dropout 1 leaves only the bias.
  gat.train();
  manual_seed(1);
  REQUIRE(!allclose(gat.forward(g.x, g.ei), out));
  nn::GATConv drop_all(3, 2, 3, false, 0.2, 1.0);
  nn::init::normal_(drop_all.bias);
  REQUIRE_CLOSE(drop_all.forward(g.x, g.ei), drop_all.bias.expand({6, 2}), 0.0, 0.0);
  // Pools: empty graphs give 0, undefined batch = one graph.
  REQUIRE_CLOSE(nn::global_max_pool(x, idx_t({0, 0, 2, 2}), 4).narrow(0, 1, 1), zeros({1, 3}), 0.0, 0.0);
  REQUIRE_CLOSE(nn::global_mean_pool(x), mean(x, {0}, true), 1e-6, 1e-6);
  // Self-loop utilities.
  auto [e1, w1] = nn::add_remaining_self_loops(edges({0, 1, 1}, {1, 1, 0}), 3, from_vector<float>({2, 5, 3}, {3}));
  REQUIRE(e1.to_vector<int64_t>() == std::vector<int64_t>{0, 1, 0, 1, 2, 1, 0, 0, 1, 2});
  REQUIRE(w1.to_vector<float>() == std::vector<float>{2, 3, 1, 5, 1});
  auto [e2, w2] = nn::remove_self_loops(edges({0, 1, 1}, {1, 1, 0}));
  REQUIRE(e2.to_vector<int64_t>() == std::vector<int64_t>{0, 1, 1, 0});
  REQUIRE(!w2.defined());
}
