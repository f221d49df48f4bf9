// Molecular GNNs (zoo/molecule.h): training lowers the loss, save -> load gives
// identical predictions, the molecule-level output does not depend on the atom
// order of the SMILES, collated batches equal per-molecule forwards, and the
// dataset helpers (target scaling, splits, Murcko-like scaffolds, errors).
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "test_util.h"

using namespace galen;

namespace {

// The first n NCI molecules with their TPSA (tests/fixtures/molecules, from rdkit-data).
zoo::MoleculeDataset tpsa_head(int64_t n) {
  data::CsvOptions o;
  o.header = false;
  o.skip_rows = 1;  // "# TPSA data calculated ..."
  o.types["0"] = data::ColumnType::String;
  data::CsvTable t = data::read_csv(std::string(GALEN_FIXTURES_DIR) + "/molecules/nci_first_5k.tpsa.csv.gz", o);
  REQUIRE(t.rows() == 4999);
  std::vector<std::string> smi(t.strings("0").begin(), t.strings("0").begin() + n);
  std::vector<double> y(t.numeric("1").begin(), t.numeric("1").begin() + n);
  return zoo::MoleculeDataset::from_smiles(smi, from_vector<double>(y, {n}));
}

double at(const Tensor& t, int64_t i, int64_t j) { return t.select(0, i).select(0, j).item(); }

std::vector<int64_t> iota_vec(int64_t n) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = i;
  return v;
}

zoo::MolGNNConfig small_config(const std::string& model, const std::string& readout = "sum") {
  zoo::MolGNNConfig c;
  c.model = model;
  c.hidden = 16;
  c.head_hidden = 16;
  c.edge_hidden = 16;
  c.layers = 2;
  c.readout = readout;
  return c;
}

}  // namespace

TEST_CASE("molecule: a short training run lowers the loss (GIN-E and MPNN)", "[molecule]") {
  zoo::MoleculeDataset ds = tpsa_head(96);
  const std::vector<int64_t> all = iota_vec(ds.size());
  zoo::TargetScaler sc = zoo::TargetScaler::fit(ds.targets(), all);
  for (const char* model : {"gine", "mpnn"}) {
    INFO(model);
    manual_seed(1);
    auto net = zoo::make_mol_gnn(small_config(model));
    optim::Adam opt(net->parameters(), optim::AdamOptions{3e-3});
    double first = 0, last = 0;
    for (int64_t e = 0; e < 12; ++e) {
      const double l = zoo::train_epoch(*net, opt, ds, zoo::make_batches(all, 16, true, 7, e), &sc, Device{});
      if (e == 0) first = l;
      last = l;
    }
    INFO("first epoch " << first << ", last " << last);
    CHECK(std::isfinite(last));
    CHECK(last < 0.3 * first);
    // And in eval mode the fit is real: R² on the training molecules well above 0.
    Tensor pred = zoo::predict(*net, ds, all, &sc, Device{});
    CHECK(zoo::regression_metrics(pred, ds.targets()).r2 > 0.6);
  }
}

TEST_CASE("molecule: predictions are identical after save -> load", "[molecule]") {
  zoo::MoleculeDataset ds = tpsa_head(40);
  const std::vector<int64_t> all = iota_vec(ds.size());
  zoo::TargetScaler sc = zoo::TargetScaler::fit(ds.targets(), all);
  const std::string path = (std::filesystem::temp_directory_path() / "galen_test_molgnn.safetensors").string();
  for (const auto& [model, readout] : std::vector<std::pair<std::string, std::string>>{
           {"gine", "sum"}, {"gine", "attention"}, {"mpnn", "set2set"}, {"mpnn", "mean"}}) {
    INFO(model << " / " << readout);
    manual_seed(2);
    auto net = zoo::make_mol_gnn(small_config(model, readout));
    optim::Adam opt(net->parameters(), optim::AdamOptions{1e-2});
    zoo::train_epoch(*net, opt, ds, zoo::make_batches(all, 8, true, 1, 0), &sc, Device{});  // moves BN stats too
    const Tensor before = zoo::predict(*net, ds, all, &sc, Device{});
    json::Object extra;
    extra.emplace_back("task", "tpsa");
    zoo::save_mol_gnn(path, *net, sc, json::Value(std::move(extra)), 3);
    zoo::LoadedMolGNN back = zoo::load_mol_gnn(path);
    CHECK(back.epoch == 3);
    CHECK(back.model->config().model == model);
    CHECK(back.model->config().readout == readout);
    CHECK(back.scaler.mean == sc.mean);
    CHECK(back.scaler.std == sc.std);
    REQUIRE(back.extra.find("task") != nullptr);
    CHECK(back.extra.find("task")->as_string() == "tpsa");
    CHECK(!back.model->is_training());
    const Tensor after = zoo::predict(*back.model, ds, all, &back.scaler, Device{});
    CHECK(equal(before, after));
  }
  std::filesystem::remove(path);
}

TEST_CASE("molecule: the prediction does not depend on the SMILES atom order", "[molecule]") {
  // Each pair: one molecule written from two different starting atoms / ring orders.
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {"CC(=O)Oc1ccccc1C(=O)O", "OC(=O)c1ccccc1OC(C)=O"},            // aspirin
      {"Cn1cnc2c1c(=O)n(C)c(=O)n2C", "O=c1n(C)c(=O)c2c(ncn2C)n1C"},  // caffeine
      {"c1ccc2c(c1)cccc2N", "Nc1cccc2ccccc12"},                      // 1-naphthylamine
      {"C[N+](C)(C)CC(=O)[O-]", "[O-]C(=O)C[N+](C)(C)C"},            // betaine (charges)
      {"Clc1ccc(cc1)S(=O)(=O)N", "NS(=O)(=O)c1ccc(Cl)cc1"}};
  std::vector<std::string> smi;
  for (const auto& [a, b] : pairs) {
    smi.push_back(a);
    smi.push_back(b);
  }
  zoo::MoleculeDataset ds = zoo::MoleculeDataset::from_smiles(smi);
  for (const char* model : {"gine", "mpnn"}) {
    for (const char* readout : {"sum", "mean", "attention", "set2set"}) {
      INFO(model << " / " << readout);
      manual_seed(3);
      auto net = zoo::make_mol_gnn(small_config(model, readout));
      const Tensor out = zoo::predict(*net, ds, iota_vec(ds.size()), nullptr, Device{});  // eval mode
      for (size_t p = 0; p < pairs.size(); ++p) {
        INFO(pairs[p].first << " vs " << pairs[p].second);
        REQUIRE(ds.molecules()[2 * p].num_atoms() == ds.molecules()[2 * p + 1].num_atoms());
        const Tensor a = out.narrow(0, static_cast<int64_t>(2 * p), 1);
        const Tensor b = out.narrow(0, static_cast<int64_t>(2 * p + 1), 1);
        // Only the float summation order differs.
        REQUIRE_CLOSE(b, a, 1e-5, 1e-5);
      }
      // The pairs are different molecules, so a constant output would pass the check above: rule it out.
      CHECK(std::abs(at(out, 0, 0) - at(out, 2, 0)) > 1e-6);
    }
  }
}

TEST_CASE("molecule: a collated batch equals per-molecule forwards", "[molecule]") {
  zoo::MoleculeDataset ds = tpsa_head(12);
  ds = zoo::MoleculeDataset::from_smiles(
      {ds.smiles()[0], ds.smiles()[1], "C", "[Na+].[Cl-]", ds.smiles()[5], "c1ccccc1", ds.smiles()[11]});
  const std::vector<int64_t> all = iota_vec(ds.size());
  for (const char* model : {"gine", "mpnn"}) {
    for (const char* readout : {"sum", "attention", "set2set"}) {
      INFO(model << " / " << readout);
      manual_seed(4);
      auto net = zoo::make_mol_gnn(small_config(model, readout));
      net->eval();
      NoGradGuard ng;
      const data::GraphBatch b = ds.collate(all);
      CHECK(b.num_graphs() == ds.size());
      const Tensor batched = net->forward(b);
      REQUIRE(batched.sizes() == Shape{ds.size(), 1});
      for (int64_t i = 0; i < ds.size(); ++i) {
        INFO("molecule " << i);
        const Tensor one = net->forward(ds.collate({i}));
        REQUIRE_CLOSE(one, batched.narrow(0, i, 1), 1e-5, 1e-5);
      }
    }
  }
}

TEST_CASE("molecule: dataset, target scaling and collation", "[molecule]") {
  const std::vector<std::string> smi = {"CCO", "c1ccccc1O", "CC(=O)O", "N"};
  Tensor y = from_vector<double>({1.0, 2.0, 4.0, 100.0, 10.0, 20.0, 40.0, 1000.0}, {2, 4}).t().contiguous();
  zoo::MoleculeDataset ds = zoo::MoleculeDataset::from_smiles(smi, y);
  REQUIRE(ds.size() == 4);
  REQUIRE(ds.num_targets() == 2);
  // Fitted on rows 0..2 only: row 3 (100 / 1000) must not move the statistics.
  zoo::TargetScaler sc = zoo::TargetScaler::fit(ds.targets(), {0, 1, 2});
  REQUIRE(sc.mean.size() == 2);
  CHECK(sc.mean[0] == Approx(7.0 / 3.0).epsilon(1e-12));
  CHECK(sc.mean[1] == Approx(70.0 / 3.0).epsilon(1e-12));
  CHECK(sc.std[0] == Approx(std::sqrt(((1 - 7.0 / 3) * (1 - 7.0 / 3) + (2 - 7.0 / 3) * (2 - 7.0 / 3) +
                                       (4 - 7.0 / 3) * (4 - 7.0 / 3)) /
                                      2.0))
                         .epsilon(1e-12));
  const data::GraphBatch b = ds.collate({3, 1}, &sc);
  CHECK(b.num_graphs() == 2);
  CHECK(b.num_nodes() == 1 + 7);
  CHECK(b.num_edges() == 2 * 7);
  REQUIRE(b.y().sizes() == Shape{2, 2});
  CHECK(at(b.y(), 0, 0) == Approx((100.0 - sc.mean[0]) / sc.std[0]).epsilon(1e-6));
  CHECK(at(b.y(), 1, 1) == Approx((20.0 - sc.mean[1]) / sc.std[1]).epsilon(1e-6));
  REQUIRE_CLOSE(sc.inverse_transform(sc.transform(ds.targets())), ds.targets(), 1e-3, 1e-6);
  // Unscaled collation gives the raw targets.
  CHECK(at(ds.collate({3}).y(), 0, 1) == 1000.0);
  // A constant column gets std 1.
  CHECK(zoo::TargetScaler::fit(full({5}, 3.0)).std[0] == 1.0);
  // Batches: a permutation of the indices, fixed by (seed, epoch).
  const auto b1 = zoo::make_batches(iota_vec(10), 3, true, 5, 0), b2 = zoo::make_batches(iota_vec(10), 3, true, 5, 0);
  const auto b3 = zoo::make_batches(iota_vec(10), 3, true, 5, 1);
  CHECK(b1 == b2);
  CHECK(b1 != b3);
  REQUIRE(b1.size() == 4);
  CHECK(b1.back().size() == 1);
  std::set<int64_t> seen;
  for (const auto& v : b1) seen.insert(v.begin(), v.end());
  CHECK(seen.size() == 10);
  // Regression metrics on a hand-computed case.
  zoo::RegressionMetrics m = zoo::regression_metrics(tensor<float>({1, 2, 3}), tensor<float>({1, 2, 5}));
  CHECK(m.rmse == Approx(std::sqrt(4.0 / 3.0)));
  CHECK(m.mae == Approx(2.0 / 3.0));
  CHECK(m.r2 == Approx(1.0 - 4.0 / (78.0 / 9.0)).epsilon(1e-12));  // mean 8/3: SS_tot = (25 + 4 + 49) / 9
}

TEST_CASE("molecule: Murcko-like scaffolds and the scaffold split", "[molecule]") {
  auto key = [](const std::string& s) { return zoo::murcko_scaffold_key(chem::parse_smiles(s)); };
  CHECK(key("CCO").empty());
  CHECK(key("CC(C)CC(=O)O").empty());
  CHECK(!key("c1ccccc1").empty());
  CHECK(key("c1ccccc1") == key("Cc1ccccc1"));  // side chains removed
  CHECK(key("c1ccccc1") == key("OC(=O)c1ccccc1CCCC"));
  CHECK(key("c1ccccc1") != key("c1ccncc1"));           // pyridine differs
  CHECK(key("c1ccccc1") != key("C1CCCCC1"));           // aromaticity matters
  CHECK(key("c1ccccc1") != key("c1ccccc1-c1ccccc1"));  // biphenyl
  // The linker is kept and its length matters; atom order does not.
  CHECK(key("c1ccccc1CCc1ccncc1") == key("c1cnccc1CCc1ccccc1"));
  CHECK(key("c1ccccc1CCc1ccncc1") == key("Oc1ccc(CCc2ccncc2)cc1C"));
  CHECK(key("c1ccccc1CCc1ccncc1") != key("c1ccccc1CCCc1ccncc1"));
  CHECK(key("c1ccccc1CCc1ccncc1") != key("c1ccccc1CCc1cccnc1"));  // 4- vs 3-pyridyl
  CHECK(key("c1ccccc1CCc1ccncc1").rfind("f14.15:", 0) == 0);      // 6 + 2 + 6 atoms, 6 + 3 + 6 bonds

  // The ChEMBL set: every molecule in exactly one split, no scaffold in two.
  std::vector<chem::Molecule> mols =
      chem::read_smiles_file(std::string(GALEN_FIXTURES_DIR) + "/molecules/CHEMBL2321810.smi.gz");
  REQUIRE(mols.size() == 1017);
  zoo::Split s = zoo::scaffold_split(mols, 0.8, 0.1, 0);
  CHECK(s.train.size() + s.valid.size() + s.test.size() == mols.size());
  std::set<int64_t> all;
  std::map<std::string, int> where;
  int splitno = 0;
  for (const auto* part : {&s.train, &s.valid, &s.test}) {
    for (int64_t i : *part) {
      CHECK(all.insert(i).second);
      const std::string k = zoo::murcko_scaffold_key(mols[static_cast<size_t>(i)]);
      auto [it, fresh] = where.emplace(k, splitno);
      if (!fresh && it->second != splitno) FAIL("scaffold " << k << " in splits " << it->second << " and " << splitno);
    }
    ++splitno;
  }
  CHECK(s.train.size() <= static_cast<size_t>(0.8 * 1017));
  CHECK(s.valid.size() <= static_cast<size_t>(0.1 * 1017 + 1));
  CHECK(s.test.size() >= 50);  // the remainder is a real test set
  CHECK(where.size() > 20);    // many distinct frameworks in one assay
  // Seeded and deterministic.
  zoo::Split s2 = zoo::scaffold_split(mols, 0.8, 0.1, 0);
  CHECK(s2.test == s.test);
  zoo::Split r = zoo::random_split(1017, 0.8, 0.1, 3);
  CHECK(r.train.size() == 814);
  CHECK(r.valid.size() == 102);
  CHECK(r.test.size() == 101);
  CHECK(zoo::random_split(1017, 0.8, 0.1, 3).test == r.test);
  CHECK(zoo::random_split(1017, 0.8, 0.1, 4).test != r.test);
}

TEST_CASE("molecule: bad input is a clear error", "[molecule]") {
  auto throws_with = [](const std::function<void()>& f, const std::string& needle) {
    try {
      f();
      FAIL("no error; expected '" << needle << "'");
    } catch (const Error& e) {
      INFO(e.what());
      CHECK(std::string(e.what()).find(needle) != std::string::npos);
    }
  };
  throws_with([] { zoo::MoleculeDataset::from_smiles({"CCO", "C1CC"}); }, "molecule 1");
  throws_with([] { zoo::MoleculeDataset::from_smiles({"CCO", "CC(C"}); }, "at position 2 in 'CC(C'");
  throws_with([] { zoo::MoleculeDataset::from_smiles({"CCO", "CC"}, zeros({3})); }, "2 molecules but 3 target rows");
  throws_with([] { zoo::MoleculeDataset::from_smiles({"CCO"}, zeros({1}, DType::i64)); }, "must be floating");
  zoo::MoleculeDataset ds = zoo::MoleculeDataset::from_smiles({"CCO"}, zeros({1}));
  throws_with([&] { ds.collate({1}); }, "index 1 out of range");
  throws_with(
      [] {
        zoo::MolGNNConfig c;
        c.readout = "max";
        c.validate();
      },
      "readout must be");
  throws_with(
      [] {
        zoo::MolGNNConfig c;
        c.model = "gat";
        zoo::make_mol_gnn(c);
      },
      "model must be");
  throws_with([] { zoo::MolGNNConfig::from_json(json::parse("{\"hidden\": 8, \"colour\": 1}")); },
              "unknown key 'colour'");
  throws_with([] { zoo::random_split(10, 0.8, 0.3, 0); }, "frac_train + frac_valid <= 1");
  // A checkpoint that is not a molecule GNN.
  const std::string path = (std::filesystem::temp_directory_path() / "galen_test_not_molgnn.safetensors").string();
  data::Checkpoint ck;
  ck.model["w"] = zeros({2});
  data::save_checkpoint(path, ck);
  throws_with([&] { zoo::load_mol_gnn(path); }, "not a molecule-GNN checkpoint");
  std::filesystem::remove(path);
  // Wrong feature width.
  auto net = zoo::make_mol_gnn(small_config("gine"));
  data::GraphBatch bad(zeros({3, 7}), zeros({2, 0}, DType::i64), zeros({0, chem::kBondFeatureDim}));
  throws_with([&] { net->forward(bad); }, "batch.x must be (num_nodes, 51)");
}

TEST_CASE("molecule: GIN-E's node batch norm equals BatchNorm1d on (N, C)", "[molecule]") {
  // GINE normalises node features through the (1, C, N) view (a faster memory
  // order for the CPU kernels); outputs, gradients and running statistics must
  // equal BatchNorm1d's on the (N, C) input.
  manual_seed(5);
  auto net = std::static_pointer_cast<zoo::GINE>(zoo::make_mol_gnn(small_config("gine")));
  std::shared_ptr<nn::Module> node_bn = (*net->norms)[0];
  CHECK(node_bn->name() == "BatchNorm1d");
  nn::BatchNorm1d ref(16);
  nn::init::uniform_(node_bn->find_tensor("weight"), 0.5, 1.5);
  nn::init::uniform_(node_bn->find_tensor("bias"), -0.5, 0.5);
  ref.load_state_dict(node_bn->state_dict());
  const Tensor x = randn({37, 16}).mul_(3.0).add_(full({37, 16}, 1.5));
  Tensor xa = x.clone().requires_grad_(), xb = x.clone().requires_grad_();
  const Tensor w = randn({37, 16});
  Tensor ya = node_bn->forward(xa), yb = ref.forward(xb);
  REQUIRE_CLOSE(ya, yb, 1e-5, 1e-5);
  sum(mul(ya, w)).backward();
  sum(mul(yb, w)).backward();
  REQUIRE_CLOSE(xa.grad(), xb.grad(), 1e-5, 1e-5);
  REQUIRE_CLOSE(node_bn->find_tensor("weight").grad(), ref.weight.grad(), 1e-4, 1e-5);
  REQUIRE_CLOSE(node_bn->find_tensor("running_mean"), ref.running_mean, 1e-6, 1e-5);
  REQUIRE_CLOSE(node_bn->find_tensor("running_var"), ref.running_var, 1e-6, 1e-5);
  node_bn->eval();
  ref.eval();
  REQUIRE_CLOSE(node_bn->forward(x), ref.forward(x), 1e-5, 1e-5);
}
