// progression_epoch: one training epoch of the disease-progression model (zoo/progression.h) on the real PBC records
// (data/files/pbcseq.csv: 312 patients, 1-16 visits, 31 inputs per visit), batches of 32 patients in a seeded order,
// galen (zoo::pbc::train, 1 epoch) vs the same model, loss and optimiser in LibTorch on the same data and batch
// order (torch_peer_progression.cpp).
//   unit: ms per epoch (lower is better); model and optimiser are created inside the timed run on both sides.
//   cases: lstm + attention head (the example's default) and gru + last-state head.
// The data file: see pbc_path() (set GALEN_PBC_CSV to point elsewhere).
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "benches.h"
#include "galen/core/random.h"
#include "galen/data/generator.h"
#include "galen/data/longitudinal.h"
#include "galen/zoo/progression.h"
#include "torch_peer.h"
#include "torch_peer_progression.h"

namespace galen_bench {

namespace {

// $GALEN_PBC_CSV, else beside this source file when __FILE__ is absolute, else data/files/pbcseq.csv from the
// working directory or up to two levels above it (the repository root, build-dev/, build-dev/benchmarks/).
std::string pbc_path() {
  if (const char* env = std::getenv("GALEN_PBC_CSV")) return env;
  const std::filesystem::path src(__FILE__);
  std::vector<std::filesystem::path> cands;
  if (src.is_absolute()) cands.push_back(src.parent_path().parent_path() / "data/files/pbcseq.csv");
  for (const char* c : {"data/files/pbcseq.csv", "../data/files/pbcseq.csv", "../../data/files/pbcseq.csv"})
    cands.emplace_back(c);
  for (const auto& c : cands)
    if (std::filesystem::exists(c)) return c.string();
  return "data/files/pbcseq.csv";
}

Case make_case(const std::string& cell, const std::string& head) {
  Case c;
  c.name = cell + "_" + head + "_312pt_b32";
  c.unit = Unit::Ms;
  c.setup = [cell, head] {
    namespace data = galen::data;
    namespace zoo = galen::zoo;
    auto d =
        std::make_shared<data::LongitudinalData>(data::read_longitudinal_csv(pbc_path(), data::pbc::pbcseq_spec()));
    std::vector<int64_t> all(static_cast<size_t>(d->num_patients()));
    for (int64_t i = 0; i < d->num_patients(); ++i) all[static_cast<size_t>(i)] = i;
    const data::VisitStandardizer st = data::fit_standardizer(*d, all);
    auto t = std::make_shared<zoo::pbc::PbcTensors>(zoo::pbc::make_tensors(*d, st, all));
    zoo::ProgressionOptions mo;
    mo.input_size = t->batch.x.size(2);
    mo.skip_feature = t->bili_index;
    mo.cell = cell;
    mo.head = head;
    zoo::pbc::TrainOptions to;
    to.epochs = 1;
    to.seed = 0;

    std::vector<Impl> impls;
    impls.push_back({"galen",
                     false,
                     [t, mo, to]() {
                       galen::manual_seed(0);
                       zoo::ProgressionModel model(mo);
                       zoo::pbc::train(model, *t, to);
                     },
                     {}});
    if (torch_peer::kBuilt) {
      torch_peer::ProgressionEpoch e;
      e.B = t->batch.x.size(0);
      e.T = t->batch.x.size(1);
      e.F = t->batch.x.size(2);
      e.x = t->batch.x.contiguous().to_vector<float>();
      e.lengths = t->batch.lengths.to_vector<int64_t>();
      e.risk = t->risk.values.to_vector<float>();
      e.next = t->next.values.to_vector<float>();
      e.risk_known = t->risk.known.to_vector<uint8_t>();
      e.next_known = t->next.known.to_vector<uint8_t>();
      e.order = data::permutation(e.B, to.seed * 1000003ULL);  // the order zoo::pbc::train uses in epoch 0
      e.batch = to.batch_size;
      e.hidden = mo.hidden_size;
      e.attn_hidden = mo.attn_hidden;
      e.skip_feature = mo.skip_feature;
      e.lstm = cell == "lstm";
      e.attention = head == "attention";
      e.lr = to.lr;
      e.weight_decay = to.weight_decay;
      e.head_dropout = mo.head_dropout;
      e.clip_norm = to.clip_norm;
      impls.push_back({"libtorch", true, torch_peer::progression_epoch(e), {}});
    } else {
      note("progression_epoch: no LibTorch peer (galen_bench built without LibTorch)");
    }
    return impls;
  };
  return c;
}

}  // namespace

Bench bench_progression_epoch() {
  Bench b;
  b.name = "progression_epoch";
  b.description = "one training epoch of the PBC progression model (312 patients, batch 32), ms vs LibTorch";
  b.skip_reason = [] {
    return std::filesystem::exists(pbc_path())
               ? std::string()
               : "data file " + pbc_path() + " not found (run from the repository or set GALEN_PBC_CSV)";
  };
  b.cases = [] { return std::vector<Case>{make_case("lstm", "attention"), make_case("gru", "last")}; };
  return b;
}

static Register register_progression_epoch(75, bench_progression_epoch);

}  // namespace galen_bench
