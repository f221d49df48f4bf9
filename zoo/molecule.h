// Molecular graph neural networks and the data plumbing around them: SMILES ->
// molecule graphs (data/molecule.h features) -> GraphBatch batches -> a GNN ->
// one prediction per molecule.
//
//   auto ds = zoo::MoleculeDataset::from_smiles(smiles, targets);        // targets (n) or (n, T)
//   zoo::Split sp = zoo::scaffold_split(ds.molecules(), 0.8, 0.1, seed);
//   zoo::TargetScaler sc = zoo::TargetScaler::fit(ds.targets(), sp.train);
//   auto model = zoo::make_mol_gnn({.model = "gine"});
//   data::GraphBatch b = ds.collate(batch_indices, &sc);                   // y standardised
//   Tensor pred = model->forward(b);                                       // (B, out_dim)
//
// Models (both end in a readout over each molecule's atoms and an MLP head; the
// head's out_dim is the number of regression targets or classification logits):
//  * GINE: Hu et al. (2020), "Strategies for pre-training GNNs": an atom encoder
//    Linear(node_dim, H), then `layers` GINEConv layers (bond features through
//    the conv's own Linear(edge_dim, H)), each conv's MLP = Linear, BatchNorm1d,
//    ReLU, Linear, followed by BatchNorm1d and ReLU (no ReLU after the last).
//  * MPNN: Gilmer et al. (2017): h0 = ReLU(Linear(node_dim, H)); an edge
//    network A(e) = MLP(edge_dim -> edge_hidden -> H*H) turns each bond into an
//    H x H matrix; T = `layers` steps of m = ReLU(NNConv(h)) (mean of A(e_vw) h_w
//    over neighbours, plus a root weight and bias) and h = GRUCell(m, h). The
//    weights are shared across the steps, so A(e) is computed once per forward
//    (the edge features do not change between steps) and reused by every step.
// Readouts: "sum" (global_add_pool: right for additive properties such as
// TPSA), "mean", "attention" (GlobalAttention with a Linear(H, 1) gate) and
// "set2set" (Vinyals et al., an LSTMCell over `set2set_steps` attention
// rounds; output 2H).
//
// Splits: random_split, and scaffold_split grouping molecules by a
// Bemis-Murcko-like framework computed from the parsed graph (ring systems and
// the linker atoms between them, side chains removed; see murcko_scaffold_key),
// so no scaffold group is in two splits.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "galen/core/json.h"
#include "galen/core/tensor.h"
#include "galen/data/graph.h"
#include "galen/data/molecule.h"
#include "galen/layers/batchnorm.h"
#include "galen/layers/gnn.h"
#include "galen/layers/linear.h"
#include "galen/layers/module.h"
#include "galen/layers/rnn.h"

namespace galen::optim {
class Optimizer;
}

namespace galen::zoo {

// ---- models ---------------------------------------------------------------------

struct MolGNNConfig {
  std::string model = "gine";  // "gine" or "mpnn"
  int64_t node_dim = chem::kAtomFeatureDim;
  int64_t edge_dim = chem::kBondFeatureDim;
  int64_t hidden = 64;
  int64_t layers = 3;           // GIN-E conv layers; MPNN message-passing steps T
  std::string readout = "sum";  // "sum", "mean", "attention", "set2set"
  int64_t set2set_steps = 3;
  int64_t head_hidden = 64;
  int64_t out_dim = 1;
  double dropout = 0.0;            // before the head's last Linear (and between GIN-E layers), training only
  int64_t edge_hidden = 64;        // MPNN edge network width
  std::string mpnn_aggr = "mean";  // NNConv aggregation: "mean" or "add"

  json::Value to_json() const;
  // Missing keys keep their defaults; unknown keys or wrong types are an Error.
  static MolGNNConfig from_json(const json::Value& v);
  void validate() const;  // Error naming the bad field
};

// Vinyals et al.'s Set2Set readout (as PyG's Set2Set, with an LSTMCell named
// "lstm"): q*_0 = 0; for each step: q = LSTM(q*, state); a = softmax over each
// graph's nodes of <x_i, q>; r = sum a_i x_i; q* = [q, r]. Output (G, 2F).
class Set2Set : public nn::Module {
 public:
  Set2Set(int64_t in_channels, int64_t processing_steps);
  std::string name() const override { return "Set2Set"; }
  using Module::forward;
  Tensor forward(const Tensor& x, const Tensor& batch, int64_t num_graphs);

  int64_t in_channels, processing_steps;
  std::shared_ptr<nn::LSTMCell> lstm;

 protected:
  std::string extra_repr() const override;
};

// Node embeddings (N, F) -> graph embeddings (G, out_features()).
class GraphReadout : public nn::Module {
 public:
  GraphReadout(const std::string& kind, int64_t in_channels, int64_t set2set_steps = 3);
  std::string name() const override { return "GraphReadout"; }
  using Module::forward;
  Tensor forward(const Tensor& x, const Tensor& batch, int64_t num_graphs);
  int64_t out_features() const;

  std::string kind;
  int64_t in_channels;
  std::shared_ptr<nn::GlobalAttention> attention;  // "attention" only
  std::shared_ptr<Set2Set> set2set;                // "set2set" only

 protected:
  std::string extra_repr() const override;
};

// Base of both models: forward(batch) = head(readout(node_embeddings(batch))).
class MolGNN : public nn::Module {
 public:
  explicit MolGNN(MolGNNConfig config);
  using Module::forward;
  // (num_graphs, out_dim). Needs batch.edge_attr() (edge_dim columns).
  Tensor forward(const data::GraphBatch& batch);
  // (num_nodes, hidden) after message passing.
  virtual Tensor node_embeddings(const data::GraphBatch& batch) = 0;
  const MolGNNConfig& config() const { return config_; }

  std::shared_ptr<GraphReadout> readout;
  std::shared_ptr<nn::Sequential> head;

 protected:
  void build_head();  // called by the subclasses after their own modules (state_dict order)
  void check_batch(const data::GraphBatch& batch) const;
  MolGNNConfig config_;
};

class GINE : public MolGNN {
 public:
  explicit GINE(MolGNNConfig config);
  std::string name() const override { return "GINE"; }
  Tensor node_embeddings(const data::GraphBatch& batch) override;

  std::shared_ptr<nn::Linear> atom_encoder;
  std::shared_ptr<nn::ModuleList> convs;  // GINEConv
  std::shared_ptr<nn::ModuleList> norms;  // BatchNorm1d
};

class MPNN : public MolGNN {
 public:
  explicit MPNN(MolGNNConfig config);
  std::string name() const override { return "MPNN"; }
  Tensor node_embeddings(const data::GraphBatch& batch) override;

  std::shared_ptr<nn::Linear> lin0;
  std::shared_ptr<nn::NNConv> conv;  // conv.nn = the edge network
  std::shared_ptr<nn::GRUCell> gru;
};

// GINE or MPNN from config.model.
std::shared_ptr<MolGNN> make_mol_gnn(const MolGNNConfig& config);

// ---- data -----------------------------------------------------------------------

// Per-column standardisation y' = (y - mean) / std, fitted on training rows only.
struct TargetScaler {
  std::vector<double> mean, std;  // one per target column; std of a constant column = 1

  // y (n) or (n, T); rows = the training rows (empty: all). Error on no rows or non-finite values.
  static TargetScaler fit(const Tensor& y, const std::vector<int64_t>& rows = {});
  bool fitted() const { return !mean.empty(); }
  // (n, T) -> (n, T) f32 on y's device.
  Tensor transform(const Tensor& y) const;
  Tensor inverse_transform(const Tensor& y) const;
  json::Value to_json() const;
  static TargetScaler from_json(const json::Value& v);
};

// Molecules with their graphs and (optional) targets (n, T) f32.
class MoleculeDataset {
 public:
  MoleculeDataset() = default;
  // Parses each SMILES (a bad one is an Error naming its index, the SMILES and
  // the character position). targets: undefined, (n) or (n, T) floating.
  static MoleculeDataset from_smiles(const std::vector<std::string>& smiles, const Tensor& targets = Tensor());
  static MoleculeDataset from_molecules(std::vector<chem::Molecule> mols, const Tensor& targets = Tensor());

  int64_t size() const { return static_cast<int64_t>(mols_.size()); }
  int64_t num_targets() const { return targets_.defined() ? targets_.size(1) : 0; }
  const std::vector<chem::Molecule>& molecules() const { return mols_; }
  const std::vector<std::string>& smiles() const { return smiles_; }  // empty strings for from_molecules
  const Tensor& targets() const { return targets_; }                  // (n, T) f32, or undefined
  const chem::MolGraph& graph(int64_t i) const;

  // The molecules at `indices` as one GraphBatch (in that order); y = the targets
  // (standardised by scaler when given), (B, T). Error on an out-of-range index.
  data::GraphBatch collate(const std::vector<int64_t>& indices, const TargetScaler* scaler = nullptr) const;
  // Rows of targets() at `indices` (B, T).
  Tensor targets_at(const std::vector<int64_t>& indices) const;

 private:
  std::vector<std::string> smiles_;
  std::vector<chem::Molecule> mols_;
  std::vector<chem::MolGraph> graphs_;
  Tensor targets_;
};

// The indices split into batches of batch_size (the last may be smaller); with
// shuffle, the order is a permutation that depends only on (seed, epoch).
std::vector<std::vector<int64_t>> make_batches(const std::vector<int64_t>& indices, int64_t batch_size, bool shuffle,
                                               uint64_t seed = 0, int64_t epoch = 0);

struct Split {
  std::vector<int64_t> train, valid, test;
};

// Seeded permutation cut into round(n*frac_train), round(n*frac_valid) and the rest.
Split random_split(int64_t n, double frac_train, double frac_valid, uint64_t seed);

// A key identifying the Bemis-Murcko-like framework of a molecule: atoms not in
// a ring are pruned while they have at most one remaining neighbour, which
// leaves the ring systems and the linker chains joining them (exocyclic atoms,
// =O on rings included, are removed; RDKit keeps those). The key is a
// Weisfeiler-Lehman hash of the framework graph (element + aromatic per atom,
// bond type per bond), independent of atom order, with the atom and bond counts
// in front ("f17.19:<hex>"). "" for acyclic molecules (one shared group).
// WL hashes can collide only for WL-indistinguishable frameworks (rare in
// molecules); such frameworks then share a group, which keeps the split valid.
std::string murcko_scaffold_key(const chem::Molecule& mol);

// Chemprop-style "balanced" scaffold split: molecules grouped by
// murcko_scaffold_key; groups larger than half the validation or test size go
// to train first, the other groups follow in a seeded random order; each group
// goes whole to train while it fits in n*frac_train, else to valid while it fits
// in n*frac_valid, else to test. No group is in two splits.
Split scaffold_split(const std::vector<chem::Molecule>& mols, double frac_train, double frac_valid, uint64_t seed);

// ---- training helpers -----------------------------------------------------------

// "regression": MSE on (standardised) targets; "binary": BCE with logits on
// 0/1 targets (multi-label when out_dim > 1); "multiclass": cross entropy on
// class indices stored in y's single column.
Tensor mol_loss(const Tensor& pred, const Tensor& y, const std::string& task = "regression");

// One pass over `batches` (collated with scaler), in training mode: forward,
// mol_loss, backward, opt.step(). on_batch(loss, batch_size) after each step.
// Returns the mean loss per molecule.
double train_epoch(MolGNN& model, optim::Optimizer& opt, const MoleculeDataset& ds,
                   const std::vector<std::vector<int64_t>>& batches, const TargetScaler* scaler, Device device,
                   const std::string& task = "regression",
                   const std::function<void(double loss, int64_t n)>& on_batch = {});

// Model outputs for the molecules at `indices` (n, out_dim), eval mode and no
// autograd, mapped back to target units by scaler.inverse_transform when given.
// The model's training flag is restored afterwards.
Tensor predict(MolGNN& model, const MoleculeDataset& ds, const std::vector<int64_t>& indices,
               const TargetScaler* scaler, Device device, int64_t batch_size = 256);

struct RegressionMetrics {
  double rmse = 0, mae = 0, r2 = 0;
  int64_t n = 0;
};
// Over all elements of pred and target (same numel). R² = 1 - SS_res / SS_tot
// with SS_tot around target's own mean (as sklearn's r2_score).
RegressionMetrics regression_metrics(const Tensor& pred, const Tensor& target);

// ---- checkpoints ----------------------------------------------------------------
// A trained model with what predict needs: the config and the target scaler
// (and free-form JSON `extra`), in a data::Checkpoint (metadata
// {"mol_gnn": config, "scaler": ..., "extra": ...}).
void save_mol_gnn(const std::string& path, const MolGNN& model, const TargetScaler& scaler,
                  const json::Value& extra = json::Value(), int64_t epoch = 0);
struct LoadedMolGNN {
  std::shared_ptr<MolGNN> model;  // in eval mode, on the CPU
  TargetScaler scaler;
  json::Value extra;
  int64_t epoch = 0;
};
// Error naming the file when it is not a molecule-GNN checkpoint or its weights
// do not fit the stored config.
LoadedMolGNN load_mol_gnn(const std::string& path);

}  // namespace galen::zoo
