// Graph neural network layers (message passing) with PyTorch Geometric's
// definitions and parameter names, so a PyG state_dict loads unchanged where the
// names are given below. Inputs follow PyG: x (N, F) node features, edge_index
// (2, E) i64 with row 0 = source j and row 1 = target i (messages flow j -> i),
// optional per-edge weights (E) or attributes (E, D). N(i) below is the multiset
// of sources of the edges into i (duplicate edges count twice). Batches of many
// graphs are one disconnected graph (data/graph.h, GraphBatch), so every layer
// works on batches unchanged; the pooling functions reduce per graph.
//
// Built from the graph primitives of core/graph_ops.h (gather_rows, scatter_*,
// segment_softmax), so autograd follows. Self-loop handling reads edge_index on
// the host (a device sync on CUDA).
#pragma once

#include <memory>
#include <string>
#include <utility>

#include "galen/layers/linear.h"
#include "galen/layers/module.h"

namespace galen::nn {

// ---- graph utilities (torch_geometric.utils) -------------------------------------
// Self-loops (i, i) removed; the weights (E) of the kept edges when edge_weight is defined.
std::pair<Tensor, Tensor> remove_self_loops(const Tensor& edge_index, const Tensor& edge_weight = Tensor());
// Existing self-loops removed, then one loop (i, i) per node appended (after the other edges),
// with weight fill_value (the returned weight is undefined when edge_weight is).
std::pair<Tensor, Tensor> add_self_loops(const Tensor& edge_index, int64_t num_nodes,
                                         const Tensor& edge_weight = Tensor(), double fill_value = 1.0);
// PyG's add_remaining_self_loops: self-loops are moved to the end, one per node; a node that
// had a loop keeps its weight (the last one if it had several), the others get fill_value.
// The returned weight is always defined.
std::pair<Tensor, Tensor> add_remaining_self_loops(const Tensor& edge_index, int64_t num_nodes,
                                                   const Tensor& edge_weight = Tensor(), double fill_value = 1.0);

// ---- convolutions -----------------------------------------------------------------

// Kipf & Welling's graph convolution (PyG GCNConv):
//   x_i' = b + sum_{j in N(i) u {i}} w_ji / sqrt(d_i d_j) * (Θ x_j),   d_i = sum_{j in N(i) u {i}} w_ji,
// i.e. X' = D^-1/2 (A + I) D^-1/2 X Θᵀ + b with edge weights w (default 1; self-loops
// weight 1 unless the graph has them, see add_remaining_self_loops). Nodes with
// d_i = 0 (possible only without self-loops) get 0. Parameters: lin.weight (out, in), bias (out).
class GCNConv : public Module {
 public:
  GCNConv(int64_t in_channels, int64_t out_channels, bool add_self_loops = true, bool normalize = true,
          bool bias = true);
  std::string name() const override { return "GCNConv"; }
  using Module::forward;
  Tensor forward(const Tensor& x, const Tensor& edge_index, const Tensor& edge_weight = Tensor());
  void reset_parameters();

  int64_t in_channels, out_channels;
  bool self_loops, normalize;
  std::shared_ptr<Linear> lin;
  Tensor bias;

 protected:
  std::string extra_repr() const override;
};

// Morris et al.'s GraphConv (PyG GraphConv): x_i' = Θ1 x_i + Θ2 aggr_{j in N(i)} w_ji x_j,
// aggr "add" (default), "mean" or "max". Parameters: lin_rel (with bias), lin_root (no bias).
class GraphConv : public Module {
 public:
  GraphConv(int64_t in_channels, int64_t out_channels, std::string aggr = "add", bool bias = true);
  std::string name() const override { return "GraphConv"; }
  using Module::forward;
  Tensor forward(const Tensor& x, const Tensor& edge_index, const Tensor& edge_weight = Tensor());

  int64_t in_channels, out_channels;
  std::string aggr;
  std::shared_ptr<Linear> lin_rel, lin_root;

 protected:
  std::string extra_repr() const override;
};

// Hamilton et al.'s GraphSAGE (PyG SAGEConv): x_i' = W1 x_i + W2 mean_{j in N(i)} x_j
// (mean of an empty neighbourhood = 0); root_weight=false drops W1 x_i; normalize
// divides each output row by max(||x_i'||_2, 1e-12). Parameters: lin_l (W2, with bias),
// lin_r (W1, no bias).
class SAGEConv : public Module {
 public:
  SAGEConv(int64_t in_channels, int64_t out_channels, std::string aggr = "mean", bool root_weight = true,
           bool normalize = false, bool bias = true);
  std::string name() const override { return "SAGEConv"; }
  using Module::forward;
  Tensor forward(const Tensor& x, const Tensor& edge_index);

  int64_t in_channels, out_channels;
  std::string aggr;
  bool root_weight, normalize;
  std::shared_ptr<Linear> lin_l, lin_r;

 protected:
  std::string extra_repr() const override;
};

// Xu et al.'s graph isomorphism network (PyG GINConv):
//   x_i' = h_Θ((1 + ε) x_i + sum_{j in N(i)} x_j)
// with h_Θ the module `nn` (usually an MLP). ε is the parameter `eps` (1) when
// train_eps, otherwise a buffer of that name.
class GINConv : public Module {
 public:
  explicit GINConv(std::shared_ptr<Module> nn, double eps = 0.0, bool train_eps = false);
  std::string name() const override { return "GINConv"; }
  using Module::forward;
  Tensor forward(const Tensor& x, const Tensor& edge_index);

  std::shared_ptr<Module> nn;
  Tensor eps;
  double initial_eps;
};

// Hu et al.'s GIN with edge features (PyG GINEConv):
//   x_i' = h_Θ((1 + ε) x_i + sum_{j in N(i)} ReLU(x_j + lin(e_ji)))
// `lin` (Linear(edge_dim, in_channels), with bias) exists when edge_dim > 0;
// otherwise edge_attr must already have in_channels columns.
class GINEConv : public Module {
 public:
  GINEConv(std::shared_ptr<Module> nn, int64_t in_channels, int64_t edge_dim = -1, double eps = 0.0,
           bool train_eps = false);
  std::string name() const override { return "GINEConv"; }
  using Module::forward;
  Tensor forward(const Tensor& x, const Tensor& edge_index, const Tensor& edge_attr);

  std::shared_ptr<Module> nn;
  int64_t in_channels;
  std::shared_ptr<Linear> lin;  // null when edge_dim <= 0
  Tensor eps;
  double initial_eps;
};

// Veličković et al.'s graph attention (PyG GATConv), H heads of C channels:
//   x'_i^h = sum_{j in N(i) u {i}} α_ij^h Θ^h x_j
//   α_ij^h = softmax over j of LeakyReLU_0.2(a_src^h · Θ^h x_j + a_dst^h · Θ^h x_i)
// (the softmax runs over each target's incoming edges; dropout on α in training);
// heads concatenated (N, H*C) or averaged (N, C), then + bias. Existing self-loops
// are removed and one per node added when add_self_loops.
// Parameters: lin.weight (H*C, in) (glorot), att_src (1, H, C), att_dst (1, H, C), bias.
class GATConv : public Module {
 public:
  GATConv(int64_t in_channels, int64_t out_channels, int64_t heads = 1, bool concat = true,
          double negative_slope = 0.2, double dropout = 0.0, bool add_self_loops = true, bool bias = true);
  std::string name() const override { return "GATConv"; }
  using Module::forward;
  Tensor forward(const Tensor& x, const Tensor& edge_index);
  // The same, also returning the attention weights α (E', H) and the edge_index
  // (2, E') they belong to (self-loops included).
  std::pair<Tensor, std::pair<Tensor, Tensor>> forward_with_attention(const Tensor& x, const Tensor& edge_index);
  void reset_parameters();

  int64_t in_channels, out_channels, heads;
  bool concat;
  double negative_slope, dropout;
  bool self_loops;
  std::shared_ptr<Linear> lin;
  Tensor att_src, att_dst, bias;

 protected:
  std::string extra_repr() const override;
};

// Gilmer et al.'s edge network (MPNN), PyG NNConv:
//   x_i' = Θ x_i + aggr_{j in N(i)} x_j · h_Θ(e_ji) + b
// h_Θ = `nn` maps edge_attr (E, D) to (E, in*out), read as one (in, out) matrix per
// edge; aggr "add" (default) or "mean". Parameters: nn.*, lin.weight (Θ, no bias;
// absent without root_weight), bias.
class NNConv : public Module {
 public:
  NNConv(int64_t in_channels, int64_t out_channels, std::shared_ptr<Module> nn, std::string aggr = "add",
         bool root_weight = true, bool bias = true);
  std::string name() const override { return "NNConv"; }
  using Module::forward;
  Tensor forward(const Tensor& x, const Tensor& edge_index, const Tensor& edge_attr);

  int64_t in_channels, out_channels;
  std::shared_ptr<Module> nn;
  std::string aggr;
  std::shared_ptr<Linear> lin;  // null without root_weight
  Tensor bias;

 protected:
  std::string extra_repr() const override;
};

// ---- readout (global pooling) -----------------------------------------------------
// x (N, F), batch (N) i64 graph of each node (undefined: one graph) -> (num_graphs, F).
// num_graphs < 0: max(batch) + 1. Empty graphs give 0 (mean and max too).
Tensor global_add_pool(const Tensor& x, const Tensor& batch = Tensor(), int64_t num_graphs = -1);
Tensor global_mean_pool(const Tensor& x, const Tensor& batch = Tensor(), int64_t num_graphs = -1);
Tensor global_max_pool(const Tensor& x, const Tensor& batch = Tensor(), int64_t num_graphs = -1);

// Li et al.'s global soft attention (PyG GlobalAttention / AttentionalAggregation):
//   r_g = sum_{i in g} softmax_{i in g}(gate_nn(x_i)) * nn(x_i)
// gate_nn maps (N, F) -> (N, 1); nn (optional, null = identity) maps (N, F) -> (N, F').
class GlobalAttention : public Module {
 public:
  explicit GlobalAttention(std::shared_ptr<Module> gate_nn, std::shared_ptr<Module> nn = nullptr);
  std::string name() const override { return "GlobalAttention"; }
  using Module::forward;
  Tensor forward(const Tensor& x, const Tensor& batch, int64_t num_graphs = -1);

  std::shared_ptr<Module> gate_nn, nn;
};

}  // namespace galen::nn
