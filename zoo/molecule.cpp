// Molecular GNNs (zoo/molecule.h): GIN-E and MPNN over GraphBatch, readouts,
// the molecule dataset / splits / target scaling, training helpers and
// checkpoints. Shuffles and splits use our own Fisher-Yates over splitmix64, so
// a seed gives the same split on every platform and standard library.
#include "galen/zoo/molecule.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <numeric>
#include <tuple>
#include <utility>

#include "galen/core/autograd.h"
#include "galen/core/error.h"
#include "galen/core/graph_ops.h"
#include "galen/core/ops.h"
#include "galen/data/checkpoint.h"
#include "galen/data/smiles.h"
#include "galen/layers/activation.h"
#include "galen/layers/dropout.h"
#include "galen/optim/optimizer.h"

namespace galen::zoo {

namespace {

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

uint64_t mix(uint64_t h, uint64_t v) {
  uint64_t s = h ^ (v + 0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2));
  return splitmix64(s);
}

// Fisher-Yates with splitmix64 (the modulo bias is below 2^-40 for any n here).
void shuffle(std::vector<int64_t>& v, uint64_t seed) {
  uint64_t state = seed;
  for (size_t i = v.size(); i > 1; --i) {
    const size_t j = static_cast<size_t>(splitmix64(state) % i);
    std::swap(v[i - 1], v[j]);
  }
}

std::shared_ptr<nn::Sequential> seq(nn::Sequential::List l) { return std::make_shared<nn::Sequential>(std::move(l)); }

json::Value num(double v) { return json::Value(v); }

// BatchNorm1d over node features (N, C), computed as BatchNorm1d of the
// (1, C, N) view: the same statistics over the N rows, the same running-stat
// updates and the same state_dict, but the CPU kernels then read each channel
// contiguously instead of with a stride of C (several times faster for the
// few-hundred-node batches here).
class NodeBatchNorm : public nn::BatchNorm1d {
 public:
  explicit NodeBatchNorm(int64_t c) : nn::BatchNorm1d(c) {}
  using Module::forward;
  Tensor forward(const Tensor& x) override {
    if (x.dim() != 2) return nn::BatchNorm1d::forward(x);
    return nn::BatchNorm1d::forward(x.t().unsqueeze(0)).squeeze(0).t();
  }
};

}  // namespace

// ---- config ---------------------------------------------------------------------------------

json::Value MolGNNConfig::to_json() const {
  json::Value o;
  o["model"] = model;
  o["node_dim"] = node_dim;
  o["edge_dim"] = edge_dim;
  o["hidden"] = hidden;
  o["layers"] = layers;
  o["readout"] = readout;
  o["set2set_steps"] = set2set_steps;
  o["head_hidden"] = head_hidden;
  o["out_dim"] = out_dim;
  o["dropout"] = dropout;
  o["edge_hidden"] = edge_hidden;
  o["mpnn_aggr"] = mpnn_aggr;
  return o;
}

MolGNNConfig MolGNNConfig::from_json(const json::Value& v) {
  GALEN_CHECK(v.is_object(), "MolGNNConfig: expected a JSON object, got ", json::type_name(v.type()));
  MolGNNConfig c;
  for (const auto& [k, val] : v.as_object()) {
    if (k == "model")
      c.model = val.as_string();
    else if (k == "node_dim")
      c.node_dim = val.as_int();
    else if (k == "edge_dim")
      c.edge_dim = val.as_int();
    else if (k == "hidden")
      c.hidden = val.as_int();
    else if (k == "layers")
      c.layers = val.as_int();
    else if (k == "readout")
      c.readout = val.as_string();
    else if (k == "set2set_steps")
      c.set2set_steps = val.as_int();
    else if (k == "head_hidden")
      c.head_hidden = val.as_int();
    else if (k == "out_dim")
      c.out_dim = val.as_int();
    else if (k == "dropout")
      c.dropout = val.as_double();
    else if (k == "edge_hidden")
      c.edge_hidden = val.as_int();
    else if (k == "mpnn_aggr")
      c.mpnn_aggr = val.as_string();
    else
      GALEN_FAIL("MolGNNConfig: unknown key '", k, "'");
  }
  c.validate();
  return c;
}

void MolGNNConfig::validate() const {
  GALEN_CHECK(model == "gine" || model == "mpnn", "MolGNNConfig: model must be 'gine' or 'mpnn', got '", model, "'");
  GALEN_CHECK(readout == "sum" || readout == "mean" || readout == "attention" || readout == "set2set",
              "MolGNNConfig: readout must be sum, mean, attention or set2set, got '", readout, "'");
  GALEN_CHECK(mpnn_aggr == "mean" || mpnn_aggr == "add", "MolGNNConfig: mpnn_aggr must be mean or add, got '",
              mpnn_aggr, "'");
  GALEN_CHECK(node_dim > 0 && edge_dim > 0 && hidden > 0 && head_hidden > 0 && out_dim > 0 && edge_hidden > 0,
              "MolGNNConfig: node_dim, edge_dim, hidden, head_hidden, out_dim and edge_hidden must be positive");
  GALEN_CHECK(layers >= 1, "MolGNNConfig: layers must be >= 1, got ", layers);
  GALEN_CHECK(set2set_steps >= 1, "MolGNNConfig: set2set_steps must be >= 1, got ", set2set_steps);
  GALEN_CHECK(dropout >= 0.0 && dropout < 1.0, "MolGNNConfig: dropout must be in [0, 1), got ", dropout);
}

// ---- readouts -------------------------------------------------------------------------------

Set2Set::Set2Set(int64_t in, int64_t steps) : in_channels(in), processing_steps(steps) {
  GALEN_CHECK(in > 0 && steps >= 1, "Set2Set: in_channels must be > 0 and processing_steps >= 1, got ", in, ", ",
              steps);
  lstm = register_module("lstm", std::make_shared<nn::LSTMCell>(2 * in, in));
}

Tensor Set2Set::forward(const Tensor& x, const Tensor& batch, int64_t num_graphs) {
  GALEN_CHECK(x.defined() && x.dim() == 2 && x.size(1) == in_channels, "Set2Set: x must be (num_nodes, ", in_channels,
              "), got ", x.defined() ? shape_str(x.sizes()) : std::string("undefined"));
  GALEN_CHECK(batch.defined() && batch.dim() == 1 && batch.size(0) == x.size(0) && num_graphs >= 0,
              "Set2Set: batch must be (num_nodes) with num_graphs >= 0");
  const TensorOptions o(x.dtype(), x.device());
  Tensor h = zeros({num_graphs, in_channels}, o), c = zeros({num_graphs, in_channels}, o);
  Tensor q_star = zeros({num_graphs, 2 * in_channels}, o);
  for (int64_t s = 0; s < processing_steps; ++s) {
    std::tie(h, c) = lstm->forward(q_star, h, c);
    Tensor e = sum(mul(x, gather_rows(h, batch)), {1}, true);  // (N, 1)
    Tensor a = segment_softmax(e, batch, num_graphs);
    Tensor r = scatter_sum(mul(a, x), batch, num_graphs);  // (G, F)
    q_star = cat({h, r}, 1);
  }
  return q_star;
}

std::string Set2Set::extra_repr() const { return std::to_string(in_channels) + ", " + std::to_string(2 * in_channels); }

GraphReadout::GraphReadout(const std::string& k, int64_t in, int64_t set2set_steps) : kind(k), in_channels(in) {
  if (kind == "attention") {
    attention =
        register_module("attention", std::make_shared<nn::GlobalAttention>(std::make_shared<nn::Linear>(in, 1)));
  } else if (kind == "set2set") {
    set2set = register_module("set2set", std::make_shared<Set2Set>(in, set2set_steps));
  } else {
    GALEN_CHECK(kind == "sum" || kind == "mean", "GraphReadout: unknown readout '", kind,
                "' (expected sum, mean, attention or set2set)");
  }
}

Tensor GraphReadout::forward(const Tensor& x, const Tensor& batch, int64_t num_graphs) {
  if (kind == "sum") return nn::global_add_pool(x, batch, num_graphs);
  if (kind == "mean") return nn::global_mean_pool(x, batch, num_graphs);
  if (kind == "attention") return attention->forward(x, batch, num_graphs);
  return set2set->forward(x, batch, num_graphs);
}

int64_t GraphReadout::out_features() const { return kind == "set2set" ? 2 * in_channels : in_channels; }

std::string GraphReadout::extra_repr() const { return kind + ", " + std::to_string(in_channels); }

// ---- models ---------------------------------------------------------------------------------

MolGNN::MolGNN(MolGNNConfig config) : config_(std::move(config)) { config_.validate(); }

void MolGNN::build_head() {
  const MolGNNConfig& c = config_;
  readout = register_module("readout", std::make_shared<GraphReadout>(c.readout, c.hidden, c.set2set_steps));
  nn::Sequential::List l{std::make_shared<nn::Linear>(readout->out_features(), c.head_hidden),
                         std::make_shared<nn::ReLU>()};
  if (c.dropout > 0) l.push_back(std::make_shared<nn::Dropout>(c.dropout));
  l.push_back(std::make_shared<nn::Linear>(c.head_hidden, c.out_dim));
  head = register_module("head", seq(std::move(l)));
}

void MolGNN::check_batch(const data::GraphBatch& b) const {
  GALEN_CHECK(b.x().defined() && b.x().dim() == 2 && b.x().size(1) == config_.node_dim, name(),
              ": batch.x must be (num_nodes, ", config_.node_dim, "), got ",
              b.x().defined() ? shape_str(b.x().sizes()) : std::string("undefined"));
  GALEN_CHECK(b.edge_attr().defined() && b.edge_attr().dim() == 2 && b.edge_attr().size(1) == config_.edge_dim, name(),
              ": batch.edge_attr must be (num_edges, ", config_.edge_dim, "), got ",
              b.edge_attr().defined() ? shape_str(b.edge_attr().sizes()) : std::string("undefined"));
}

Tensor MolGNN::forward(const data::GraphBatch& b) {
  check_batch(b);
  Tensor h = node_embeddings(b);
  return head->forward(readout->forward(h, b.batch(), b.num_graphs()));
}

GINE::GINE(MolGNNConfig config) : MolGNN(std::move(config)) {
  GALEN_CHECK(config_.model == "gine", "GINE: config.model is '", config_.model, "'");
  const int64_t H = config_.hidden;
  atom_encoder = register_module("atom_encoder", std::make_shared<nn::Linear>(config_.node_dim, H));
  convs = register_module("convs", std::make_shared<nn::ModuleList>());
  norms = register_module("norms", std::make_shared<nn::ModuleList>());
  for (int64_t l = 0; l < config_.layers; ++l) {
    auto mlp = seq({std::make_shared<nn::Linear>(H, H), std::make_shared<NodeBatchNorm>(H),
                    std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(H, H)});
    convs->push_back(std::make_shared<nn::GINEConv>(mlp, H, config_.edge_dim));
    norms->push_back(std::make_shared<NodeBatchNorm>(H));
  }
  build_head();
}

Tensor GINE::node_embeddings(const data::GraphBatch& b) {
  Tensor h = atom_encoder->forward(b.x());
  const int64_t L = config_.layers;
  for (int64_t l = 0; l < L; ++l) {
    auto conv = std::static_pointer_cast<nn::GINEConv>((*convs)[static_cast<size_t>(l)]);
    h = conv->forward(h, b.edge_index(), b.edge_attr());
    h = (*norms)[static_cast<size_t>(l)]->forward(h);
    if (l + 1 < L) h = relu(h);
    if (config_.dropout > 0) h = dropout(h, config_.dropout, is_training());
  }
  return h;
}

MPNN::MPNN(MolGNNConfig config) : MolGNN(std::move(config)) {
  GALEN_CHECK(config_.model == "mpnn", "MPNN: config.model is '", config_.model, "'");
  const int64_t H = config_.hidden;
  lin0 = register_module("lin0", std::make_shared<nn::Linear>(config_.node_dim, H));
  auto edge_net = seq({std::make_shared<nn::Linear>(config_.edge_dim, config_.edge_hidden),
                       std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(config_.edge_hidden, H * H)});
  conv = register_module("conv", std::make_shared<nn::NNConv>(H, H, edge_net, config_.mpnn_aggr));
  gru = register_module("gru", std::make_shared<nn::GRUCell>(H, H));
  build_head();
}

Tensor MPNN::node_embeddings(const data::GraphBatch& b) {
  const int64_t H = config_.hidden, N = b.num_nodes(), E = b.num_edges();
  Tensor h = relu(lin0->forward(b.x()));
  const Tensor src = b.source(), dst = b.target();
  // NNConv's message x_j A(e_ji), with A computed once for all T steps.
  Tensor A = E > 0 ? conv->nn->forward(b.edge_attr()).reshape({E, H, H}) : Tensor();
  for (int64_t t = 0; t < config_.layers; ++t) {
    Tensor agg;
    if (E > 0) {
      Tensor msg = bmm(gather_rows(h, src).unsqueeze(1), A).squeeze(1);  // (E, H)
      agg = conv->aggr == "mean" ? scatter_mean(msg, dst, N) : scatter_sum(msg, dst, N);
    } else {
      agg = zeros({N, H}, TensorOptions(h.dtype(), h.device()));
    }
    Tensor m = agg;
    if (conv->lin != nullptr) m = add(m, conv->lin->forward(h));
    if (conv->bias.defined()) m = add(m, conv->bias);
    h = gru->forward(relu(m), h);
  }
  return h;
}

std::shared_ptr<MolGNN> make_mol_gnn(const MolGNNConfig& config) {
  config.validate();
  if (config.model == "gine") return std::make_shared<GINE>(config);
  return std::make_shared<MPNN>(config);
}

// ---- target scaling -------------------------------------------------------------------------

namespace {
// (n) or (n, T) floating -> (n, T) f64 contiguous on the CPU.
Tensor as_2d_host(const Tensor& y, const char* what) {
  GALEN_CHECK(y.defined() && (y.dim() == 1 || y.dim() == 2), what, ": targets must be (n) or (n, T), got ",
              y.defined() ? shape_str(y.sizes()) : std::string("undefined"));
  GALEN_CHECK(y.dtype() == DType::f32 || y.dtype() == DType::f64, what, ": targets must be floating, got ",
              dtype_name(y.dtype()));
  Tensor t = y.dim() == 1 ? y.unsqueeze(1) : y;
  return t.to(Device{}).to(DType::f64).contiguous();
}
}  // namespace

TargetScaler TargetScaler::fit(const Tensor& y, const std::vector<int64_t>& rows) {
  Tensor t = as_2d_host(y, "TargetScaler::fit");
  const int64_t n = t.size(0), T = t.size(1);
  std::vector<int64_t> r = rows;
  if (r.empty()) {
    r.resize(static_cast<size_t>(n));
    std::iota(r.begin(), r.end(), 0);
  }
  GALEN_CHECK(!r.empty(), "TargetScaler::fit: no rows to fit on");
  const double* d = t.data<double>();
  TargetScaler s;
  for (int64_t j = 0; j < T; ++j) {
    double m = 0;
    for (int64_t i : r) {
      GALEN_CHECK(i >= 0 && i < n, "TargetScaler::fit: row ", i, " out of range [0, ", n, ")");
      const double v = d[i * T + j];
      GALEN_CHECK(std::isfinite(v), "TargetScaler::fit: target (", i, ", ", j, ") is not finite: ", v);
      m += v;
    }
    m /= static_cast<double>(r.size());
    double var = 0;
    for (int64_t i : r) var += (d[i * T + j] - m) * (d[i * T + j] - m);
    var = r.size() > 1 ? var / static_cast<double>(r.size() - 1) : 0.0;
    const double sd = std::sqrt(var);
    s.mean.push_back(m);
    s.std.push_back(sd > 1e-12 ? sd : 1.0);
  }
  return s;
}

Tensor TargetScaler::transform(const Tensor& y) const {
  GALEN_CHECK(fitted(), "TargetScaler::transform: the scaler is not fitted");
  Tensor t = y.dim() == 1 ? y.unsqueeze(1) : y;
  GALEN_CHECK(t.dim() == 2 && t.size(1) == static_cast<int64_t>(mean.size()), "TargetScaler::transform: expected (n, ",
              mean.size(), ") targets, got ", y.sizes());
  const TensorOptions o(DType::f32, y.device());
  Tensor m = from_vector<double>(mean, {1, static_cast<int64_t>(mean.size())}).to(o.dtype).to(o.device);
  Tensor s = from_vector<double>(std, {1, static_cast<int64_t>(std.size())}).to(o.dtype).to(o.device);
  return div(sub(t.to(DType::f32), m), s);
}

Tensor TargetScaler::inverse_transform(const Tensor& y) const {
  GALEN_CHECK(fitted(), "TargetScaler::inverse_transform: the scaler is not fitted");
  Tensor t = y.dim() == 1 ? y.unsqueeze(1) : y;
  GALEN_CHECK(t.dim() == 2 && t.size(1) == static_cast<int64_t>(mean.size()),
              "TargetScaler::inverse_transform: expected (n, ", mean.size(), ") values, got ", y.sizes());
  Tensor m = from_vector<double>(mean, {1, static_cast<int64_t>(mean.size())}).to(DType::f32).to(y.device());
  Tensor s = from_vector<double>(std, {1, static_cast<int64_t>(std.size())}).to(DType::f32).to(y.device());
  return add(mul(t.to(DType::f32), s), m);
}

json::Value TargetScaler::to_json() const {
  json::Array m, s;
  for (double v : mean) m.push_back(num(v));
  for (double v : std) s.push_back(num(v));
  json::Value o;
  o["mean"] = json::Value(std::move(m));
  o["std"] = json::Value(std::move(s));
  return o;
}

TargetScaler TargetScaler::from_json(const json::Value& v) {
  const json::Value* m = v.find("mean");
  const json::Value* s = v.find("std");
  GALEN_CHECK(m != nullptr && s != nullptr && m->is_array() && s->is_array() && m->size() == s->size(),
              "TargetScaler: expected {\"mean\": [...], \"std\": [...]} of equal lengths");
  TargetScaler t;
  for (const auto& x : m->as_array()) t.mean.push_back(x.as_double());
  for (const auto& x : s->as_array()) {
    GALEN_CHECK(x.as_double() > 0, "TargetScaler: std must be positive, got ", x.as_double());
    t.std.push_back(x.as_double());
  }
  return t;
}

// ---- dataset --------------------------------------------------------------------------------

MoleculeDataset MoleculeDataset::from_smiles(const std::vector<std::string>& smiles, const Tensor& targets) {
  std::vector<chem::Molecule> mols;
  mols.reserve(smiles.size());
  for (size_t i = 0; i < smiles.size(); ++i) {
    try {
      mols.push_back(chem::parse_smiles(smiles[i]));
    } catch (const Error& e) {
      GALEN_FAIL("MoleculeDataset: molecule ", i, ": ", e.what());
    }
  }
  MoleculeDataset ds = from_molecules(std::move(mols), targets);
  ds.smiles_ = smiles;
  return ds;
}

MoleculeDataset MoleculeDataset::from_molecules(std::vector<chem::Molecule> mols, const Tensor& targets) {
  MoleculeDataset ds;
  const int64_t n = static_cast<int64_t>(mols.size());
  if (targets.defined()) {
    Tensor t = as_2d_host(targets, "MoleculeDataset");
    GALEN_CHECK(t.size(0) == n, "MoleculeDataset: ", n, " molecules but ", t.size(0), " target rows");
    ds.targets_ = t.to(DType::f32);
  }
  ds.graphs_.reserve(mols.size());
  for (const auto& m : mols) ds.graphs_.push_back(chem::mol_to_graph(m));
  ds.mols_ = std::move(mols);
  ds.smiles_.assign(ds.mols_.size(), std::string());
  return ds;
}

const chem::MolGraph& MoleculeDataset::graph(int64_t i) const {
  GALEN_CHECK(i >= 0 && i < size(), "MoleculeDataset: index ", i, " out of range [0, ", size(), ")");
  return graphs_[static_cast<size_t>(i)];
}

data::GraphBatch MoleculeDataset::collate(const std::vector<int64_t>& indices, const TargetScaler* scaler) const {
  GALEN_CHECK(!indices.empty(), "MoleculeDataset::collate: no molecules");
  std::vector<data::Graph> gs;
  gs.reserve(indices.size());
  for (int64_t i : indices) {
    const chem::MolGraph& g = graph(i);
    gs.push_back({g.x, g.edge_index, g.edge_attr, Tensor()});
  }
  data::GraphBatch b = data::GraphBatch::collate(gs);
  if (!targets_.defined()) return b;
  Tensor y = targets_at(indices);
  if (scaler != nullptr) y = scaler->transform(y);
  return data::GraphBatch(b.x(), b.edge_index(), b.edge_attr(), b.batch(), b.num_graphs(), y);
}

Tensor MoleculeDataset::targets_at(const std::vector<int64_t>& indices) const {
  GALEN_CHECK(targets_.defined(), "MoleculeDataset: no targets");
  for (int64_t i : indices)
    GALEN_CHECK(i >= 0 && i < size(), "MoleculeDataset: index ", i, " out of range [0, ", size(), ")");
  return index_select(targets_, 0, from_vector<int64_t>(indices, {static_cast<int64_t>(indices.size())}));
}

std::vector<std::vector<int64_t>> make_batches(const std::vector<int64_t>& indices, int64_t batch_size, bool shuffle_,
                                               uint64_t seed, int64_t epoch) {
  GALEN_CHECK(batch_size >= 1, "make_batches: batch_size must be >= 1, got ", batch_size);
  std::vector<int64_t> order = indices;
  if (shuffle_) shuffle(order, mix(seed, static_cast<uint64_t>(epoch) + 1));
  std::vector<std::vector<int64_t>> out;
  for (size_t s = 0; s < order.size(); s += static_cast<size_t>(batch_size)) {
    const size_t e = std::min(order.size(), s + static_cast<size_t>(batch_size));
    out.emplace_back(order.begin() + static_cast<std::ptrdiff_t>(s), order.begin() + static_cast<std::ptrdiff_t>(e));
  }
  return out;
}

// ---- splits ---------------------------------------------------------------------------------

namespace {
void check_fracs(const char* what, double ft, double fv) {
  GALEN_CHECK(ft >= 0 && fv >= 0 && ft + fv <= 1.0 + 1e-12, what,
              ": fractions must be >= 0 with frac_train + frac_valid <= 1, got ", ft, ", ", fv);
}
}  // namespace

Split random_split(int64_t n, double ft, double fv, uint64_t seed) {
  check_fracs("random_split", ft, fv);
  GALEN_CHECK(n >= 0, "random_split: n must be >= 0, got ", n);
  std::vector<int64_t> p(static_cast<size_t>(n));
  std::iota(p.begin(), p.end(), 0);
  shuffle(p, mix(seed, 0x5151));
  const auto nt = static_cast<int64_t>(std::llround(static_cast<double>(n) * ft));
  const auto nv = std::min(n - nt, static_cast<int64_t>(std::llround(static_cast<double>(n) * fv)));
  Split s;
  s.train.assign(p.begin(), p.begin() + nt);
  s.valid.assign(p.begin() + nt, p.begin() + nt + nv);
  s.test.assign(p.begin() + nt + nv, p.end());
  return s;
}

std::string murcko_scaffold_key(const chem::Molecule& mol) {
  const int64_t n = mol.num_atoms();
  const auto nb = mol.neighbours();
  std::vector<char> keep(static_cast<size_t>(n), 1);
  std::vector<int> deg(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) deg[static_cast<size_t>(i)] = static_cast<int>(nb[static_cast<size_t>(i)].size());
  // Prune non-ring atoms with <= 1 remaining neighbour until none is left.
  std::vector<int64_t> stack;
  for (int64_t i = 0; i < n; ++i)
    if (!mol.atoms[static_cast<size_t>(i)].in_ring && deg[static_cast<size_t>(i)] <= 1) stack.push_back(i);
  while (!stack.empty()) {
    const int64_t i = stack.back();
    stack.pop_back();
    if (!keep[static_cast<size_t>(i)]) continue;
    keep[static_cast<size_t>(i)] = 0;
    for (auto [j, b] : nb[static_cast<size_t>(i)]) {
      if (!keep[static_cast<size_t>(j)]) continue;
      if (--deg[static_cast<size_t>(j)] <= 1 && !mol.atoms[static_cast<size_t>(j)].in_ring) stack.push_back(j);
    }
  }
  std::vector<int64_t> atoms;
  for (int64_t i = 0; i < n; ++i)
    if (keep[static_cast<size_t>(i)]) atoms.push_back(i);
  if (atoms.empty()) return "";
  int64_t nbonds = 0;
  for (const auto& b : mol.bonds)
    if (keep[static_cast<size_t>(b.begin)] && keep[static_cast<size_t>(b.end)]) ++nbonds;
  // Weisfeiler-Lehman refinement on the framework.
  std::vector<uint64_t> label(static_cast<size_t>(n), 0), next(static_cast<size_t>(n), 0);
  for (int64_t i : atoms) {
    const auto& a = mol.atoms[static_cast<size_t>(i)];
    label[static_cast<size_t>(i)] = mix(mix(0x1234, static_cast<uint64_t>(a.atomic_num)), a.aromatic ? 1 : 0);
  }
  const int64_t rounds = static_cast<int64_t>(atoms.size());
  for (int64_t r = 0; r < rounds; ++r) {
    for (int64_t i : atoms) {
      std::vector<uint64_t> env;
      for (auto [j, b] : nb[static_cast<size_t>(i)]) {
        if (!keep[static_cast<size_t>(j)]) continue;
        env.push_back(
            mix(static_cast<uint64_t>(mol.bonds[static_cast<size_t>(b)].type), label[static_cast<size_t>(j)]));
      }
      std::sort(env.begin(), env.end());
      uint64_t h = mix(label[static_cast<size_t>(i)], static_cast<uint64_t>(r) + 7);
      for (uint64_t e : env) h = mix(h, e);
      next[static_cast<size_t>(i)] = h;
    }
    // Stop when the partition no longer refines (counts of distinct labels stable).
    std::vector<uint64_t> a, b;
    for (int64_t i : atoms) {
      a.push_back(label[static_cast<size_t>(i)]);
      b.push_back(next[static_cast<size_t>(i)]);
    }
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    const auto da = std::unique(a.begin(), a.end()) - a.begin();
    const auto db = std::unique(b.begin(), b.end()) - b.begin();
    label.swap(next);
    if (db == da && r > 0) break;
  }
  std::vector<uint64_t> fin;
  for (int64_t i : atoms) fin.push_back(label[static_cast<size_t>(i)]);
  std::sort(fin.begin(), fin.end());
  uint64_t h = 0xABCDEF;
  for (uint64_t v : fin) h = mix(h, v);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "f%lld.%lld:%016llx", static_cast<long long>(atoms.size()),
                static_cast<long long>(nbonds), static_cast<unsigned long long>(h));
  return buf;
}

Split scaffold_split(const std::vector<chem::Molecule>& mols, double ft, double fv, uint64_t seed) {
  check_fracs("scaffold_split", ft, fv);
  const auto n = static_cast<int64_t>(mols.size());
  std::map<std::string, std::vector<int64_t>> groups;
  for (int64_t i = 0; i < n; ++i) groups[murcko_scaffold_key(mols[static_cast<size_t>(i)])].push_back(i);
  const double train_size = ft * static_cast<double>(n), valid_size = fv * static_cast<double>(n);
  const double test_size = static_cast<double>(n) - train_size - valid_size;
  std::vector<const std::vector<int64_t>*> big, small;
  for (const auto& [k, g] : groups) {
    const auto sz = static_cast<double>(g.size());
    (sz > valid_size / 2 || sz > test_size / 2 ? big : small).push_back(&g);
  }
  // Big groups largest first (ties by their first molecule, deterministic); small ones shuffled.
  std::sort(big.begin(), big.end(),
            [](auto* a, auto* b) { return a->size() != b->size() ? a->size() > b->size() : a->front() < b->front(); });
  std::vector<int64_t> order(small.size());
  std::iota(order.begin(), order.end(), 0);
  shuffle(order, mix(seed, 0x5CAF));
  std::vector<const std::vector<int64_t>*> all = big;
  for (int64_t k : order) all.push_back(small[static_cast<size_t>(k)]);
  Split s;
  for (const auto* g : all) {
    const auto sz = static_cast<double>(g->size());
    std::vector<int64_t>* dst = &s.test;
    if (static_cast<double>(s.train.size()) + sz <= train_size)
      dst = &s.train;
    else if (static_cast<double>(s.valid.size()) + sz <= valid_size)
      dst = &s.valid;
    dst->insert(dst->end(), g->begin(), g->end());
  }
  return s;
}

// ---- training helpers -----------------------------------------------------------------------

Tensor mol_loss(const Tensor& pred, const Tensor& y, const std::string& task) {
  GALEN_CHECK(pred.defined() && y.defined() && pred.dim() == 2, "mol_loss: pred must be (B, out_dim) and y defined");
  if (task == "regression") {
    GALEN_CHECK(y.sizes() == pred.sizes(), "mol_loss: regression targets ", y.sizes(), " do not match predictions ",
                pred.sizes());
    return mse_loss(pred, y.to(pred.dtype()));
  }
  if (task == "binary") {
    GALEN_CHECK(y.sizes() == pred.sizes(), "mol_loss: binary targets ", y.sizes(), " do not match logits ",
                pred.sizes());
    return binary_cross_entropy_with_logits(pred, y.to(pred.dtype()));
  }
  if (task == "multiclass") {
    GALEN_CHECK(y.numel() == pred.size(0), "mol_loss: multiclass needs one class index per molecule, got ", y.sizes());
    return cross_entropy(pred, y.reshape({pred.size(0)}).to(DType::i64));
  }
  GALEN_FAIL("mol_loss: unknown task '", task, "' (expected regression, binary or multiclass)");
}

double train_epoch(MolGNN& model, optim::Optimizer& opt, const MoleculeDataset& ds,
                   const std::vector<std::vector<int64_t>>& batches, const TargetScaler* scaler, Device device,
                   const std::string& task, const std::function<void(double, int64_t)>& on_batch) {
  model.train();
  double total = 0;
  int64_t count = 0;
  for (const auto& idx : batches) {
    data::GraphBatch b = ds.collate(idx, task == "regression" ? scaler : nullptr).to(device);
    GALEN_CHECK(b.y().defined(), "train_epoch: the dataset has no targets");
    Tensor loss = mol_loss(model.forward(b), b.y(), task);
    opt.zero_grad();
    loss.backward();
    opt.step();
    const double l = loss.item();
    total += l * static_cast<double>(idx.size());
    count += static_cast<int64_t>(idx.size());
    if (on_batch) on_batch(l, static_cast<int64_t>(idx.size()));
  }
  return count > 0 ? total / static_cast<double>(count) : 0.0;
}

Tensor predict(MolGNN& model, const MoleculeDataset& ds, const std::vector<int64_t>& indices,
               const TargetScaler* scaler, Device device, int64_t batch_size) {
  const bool was_training = model.is_training();
  model.eval();
  NoGradGuard ng;
  std::vector<Tensor> outs;
  for (const auto& idx : make_batches(indices, batch_size, false)) {
    data::GraphBatch b = ds.collate(idx).to(device);
    outs.push_back(model.forward(b).to(Device{}));
  }
  model.train(was_training);
  Tensor out = outs.empty() ? zeros({0, model.config().out_dim}) : cat(outs, 0);
  return scaler != nullptr ? scaler->inverse_transform(out) : out;
}

RegressionMetrics regression_metrics(const Tensor& pred, const Tensor& target) {
  GALEN_CHECK(pred.defined() && target.defined() && pred.numel() == target.numel() && pred.numel() > 0,
              "regression_metrics: pred and target must be non-empty with equal numel, got ",
              pred.defined() ? shape_str(pred.sizes()) : "undefined", " and ",
              target.defined() ? shape_str(target.sizes()) : "undefined");
  const std::vector<double> p = pred.reshape({-1}).to(Device{}).to(DType::f64).to_vector<double>();
  const std::vector<double> t = target.reshape({-1}).to(Device{}).to(DType::f64).to_vector<double>();
  const auto n = static_cast<double>(p.size());
  double mean_t = 0;
  for (double v : t) mean_t += v;
  mean_t /= n;
  double ss_res = 0, ss_tot = 0, abs_err = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    ss_res += (p[i] - t[i]) * (p[i] - t[i]);
    ss_tot += (t[i] - mean_t) * (t[i] - mean_t);
    abs_err += std::abs(p[i] - t[i]);
  }
  RegressionMetrics m;
  m.n = static_cast<int64_t>(p.size());
  m.rmse = std::sqrt(ss_res / n);
  m.mae = abs_err / n;
  m.r2 = ss_tot > 0 ? 1.0 - ss_res / ss_tot : (ss_res == 0 ? 1.0 : 0.0);
  return m;
}

// ---- checkpoints ----------------------------------------------------------------------------

void save_mol_gnn(const std::string& path, const MolGNN& model, const TargetScaler& scaler, const json::Value& extra,
                  int64_t epoch) {
  json::Value meta;
  meta["mol_gnn"] = model.config().to_json();
  meta["scaler"] = scaler.to_json();
  meta["extra"] = extra;
  data::Checkpoint ck;
  for (const auto& [k, v] : model.state_dict()) ck.model[k] = v.to(Device{});
  ck.epoch = epoch;
  ck.rng = get_rng_state();
  ck.metadata = json::write(meta);
  data::save_checkpoint(path, ck);
}

LoadedMolGNN load_mol_gnn(const std::string& path) {
  data::Checkpoint ck = data::load_checkpoint(path);
  LoadedMolGNN out;
  try {
    json::Value meta = json::parse(ck.metadata);
    const json::Value* cfg = meta.find("mol_gnn");
    GALEN_CHECK(cfg != nullptr, "no \"mol_gnn\" config in the metadata (not a molecule-GNN checkpoint)");
    out.model = make_mol_gnn(MolGNNConfig::from_json(*cfg));
    if (const json::Value* s = meta.find("scaler"); s != nullptr && s->is_object() && s->size() > 0)
      out.scaler = TargetScaler::from_json(*s);
    if (const json::Value* e = meta.find("extra"); e != nullptr) out.extra = *e;
    out.model->load_state_dict(ck.model);
  } catch (const Error& e) {
    GALEN_FAIL("load_mol_gnn: ", path, ": ", e.what());
  }
  out.model->eval();
  out.epoch = ck.epoch;
  return out;
}

}  // namespace galen::zoo
