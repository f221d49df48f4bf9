// Graph neural network layers (layers/gnn.h): PyG's message-passing layers as
// compositions of the graph primitives (gather_rows = x_j, scatter_* = the
// aggregation at the target, segment_softmax = the attention normalisation).
#include "galen/layers/gnn.h"

#include <cmath>
#include <vector>

#include "galen/core/graph_ops.h"
#include "galen/core/ops.h"
#include "galen/layers/init.h"

namespace galen::nn {

namespace {

// edge_index (2, E) integral.
void check_edge_index(const std::string& layer, const Tensor& edge_index) {
  GALEN_CHECK(edge_index.defined() && edge_index.dim() == 2 && edge_index.size(0) == 2, layer,
              ": edge_index must have shape (2, num_edges), got ",
              edge_index.defined() ? shape_str(edge_index.sizes()) : std::string("an undefined tensor"));
  GALEN_CHECK(edge_index.dtype() == DType::i64 || edge_index.dtype() == DType::i32, layer,
              ": edge_index must be integral (i64), got ", dtype_name(edge_index.dtype()));
}

// x (N, in) floating, edge_index (2, E) integral on x's device.
void check_inputs(const std::string& layer, const Tensor& x, const Tensor& edge_index, int64_t in_channels) {
  GALEN_CHECK(x.defined() && x.dim() == 2, layer, ": x must be 2-D (num_nodes, ", in_channels, "), got ",
              x.defined() ? shape_str(x.sizes()) : std::string("an undefined tensor"));
  GALEN_CHECK(in_channels < 0 || x.size(1) == in_channels, layer, ": x has ", x.size(1), " features, expected ",
              in_channels);
  check_edge_index(layer, edge_index);
  GALEN_CHECK(edge_index.device() == x.device(), layer, ": edge_index is on ", edge_index.device().str(),
              " but x is on ", x.device().str());
}

void check_edge_values(const std::string& layer, const Tensor& v, int64_t E, const char* what) {
  if (!v.defined()) return;
  GALEN_CHECK(v.dim() >= 1 && v.size(0) == E, layer, ": ", what, " must have one row per edge (", E, "), got shape ",
              v.sizes());
}

Tensor src_of(const Tensor& ei) { return ei.select(0, 0); }
Tensor dst_of(const Tensor& ei) { return ei.select(0, 1); }

Tensor aggregate(const std::string& aggr, const Tensor& msg, const Tensor& index, int64_t n) {
  if (aggr == "add" || aggr == "sum") return scatter_sum(msg, index, n);
  if (aggr == "mean") return scatter_mean(msg, index, n);
  if (aggr == "max") return scatter_max(msg, index, n);
  GALEN_FAIL("unknown aggregation '", aggr, "' (expected add, mean or max)");
}

void check_aggr(const std::string& layer, const std::string& aggr, bool allow_max) {
  GALEN_CHECK(aggr == "add" || aggr == "sum" || aggr == "mean" || (allow_max && aggr == "max"), layer,
              ": unknown aggregation '", aggr, "' (expected add, mean", allow_max ? ", max" : "", ")");
}

// PyG's glorot: U(-a, a), a = sqrt(6 / (size(-2) + size(-1))).
void glorot(Tensor& t) {
  const double a = std::sqrt(6.0 / static_cast<double>(t.size(-2) + t.size(-1)));
  init::uniform_(t, -a, a);
}

// Host copy of edge_index.
std::vector<int64_t> host_edges(const Tensor& ei) { return ei.to(DType::i64).cpu().contiguous().to_vector<int64_t>(); }

Tensor on(const std::vector<int64_t>& v, const Shape& shape, Device d) {
  return from_vector<int64_t>(v, shape, TensorOptions(DType::i64, d));
}

// Edge_index without self-loops, followed by (extra_loops ? loops 0..n-1 : nothing),
// and the ids of the kept edges.
std::pair<Tensor, Tensor> rebuild(const Tensor& edge_index, int64_t num_nodes, bool loops,
                                  std::vector<int64_t>* loop_edge) {
  const int64_t E = edge_index.size(1);
  const std::vector<int64_t> h = host_edges(edge_index);
  std::vector<int64_t> keep;
  keep.reserve(static_cast<size_t>(E));
  if (loop_edge != nullptr) loop_edge->assign(static_cast<size_t>(num_nodes), -1);
  for (int64_t e = 0; e < E; ++e) {
    const int64_t s = h[static_cast<size_t>(e)], t = h[static_cast<size_t>(E + e)];
    if (s != t) {
      keep.push_back(e);
    } else if (loop_edge != nullptr) {
      GALEN_CHECK(s >= 0 && s < num_nodes, "add_remaining_self_loops: edge_index[0, ", e, "] = ", s,
                  " is out of range for ", num_nodes, " nodes");
      (*loop_edge)[static_cast<size_t>(s)] = e;  // the last loop wins
    }
  }
  const int64_t K = static_cast<int64_t>(keep.size()), L = loops ? num_nodes : 0;
  std::vector<int64_t> out(static_cast<size_t>(2 * (K + L)));
  for (int64_t k = 0; k < K; ++k) {
    out[static_cast<size_t>(k)] = h[static_cast<size_t>(keep[static_cast<size_t>(k)])];
    out[static_cast<size_t>(K + L + k)] = h[static_cast<size_t>(E + keep[static_cast<size_t>(k)])];
  }
  for (int64_t i = 0; i < L; ++i) {
    out[static_cast<size_t>(K + i)] = i;
    out[static_cast<size_t>(2 * K + L + i)] = i;
  }
  const Device d = edge_index.device();
  return {on(out, {2, K + L}, d), on(keep, {K}, d)};
}

}  // namespace

// ---- utilities -------------------------------------------------------------------------------

std::pair<Tensor, Tensor> remove_self_loops(const Tensor& edge_index, const Tensor& edge_weight) {
  check_edge_index("remove_self_loops", edge_index);
  check_edge_values("remove_self_loops", edge_weight, edge_index.size(1), "edge_weight");
  auto [ei, keep] = rebuild(edge_index, 0, false, nullptr);
  return {ei, edge_weight.defined() ? gather_rows(edge_weight, keep) : Tensor()};
}

std::pair<Tensor, Tensor> add_self_loops(const Tensor& edge_index, int64_t num_nodes, const Tensor& edge_weight,
                                         double fill_value) {
  check_edge_index("add_self_loops", edge_index);
  check_edge_values("add_self_loops", edge_weight, edge_index.size(1), "edge_weight");
  auto [ei, keep] = rebuild(edge_index, num_nodes, true, nullptr);
  if (!edge_weight.defined()) return {ei, Tensor()};
  Shape loop_shape = edge_weight.sizes();
  loop_shape[0] = num_nodes;
  Tensor loops = full(loop_shape, fill_value, TensorOptions(edge_weight.dtype(), edge_weight.device()));
  return {ei, cat({gather_rows(edge_weight, keep), loops}, 0)};
}

std::pair<Tensor, Tensor> add_remaining_self_loops(const Tensor& edge_index, int64_t num_nodes,
                                                   const Tensor& edge_weight, double fill_value) {
  check_edge_index("add_remaining_self_loops", edge_index);
  check_edge_values("add_remaining_self_loops", edge_weight, edge_index.size(1), "edge_weight");
  GALEN_CHECK(!edge_weight.defined() || edge_weight.dim() == 1,
              "add_remaining_self_loops: edge_weight must be 1-D (num_edges), got shape ", edge_weight.sizes());
  std::vector<int64_t> loop_edge;
  auto [ei, keep] = rebuild(edge_index, num_nodes, true, &loop_edge);
  const Device d = edge_index.device();
  Tensor w = edge_weight.defined() ? edge_weight : ones({edge_index.size(1)}, TensorOptions(DType::f32, d));
  std::vector<int64_t> src(static_cast<size_t>(num_nodes));
  std::vector<uint8_t> has(static_cast<size_t>(num_nodes));
  bool any = false;
  for (int64_t i = 0; i < num_nodes; ++i) {
    const int64_t e = loop_edge[static_cast<size_t>(i)];
    has[static_cast<size_t>(i)] = e >= 0;
    src[static_cast<size_t>(i)] = e >= 0 ? e : 0;
    any = any || e >= 0;
  }
  Tensor loops = full({num_nodes}, fill_value, TensorOptions(w.dtype(), d));
  if (any) {
    Tensor mask = ne(from_vector<uint8_t>(has, {num_nodes}, TensorOptions(DType::u8, d)), 0.0);
    loops = where(mask, gather_rows(w, on(src, {num_nodes}, d)), loops);
  }
  return {ei, cat({gather_rows(w, keep), loops}, 0)};
}

// ---- GCNConv ---------------------------------------------------------------------------------

GCNConv::GCNConv(int64_t in, int64_t out, bool add_loops, bool norm, bool with_bias)
    : in_channels(in), out_channels(out), self_loops(add_loops), normalize(norm) {
  lin = register_module("lin", std::make_shared<Linear>(in, out, false));
  if (with_bias) bias = register_parameter("bias", zeros({out}));
  reset_parameters();
}

void GCNConv::reset_parameters() {
  glorot(lin->weight);
  if (bias.defined()) init::zeros_(bias);
}

Tensor GCNConv::forward(const Tensor& x, const Tensor& edge_index, const Tensor& edge_weight) {
  check_inputs("GCNConv", x, edge_index, in_channels);
  check_edge_values("GCNConv", edge_weight, edge_index.size(1), "edge_weight");
  GALEN_CHECK(!edge_weight.defined() || edge_weight.dim() == 1, "GCNConv: edge_weight must be 1-D, got shape ",
              edge_weight.sizes());
  const int64_t N = x.size(0);
  Tensor ei = edge_index, w = edge_weight.defined() ? edge_weight.to(x.dtype()) : Tensor();
  if (self_loops) std::tie(ei, w) = add_remaining_self_loops(ei, N, w, 1.0);
  if (w.defined()) w = w.to(x.dtype());
  const Tensor src = src_of(ei), dst = dst_of(ei);
  Tensor norm = w;
  if (normalize) {
    if (!w.defined()) w = ones({ei.size(1)}, TensorOptions(x.dtype(), x.device()));
    Tensor deg = scatter_sum(w, dst, N);
    Tensor pos = gt(deg, 0.0);
    Tensor dinv = where(pos, rsqrt(where(pos, deg, 1.0)), 0.0);
    norm = mul(mul(gather_rows(dinv, src), w), gather_rows(dinv, dst));
  }
  Tensor h = lin->forward(x);
  Tensor msg = gather_rows(h, src);
  if (norm.defined()) msg = mul(msg, norm.unsqueeze(1));
  Tensor out = scatter_sum(msg, dst, N);
  return bias.defined() ? add(out, bias) : out;
}

std::string GCNConv::extra_repr() const { return std::to_string(in_channels) + ", " + std::to_string(out_channels); }

// ---- GraphConv -------------------------------------------------------------------------------

GraphConv::GraphConv(int64_t in, int64_t out, std::string aggregation, bool with_bias)
    : in_channels(in), out_channels(out), aggr(std::move(aggregation)) {
  check_aggr("GraphConv", aggr, true);
  lin_rel = register_module("lin_rel", std::make_shared<Linear>(in, out, with_bias));
  lin_root = register_module("lin_root", std::make_shared<Linear>(in, out, false));
}

Tensor GraphConv::forward(const Tensor& x, const Tensor& edge_index, const Tensor& edge_weight) {
  check_inputs("GraphConv", x, edge_index, in_channels);
  check_edge_values("GraphConv", edge_weight, edge_index.size(1), "edge_weight");
  Tensor msg = gather_rows(x, src_of(edge_index));
  if (edge_weight.defined()) msg = mul(msg, edge_weight.to(x.dtype()).reshape({-1, 1}));
  Tensor agg = aggregate(aggr, msg, dst_of(edge_index), x.size(0));
  return add(lin_rel->forward(agg), lin_root->forward(x));
}

std::string GraphConv::extra_repr() const {
  return std::to_string(in_channels) + ", " + std::to_string(out_channels);
}

// ---- SAGEConv --------------------------------------------------------------------------------

SAGEConv::SAGEConv(int64_t in, int64_t out, std::string aggregation, bool root, bool norm, bool with_bias)
    : in_channels(in), out_channels(out), aggr(std::move(aggregation)), root_weight(root), normalize(norm) {
  check_aggr("SAGEConv", aggr, true);
  lin_l = register_module("lin_l", std::make_shared<Linear>(in, out, with_bias));
  if (root_weight) lin_r = register_module("lin_r", std::make_shared<Linear>(in, out, false));
}

Tensor SAGEConv::forward(const Tensor& x, const Tensor& edge_index) {
  check_inputs("SAGEConv", x, edge_index, in_channels);
  Tensor agg = aggregate(aggr, gather_rows(x, src_of(edge_index)), dst_of(edge_index), x.size(0));
  Tensor out = lin_l->forward(agg);
  if (root_weight) out = add(out, lin_r->forward(x));
  if (normalize) out = div(out, clamp(galen::norm(out, 2.0, {-1}, true), 1e-12, std::nullopt));
  return out;
}

std::string SAGEConv::extra_repr() const {
  return std::to_string(in_channels) + ", " + std::to_string(out_channels) + ", aggr=" + aggr;
}

// ---- GINConv / GINEConv ----------------------------------------------------------------------

GINConv::GINConv(std::shared_ptr<Module> net, double eps0, bool train_eps) : initial_eps(eps0) {
  GALEN_CHECK(net != nullptr, "GINConv: nn must not be null");
  nn = register_module("nn", std::move(net));
  if (train_eps) eps = register_parameter("eps", full({1}, eps0));
  else eps = register_buffer("eps", full({1}, eps0));
}

Tensor GINConv::forward(const Tensor& x, const Tensor& edge_index) {
  check_inputs("GINConv", x, edge_index, -1);
  Tensor agg = scatter_sum(gather_rows(x, src_of(edge_index)), dst_of(edge_index), x.size(0));
  return nn->forward(add(agg, mul(x, add(eps.to(x.dtype()), 1.0))));
}

GINEConv::GINEConv(std::shared_ptr<Module> net, int64_t in, int64_t edge_dim, double eps0, bool train_eps)
    : in_channels(in), initial_eps(eps0) {
  GALEN_CHECK(net != nullptr, "GINEConv: nn must not be null");
  nn = register_module("nn", std::move(net));
  if (edge_dim > 0) lin = register_module("lin", std::make_shared<Linear>(edge_dim, in));
  if (train_eps) eps = register_parameter("eps", full({1}, eps0));
  else eps = register_buffer("eps", full({1}, eps0));
}

Tensor GINEConv::forward(const Tensor& x, const Tensor& edge_index, const Tensor& edge_attr) {
  check_inputs("GINEConv", x, edge_index, in_channels);
  GALEN_CHECK(edge_attr.defined(), "GINEConv: edge_attr is required");
  check_edge_values("GINEConv", edge_attr, edge_index.size(1), "edge_attr");
  Tensor e = lin != nullptr ? lin->forward(edge_attr) : edge_attr;
  GALEN_CHECK(e.dim() == 2 && e.size(1) == in_channels, "GINEConv: edge features must have ", in_channels,
              " columns (the node feature size", lin != nullptr ? ", after lin" : "; pass edge_dim to add lin",
              "), got shape ", e.sizes());
  Tensor msg = relu(add(gather_rows(x, src_of(edge_index)), e));
  Tensor agg = scatter_sum(msg, dst_of(edge_index), x.size(0));
  return nn->forward(add(agg, mul(x, add(eps.to(x.dtype()), 1.0))));
}

// ---- GATConv ---------------------------------------------------------------------------------

GATConv::GATConv(int64_t in, int64_t out, int64_t h, bool cat_heads, double slope, double drop, bool add_loops,
                 bool with_bias)
    : in_channels(in), out_channels(out), heads(h), concat(cat_heads), negative_slope(slope), dropout(drop),
      self_loops(add_loops) {
  GALEN_CHECK(h >= 1, "GATConv: heads must be >= 1, got ", h);
  GALEN_CHECK(drop >= 0.0 && drop <= 1.0, "GATConv: dropout must be in [0, 1], got ", drop);
  lin = register_module("lin", std::make_shared<Linear>(in, h * out, false));
  att_src = register_parameter("att_src", zeros({1, h, out}));
  att_dst = register_parameter("att_dst", zeros({1, h, out}));
  if (with_bias) bias = register_parameter("bias", zeros({concat ? h * out : out}));
  reset_parameters();
}

void GATConv::reset_parameters() {
  glorot(lin->weight);
  glorot(att_src);
  glorot(att_dst);
  if (bias.defined()) init::zeros_(bias);
}

std::pair<Tensor, std::pair<Tensor, Tensor>> GATConv::forward_with_attention(const Tensor& x,
                                                                              const Tensor& edge_index) {
  check_inputs("GATConv", x, edge_index, in_channels);
  const int64_t N = x.size(0), H = heads, C = out_channels;
  Tensor ei = edge_index;
  if (self_loops) ei = add_self_loops(ei, N).first;
  const Tensor src = src_of(ei), dst = dst_of(ei);
  Tensor h = lin->forward(x).reshape({N, H, C});
  Tensor a_src = sum(mul(h, att_src), {-1});  // (N, H)
  Tensor a_dst = sum(mul(h, att_dst), {-1});
  Tensor alpha = leaky_relu(add(gather_rows(a_src, src), gather_rows(a_dst, dst)), negative_slope);  // (E, H)
  alpha = segment_softmax(alpha, dst, N);
  Tensor att = alpha;
  alpha = galen::dropout(alpha, dropout, is_training());
  Tensor out = scatter_sum(mul(gather_rows(h, src), alpha.unsqueeze(-1)), dst, N);  // (N, H, C)
  out = concat ? out.reshape({N, H * C}) : mean(out, {1});
  if (bias.defined()) out = add(out, bias);
  return {out, {ei, att}};
}

Tensor GATConv::forward(const Tensor& x, const Tensor& edge_index) { return forward_with_attention(x, edge_index).first; }

std::string GATConv::extra_repr() const {
  return std::to_string(in_channels) + ", " + std::to_string(out_channels) + ", heads=" + std::to_string(heads);
}

// ---- NNConv ----------------------------------------------------------------------------------

NNConv::NNConv(int64_t in, int64_t out, std::shared_ptr<Module> net, std::string aggregation, bool root_weight,
               bool with_bias)
    : in_channels(in), out_channels(out), aggr(std::move(aggregation)) {
  GALEN_CHECK(net != nullptr, "NNConv: nn must not be null");
  check_aggr("NNConv", aggr, false);
  nn = register_module("nn", std::move(net));
  if (root_weight) lin = register_module("lin", std::make_shared<Linear>(in, out, false));
  if (with_bias) bias = register_parameter("bias", zeros({out}));
}

Tensor NNConv::forward(const Tensor& x, const Tensor& edge_index, const Tensor& edge_attr) {
  check_inputs("NNConv", x, edge_index, in_channels);
  GALEN_CHECK(edge_attr.defined(), "NNConv: edge_attr is required");
  const int64_t E = edge_index.size(1), N = x.size(0);
  check_edge_values("NNConv", edge_attr, E, "edge_attr");
  Tensor msg;
  if (E == 0) {
    msg = zeros({0, out_channels}, TensorOptions(x.dtype(), x.device()));
  } else {
    Tensor w = nn->forward(edge_attr);
    GALEN_CHECK(w.numel() == E * in_channels * out_channels, "NNConv: nn must map edge_attr to (", E, ", ",
                in_channels * out_channels, ") (in_channels * out_channels per edge), got shape ", w.sizes());
    w = w.reshape({E, in_channels, out_channels});
    msg = bmm(gather_rows(x, src_of(edge_index)).unsqueeze(1), w).squeeze(1);  // (E, out)
  }
  Tensor out = aggregate(aggr, msg, dst_of(edge_index), N);
  if (lin != nullptr) out = add(out, lin->forward(x));
  if (bias.defined()) out = add(out, bias);
  return out;
}

std::string NNConv::extra_repr() const {
  return std::to_string(in_channels) + ", " + std::to_string(out_channels) + ", aggr=" + aggr;
}

// ---- readout ---------------------------------------------------------------------------------

namespace {
Tensor batch_or_zeros(const char* op, const Tensor& x, const Tensor& batch, int64_t& num_graphs) {
  GALEN_CHECK(x.defined() && x.dim() >= 1, op, ": x must be (num_nodes, ...), got ",
              x.defined() ? shape_str(x.sizes()) : std::string("an undefined tensor"));
  if (batch.defined()) {
    GALEN_CHECK(batch.dim() == 1 && batch.size(0) == x.size(0), op, ": batch must have shape (", x.size(0),
                "), got ", batch.sizes());
    return batch;
  }
  if (num_graphs < 0) num_graphs = 1;
  return zeros({x.size(0)}, TensorOptions(DType::i64, x.device()));
}
}  // namespace

Tensor global_add_pool(const Tensor& x, const Tensor& batch, int64_t num_graphs) {
  Tensor b = batch_or_zeros("global_add_pool", x, batch, num_graphs);
  return scatter_sum(x, b, num_graphs);
}

Tensor global_mean_pool(const Tensor& x, const Tensor& batch, int64_t num_graphs) {
  Tensor b = batch_or_zeros("global_mean_pool", x, batch, num_graphs);
  return scatter_mean(x, b, num_graphs);
}

Tensor global_max_pool(const Tensor& x, const Tensor& batch, int64_t num_graphs) {
  Tensor b = batch_or_zeros("global_max_pool", x, batch, num_graphs);
  return scatter_max(x, b, num_graphs);
}

GlobalAttention::GlobalAttention(std::shared_ptr<Module> gate, std::shared_ptr<Module> net) {
  GALEN_CHECK(gate != nullptr, "GlobalAttention: gate_nn must not be null");
  gate_nn = register_module("gate_nn", std::move(gate));
  if (net != nullptr) nn = register_module("nn", std::move(net));
}

Tensor GlobalAttention::forward(const Tensor& x, const Tensor& batch, int64_t num_graphs) {
  Tensor b = batch_or_zeros("GlobalAttention", x, batch, num_graphs);
  Tensor gate = gate_nn->forward(x);
  GALEN_CHECK(gate.dim() == 2 && gate.size(0) == x.size(0) && gate.size(1) == 1,
              "GlobalAttention: gate_nn must map x to (num_nodes, 1), got shape ", gate.sizes());
  Tensor h = nn != nullptr ? nn->forward(x) : x;
  GALEN_CHECK(h.dim() == 2 && h.size(0) == x.size(0), "GlobalAttention: nn must map x to (num_nodes, F), got shape ",
              h.sizes());
  Tensor a = segment_softmax(gate, b, num_graphs);
  return scatter_sum(mul(a, h), b, num_graphs);
}

}  // namespace galen::nn
