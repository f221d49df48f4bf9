// Graphs for message passing: one Graph per molecule (as the SMILES parser
// produces it), and GraphBatch, many small graphs collated into one big
// disconnected graph, the way PyTorch Geometric batches them:
//
//   std::vector<data::Graph> mols = ...;                 // x (N_i, F), edge_index (2, E_i), edge_attr (E_i, D)
//   data::GraphBatch b = data::GraphBatch::collate(mols);
//   Tensor h = conv->forward(b.x(), b.edge_index());     // layers/gnn.h
//   Tensor g = nn::global_mean_pool(h, b.batch(), b.num_graphs());
//
// Conventions (PyG's): edge_index row 0 holds sources, row 1 targets, and
// messages flow source -> target; an undirected bond is two edges, one each
// way. batch (N) i64 maps every node to its graph and is sorted. Isolated nodes,
// graphs without edges, self-loops and duplicate edges are all legal.
//
// Every constructor validates (on the host: batches are small) and throws
// galen::Error naming the tensor, the position and the value that is wrong.
#pragma once

#include <cstdint>
#include <vector>

#include "galen/core/tensor.h"

namespace galen::data {

// One graph. x (N, F) floating; edge_index (2, E) i64 in [0, N); edge_attr
// (E, D) or undefined; y (graph-level target, any shape) or undefined.
struct Graph {
  Tensor x;
  Tensor edge_index;
  Tensor edge_attr;
  Tensor y;
};

// Checks one graph; `what` prefixes the messages (e.g. "collate: graph 3").
void validate_graph(const Graph& g, const char* what = "Graph");

class GraphBatch {
 public:
  GraphBatch() = default;
  // From already-collated tensors. batch undefined: all nodes in graph 0.
  // num_graphs < 0: max(batch) + 1 (1 for a graph with no nodes and no batch).
  // y, when defined, has num_graphs rows (one target per graph).
  GraphBatch(Tensor x, Tensor edge_index, Tensor edge_attr = Tensor(), Tensor batch = Tensor(),
             int64_t num_graphs = -1, Tensor y = Tensor());

  // Concatenates graphs: node features and edge attributes stacked, each
  // graph's edge_index offset by the number of nodes before it, batch filled
  // with the graph number. Either every graph has edge_attr (same D, dtype) or
  // none; likewise y. All graphs on one device; the batch stays there.
  static GraphBatch collate(const std::vector<Graph>& graphs);
  // The inverse of collate: per-graph pieces with indices local to each graph.
  // Edges go to the graph of their source node (an edge joining two graphs is
  // an Error); within a graph they keep their order.
  std::vector<Graph> split() const;
  // A copy on `device` (the host-side offsets are shared).
  GraphBatch to(Device device) const;

  const Tensor& x() const { return x_; }
  const Tensor& edge_index() const { return edge_index_; }  // (2, E) i64
  const Tensor& edge_attr() const { return edge_attr_; }    // (E, D) or undefined
  const Tensor& batch() const { return batch_; }            // (N) i64, sorted
  const Tensor& y() const { return y_; }                    // (num_graphs, ...) or undefined
  Tensor source() const { return edge_index_.select(0, 0); }  // (E) message senders
  Tensor target() const { return edge_index_.select(0, 1); }  // (E) message receivers
  int64_t num_nodes() const { return x_.defined() ? x_.size(0) : 0; }
  int64_t num_edges() const { return edge_index_.defined() ? edge_index_.size(1) : 0; }
  int64_t num_graphs() const { return num_graphs_; }
  // Node range of graph g is [node_ptr()[g], node_ptr()[g + 1]) (num_graphs + 1 entries).
  const std::vector<int64_t>& node_ptr() const { return node_ptr_; }
  Device device() const { return x_.defined() ? x_.device() : Device{}; }

 private:
  Tensor x_, edge_index_, edge_attr_, batch_, y_;
  int64_t num_graphs_ = 0;
  std::vector<int64_t> node_ptr_{0};
};

}  // namespace galen::data
