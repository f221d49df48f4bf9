// Graph / GraphBatch (data/graph.h): validation, collation and splitting. All
// index checks run on host copies of the index tensors (a molecule batch is a
// few thousand integers), so a message can name the exact entry that is wrong.
#include "galen/data/graph.h"

#include <string>

#include "galen/core/ops.h"

namespace galen::data {

namespace {

std::vector<int64_t> host_i64(const Tensor& t) { return t.cpu().contiguous().to_vector<int64_t>(); }

void check_x(const std::string& what, const Tensor& x) {
  GALEN_CHECK(x.defined(), what, ": x (node features) is undefined");
  GALEN_CHECK(x.dim() == 2, what, ": x must be 2-D (num_nodes, num_features), got shape ", x.sizes());
  GALEN_CHECK(is_floating(x.dtype()), what, ": x must be floating (f32 or f64), got ", dtype_name(x.dtype()));
}

// edge_index (2, E) i64 with every entry in [0, num_nodes).
void check_edges(const std::string& what, const Tensor& edge_index, int64_t num_nodes, Device dev) {
  GALEN_CHECK(edge_index.defined(), what, ": edge_index is undefined (use a (2, 0) tensor for a graph without edges)");
  GALEN_CHECK(edge_index.dim() == 2 && edge_index.size(0) == 2, what,
              ": edge_index must have shape (2, num_edges), got ", edge_index.sizes());
  GALEN_CHECK(edge_index.dtype() == DType::i64, what, ": edge_index must be i64, got ",
              dtype_name(edge_index.dtype()));
  GALEN_CHECK(edge_index.device() == dev, what, ": edge_index is on ", edge_index.device().str(), " but x is on ",
              dev.str());
  const int64_t E = edge_index.size(1);
  const std::vector<int64_t> v = host_i64(edge_index);
  for (int64_t r = 0; r < 2; ++r)
    for (int64_t e = 0; e < E; ++e) {
      const int64_t i = v[static_cast<size_t>(r * E + e)];
      GALEN_CHECK(i >= 0, what, ": edge_index[", r, ", ", e, "] = ", i, " is negative (", r == 0 ? "source" : "target",
                  " of edge ", e, ")");
      GALEN_CHECK(i < num_nodes, what, ": edge_index[", r, ", ", e, "] = ", i, " is out of range for ", num_nodes,
                  " nodes (", r == 0 ? "source" : "target", " of edge ", e, ")");
    }
}

void check_edge_attr(const std::string& what, const Tensor& edge_attr, int64_t E, Device dev) {
  if (!edge_attr.defined()) return;
  GALEN_CHECK(edge_attr.dim() >= 1, what, ": edge_attr must be (num_edges, ...), got a 0-d tensor");
  GALEN_CHECK(edge_attr.size(0) == E, what, ": edge_attr has ", edge_attr.size(0), " rows but edge_index has ", E,
              " edges");
  GALEN_CHECK(edge_attr.device() == dev, what, ": edge_attr is on ", edge_attr.device().str(), " but x is on ",
              dev.str());
}

}  // namespace

void validate_graph(const Graph& g, const char* what) {
  const std::string w = what;
  check_x(w, g.x);
  check_edges(w, g.edge_index, g.x.size(0), g.x.device());
  check_edge_attr(w, g.edge_attr, g.edge_index.size(1), g.x.device());
  if (g.y.defined())
    GALEN_CHECK(g.y.device() == g.x.device(), w, ": y is on ", g.y.device().str(), " but x is on ",
                g.x.device().str());
}

GraphBatch::GraphBatch(Tensor x, Tensor edge_index, Tensor edge_attr, Tensor batch, int64_t num_graphs, Tensor y)
    : x_(std::move(x)), edge_index_(std::move(edge_index)), edge_attr_(std::move(edge_attr)), y_(std::move(y)) {
  const std::string w = "GraphBatch";
  check_x(w, x_);
  const Device dev = x_.device();
  const int64_t N = x_.size(0);
  check_edges(w, edge_index_, N, dev);
  check_edge_attr(w, edge_attr_, edge_index_.size(1), dev);
  std::vector<int64_t> b;
  if (batch.defined()) {
    GALEN_CHECK(batch.dim() == 1 && batch.size(0) == N, w, ": batch must have shape (", N, ") (one entry per node), got ",
                batch.sizes());
    GALEN_CHECK(batch.dtype() == DType::i64, w, ": batch must be i64, got ", dtype_name(batch.dtype()));
    GALEN_CHECK(batch.device() == dev, w, ": batch is on ", batch.device().str(), " but x is on ", dev.str());
    b = host_i64(batch);
    for (int64_t i = 0; i < N; ++i) {
      const int64_t v = b[static_cast<size_t>(i)];
      GALEN_CHECK(v >= 0, w, ": batch[", i, "] = ", v, " is negative");
      GALEN_CHECK(num_graphs < 0 || v < num_graphs, w, ": batch[", i, "] = ", v, " is out of range for ", num_graphs,
                  " graphs");
      GALEN_CHECK(i == 0 || v >= b[static_cast<size_t>(i - 1)], w, ": batch is not sorted: batch[", i, "] = ", v,
                  " follows batch[", i - 1, "] = ", b[static_cast<size_t>(i - 1)],
                  " (nodes of one graph must be contiguous, graphs in order)");
    }
    num_graphs_ = num_graphs >= 0 ? num_graphs : (N > 0 ? b.back() + 1 : 0);
    batch_ = batch;
  } else {
    num_graphs_ = num_graphs >= 0 ? num_graphs : 1;
    GALEN_CHECK(num_graphs_ >= 1 || N == 0, w, ": ", N, " nodes but num_graphs = 0 and no batch vector");
    b.assign(static_cast<size_t>(N), 0);
    batch_ = zeros({N}, TensorOptions(DType::i64, dev));
  }
  node_ptr_.assign(static_cast<size_t>(num_graphs_ + 1), 0);
  for (int64_t v : b) ++node_ptr_[static_cast<size_t>(v + 1)];
  for (int64_t g = 0; g < num_graphs_; ++g) node_ptr_[static_cast<size_t>(g + 1)] += node_ptr_[static_cast<size_t>(g)];
  if (y_.defined()) {
    GALEN_CHECK(y_.dim() >= 1 && y_.size(0) == num_graphs_, w, ": y must have one row per graph (", num_graphs_,
                "), got shape ", y_.sizes());
    GALEN_CHECK(y_.device() == dev, w, ": y is on ", y_.device().str(), " but x is on ", dev.str());
  }
}

GraphBatch GraphBatch::collate(const std::vector<Graph>& graphs) {
  GALEN_CHECK(!graphs.empty(), "GraphBatch::collate: no graphs to collate");
  const Graph& g0 = graphs[0];
  const bool has_attr = g0.edge_attr.defined(), has_y = g0.y.defined();
  std::vector<Tensor> xs, eis, eas, ys;
  std::vector<int64_t> batch;
  int64_t offset = 0;
  for (size_t i = 0; i < graphs.size(); ++i) {
    const Graph& g = graphs[i];
    const std::string w = "GraphBatch::collate: graph " + std::to_string(i);
    validate_graph(g, w.c_str());
    GALEN_CHECK(g.x.size(1) == g0.x.size(1), w, " has ", g.x.size(1), " node features, graph 0 has ", g0.x.size(1));
    GALEN_CHECK(g.x.dtype() == g0.x.dtype(), w, ": x is ", dtype_name(g.x.dtype()), ", graph 0's is ",
                dtype_name(g0.x.dtype()));
    GALEN_CHECK(g.x.device() == g0.x.device(), w, " is on ", g.x.device().str(), ", graph 0 on ", g0.x.device().str());
    GALEN_CHECK(g.edge_attr.defined() == has_attr, w, (has_attr ? " has no edge_attr" : " has edge_attr"),
                " but graph 0 ", (has_attr ? "has" : "has none"));
    if (has_attr) {
      Shape a = g.edge_attr.sizes(), a0 = g0.edge_attr.sizes();
      a.erase(a.begin());
      a0.erase(a0.begin());
      GALEN_CHECK(a == a0 && g.edge_attr.dtype() == g0.edge_attr.dtype(), w, ": edge_attr ",
                  dtype_name(g.edge_attr.dtype()), " ", g.edge_attr.sizes(), " does not match graph 0's ",
                  dtype_name(g0.edge_attr.dtype()), " ", g0.edge_attr.sizes(), " (beyond the edge count)");
      eas.push_back(g.edge_attr);
    }
    GALEN_CHECK(g.y.defined() == has_y, w, (has_y ? " has no y" : " has y"), " but graph 0 ",
                (has_y ? "has" : "has none"));
    if (has_y) {
      GALEN_CHECK(g.y.sizes() == g0.y.sizes(), w, ": y has shape ", g.y.sizes(), ", graph 0's has ", g0.y.sizes());
      ys.push_back(g.y);
    }
    xs.push_back(g.x);
    eis.push_back(offset == 0 ? g.edge_index : add(g.edge_index, static_cast<double>(offset)));
    batch.insert(batch.end(), static_cast<size_t>(g.x.size(0)), static_cast<int64_t>(i));
    offset += g.x.size(0);
  }
  const Device dev = g0.x.device();
  const int64_t n = static_cast<int64_t>(batch.size());
  return GraphBatch(cat(xs, 0), cat(eis, 1), has_attr ? cat(eas, 0) : Tensor(),
                    from_vector<int64_t>(batch, {n}, TensorOptions(DType::i64, dev)),
                    static_cast<int64_t>(graphs.size()), has_y ? stack(ys, 0) : Tensor());
}

std::vector<Graph> GraphBatch::split() const {
  const int64_t G = num_graphs_, E = num_edges();
  const std::vector<int64_t> ei = host_i64(edge_index_), b = host_i64(batch_);
  // Edge ids of each graph, in order.
  std::vector<std::vector<int64_t>> ids(static_cast<size_t>(G));
  for (int64_t e = 0; e < E; ++e) {
    const int64_t s = ei[static_cast<size_t>(e)], t = ei[static_cast<size_t>(E + e)];
    const int64_t gs = b[static_cast<size_t>(s)], gt = b[static_cast<size_t>(t)];
    GALEN_CHECK(gs == gt, "GraphBatch::split: edge ", e, " joins node ", s, " (graph ", gs, ") to node ", t, " (graph ",
                gt, "); edges must stay within one graph");
    ids[static_cast<size_t>(gs)].push_back(e);
  }
  std::vector<Graph> out;
  out.reserve(static_cast<size_t>(G));
  const Device dev = device();
  for (int64_t g = 0; g < G; ++g) {
    const int64_t n0 = node_ptr_[static_cast<size_t>(g)], n1 = node_ptr_[static_cast<size_t>(g + 1)];
    const std::vector<int64_t>& id = ids[static_cast<size_t>(g)];
    const int64_t m = static_cast<int64_t>(id.size());
    std::vector<int64_t> local(static_cast<size_t>(2 * m));
    for (int64_t k = 0; k < m; ++k) {
      local[static_cast<size_t>(k)] = ei[static_cast<size_t>(id[static_cast<size_t>(k)])] - n0;
      local[static_cast<size_t>(m + k)] = ei[static_cast<size_t>(E + id[static_cast<size_t>(k)])] - n0;
    }
    Graph piece;
    piece.x = x_.narrow(0, n0, n1 - n0).clone();
    piece.edge_index = from_vector<int64_t>(local, {2, m}, TensorOptions(DType::i64, dev));
    if (edge_attr_.defined())
      piece.edge_attr = index_select(edge_attr_, 0, from_vector<int64_t>(id, {m}, TensorOptions(DType::i64, dev)));
    if (y_.defined()) piece.y = y_.select(0, g).clone();
    out.push_back(std::move(piece));
  }
  return out;
}

GraphBatch GraphBatch::to(Device device) const {
  GraphBatch r = *this;
  r.x_ = x_.to(device);
  r.edge_index_ = edge_index_.to(device);
  if (edge_attr_.defined()) r.edge_attr_ = edge_attr_.to(device);
  r.batch_ = batch_.to(device);
  if (y_.defined()) r.y_ = y_.to(device);
  return r;
}

}  // namespace galen::data
