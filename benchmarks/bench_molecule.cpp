// molecule_epoch: one training epoch (forward, MSE, backward, Adam lr 1e-3) of
// the zoo's molecular GNNs over 1024 real NCI molecules (TPSA targets,
// standardised; batches of 64, collated once before timing on both sides),
// galen's zoo::GINE / zoo::MPNN vs the same models in LibTorch with
// index_select / index_add message passing (torch_peer_molecule.cpp).
// Architectures are the molecule_gnn example's defaults: GIN-E hidden 64, 4
// layers; MPNN hidden 32, 3 steps, edge network 5 -> 32 -> 32*32; sum readout,
// head 64. Unit: ms per epoch (lower is better). The model keeps training from
// run to run on both sides (the targets are real, so the weights stay sane).
// Data: tests/fixtures/molecules/nci_first_5k.tpsa.csv.gz of the source tree
// (found from the working directory or the executable's directory upwards).
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "benches.h"
#include "galen/core/ops.h"
#include "galen/core/random.h"
#include "galen/data/csv.h"
#include "galen/optim/adam.h"
#include "galen/zoo/molecule.h"
#include "torch_peer.h"
#include "torch_peer_molecule.h"

namespace galen_bench {

namespace {
constexpr int64_t kMolecules = 1024, kBatch = 64;

// The fixture, looked for from the working directory and the executable's
// directory upwards (a build directory is usually inside the source tree).
std::string data_file() {
  namespace fs = std::filesystem;
  const fs::path rel = fs::path("tests/fixtures/molecules") / "nci_first_5k.tpsa.csv.gz";
  std::vector<fs::path> starts{fs::current_path()};
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) starts.push_back(exe.parent_path());
  for (fs::path d : starts) {
    for (; !d.empty(); d = d.parent_path()) {
      if (fs::exists(d / rel)) return (d / rel).string();
      if (d == d.parent_path()) break;
    }
  }
  return rel.string();
}

struct Prepared {
  std::vector<galen::data::GraphBatch> batches;
  // Host copies for the peer (contiguous; y as (G) f32).
  std::vector<galen::Tensor> keep;
  std::vector<torch_peer::MolBatch> views;
};

std::shared_ptr<Prepared> prepare() {
  galen::data::CsvOptions o;
  o.header = false;
  o.skip_rows = 1;
  o.types["0"] = galen::data::ColumnType::String;
  galen::data::CsvTable t = galen::data::read_csv(data_file(), o);
  std::vector<std::string> smi(t.strings("0").begin(), t.strings("0").begin() + kMolecules);
  std::vector<double> y(t.numeric("1").begin(), t.numeric("1").begin() + kMolecules);
  auto ds = galen::zoo::MoleculeDataset::from_smiles(smi, galen::from_vector<double>(y, {kMolecules}));
  auto sc = galen::zoo::TargetScaler::fit(ds.targets());
  std::vector<int64_t> idx(kMolecules);
  for (int64_t i = 0; i < kMolecules; ++i) idx[static_cast<size_t>(i)] = i;
  auto p = std::make_shared<Prepared>();
  for (const auto& b : galen::zoo::make_batches(idx, kBatch, true, 0, 0)) {
    galen::data::GraphBatch gb = ds.collate(b, &sc);
    galen::Tensor x = gb.x().contiguous(), ei = gb.edge_index().contiguous(), ea = gb.edge_attr().contiguous();
    galen::Tensor bt = gb.batch().contiguous(), yy = gb.y().reshape({-1}).contiguous();
    p->keep.insert(p->keep.end(), {x, ei, ea, bt, yy});
    p->views.push_back({x.data<float>(), x.size(0), x.size(1), ei.data<int64_t>(), ei.size(1), ea.data<float>(),
                        ea.size(1), bt.data<int64_t>(), gb.num_graphs(), yy.data<float>()});
    p->batches.push_back(gb);
  }
  return p;
}
}  // namespace

Bench bench_molecule() {
  Bench b;
  b.name = "molecule_epoch";
  b.description = "one training epoch of GIN-E / MPNN on 1024 NCI molecules (batch 64), ms vs LibTorch index_add";
  b.skip_reason = [] {
    return std::filesystem::exists(data_file()) ? std::string() : "molecule_epoch: " + data_file() + " not found";
  };
  b.cases = [] {
    std::vector<Case> cases;
    for (const char* model : {"gine", "mpnn"}) {
      Case c;
      const bool gine = std::string(model) == "gine";
      c.name = gine ? "gine_h64_l4_1024mol_b64" : "mpnn_h32_t3_1024mol_b64";
      c.unit = Unit::Ms;
      c.setup = [gine] {
        galen::manual_seed(0);
        std::shared_ptr<Prepared> p = prepare();
        galen::zoo::MolGNNConfig cfg;
        cfg.model = gine ? "gine" : "mpnn";
        cfg.hidden = gine ? 64 : 32;
        cfg.layers = gine ? 4 : 3;
        cfg.head_hidden = 64;
        cfg.edge_hidden = 32;
        cfg.readout = "sum";
        std::shared_ptr<galen::zoo::MolGNN> net = galen::zoo::make_mol_gnn(cfg);
        auto opt = std::make_shared<galen::optim::Adam>(net->parameters(), galen::optim::AdamOptions{1e-3});
        std::vector<Impl> impls;
        impls.push_back({"galen",
                         false,
                         [p, net, opt]() {
                           net->train();
                           for (const auto& gb : p->batches) {
                             galen::Tensor loss = galen::mse_loss(net->forward(gb), gb.y());
                             opt->zero_grad();
                             loss.backward();
                             opt->step();
                           }
                         },
                         {}});
        if (torch_peer::kBuilt) {
          torch_peer::MolSpec spec{cfg.model, cfg.hidden, cfg.layers, cfg.head_hidden, cfg.edge_hidden};
          auto fn = torch_peer::molecule_epoch(p->views, spec);
          impls.push_back({"libtorch", true, [p, fn]() { fn(); }, {}});
        } else {
          note("molecule_epoch: no LibTorch peer (galen_bench built without LibTorch)");
        }
        return impls;
      };
      cases.push_back(c);
    }
    return cases;
  };
  return b;
}

static Register register_molecule(66, bench_molecule);

}  // namespace galen_bench
