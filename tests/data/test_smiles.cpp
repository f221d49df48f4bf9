// SMILES parser, perception, graph features and fingerprint: hand-made cases
// (rings, aromatics, charges, brackets, isotopes, %nn closures, explicit H,
// invalid strings with positions) and agreement with RDKit on the 4999 NCI and
// 1017 ChEMBL molecules (tools/make_smiles_fixtures.py).
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <set>

#include "chem_fixture.h"
#include "galen/data/csv.h"
#include "galen/data/fingerprint.h"
#include "galen/data/smiles.h"
#include "test_util.h"

using namespace galen;
using namespace galen::chem;

namespace {

const std::string kMolDir = std::string(GALEN_FIXTURES_DIR) + "/molecules/";

std::vector<int> aromatic_flags(const Molecule& m) {
  std::vector<int> v;
  for (const auto& a : m.atoms) v.push_back(a.aromatic);
  return v;
}
std::vector<int> h_counts(const Molecule& m) {
  std::vector<int> v;
  for (const auto& a : m.atoms) v.push_back(a.total_h());
  return v;
}
int count_bonds(const Molecule& m, BondType t) {
  return static_cast<int>(std::count_if(m.bonds.begin(), m.bonds.end(), [t](const Bond& b) { return b.type == t; }));
}

// Expects parse_smiles(s) to throw an Error that mentions `needle` and "position <pos>".
void expect_smiles_error(const std::string& s, const std::string& needle, int pos) {
  INFO("SMILES '" << s << "'");
  try {
    parse_smiles(s);
    FAIL("no error");
  } catch (const Error& e) {
    const std::string msg = e.what();
    INFO(msg);
    CHECK(msg.find(needle) != std::string::npos);
    if (pos >= 0) CHECK(msg.find("at position " + std::to_string(pos) + " in '" + s + "'") != std::string::npos);
  }
}

}  // namespace

TEST_CASE("smiles: agrees with RDKit on NCI and ChEMBL molecules", "[chem]") {
  // Molecules where we differ from RDKit, all in the NCI set. RDKit rejects
  // each of them in sanitisation ("Explicit valence ... greater than
  // permitted"): hexa-coordinated Co/Sb/Al/Fe complexes (1838, 3249, 3432),
  // a 4-valent N+ with two =O (2110), 3- and 4-valent neutral O in a
  // ring (4563), 4-coordinated Be (4651). We parse them: there is no valence
  // check in galen (bracket atoms keep their written H count, organic-subset
  // atoms beyond every allowed valence get no implicit H).
  const std::set<std::string> expected_nci = {"1838", "2110", "3249", "3432", "4563", "4651"};
  const auto records = test::load_rdkit_records();
  std::map<std::string, std::map<std::string, std::string>> smiles;  // set -> id -> SMILES
  for (const auto& r : read_smiles_records(kMolDir + "nci_first_5K.smi.gz")) smiles["nci"][r.name] = r.smiles;
  for (const auto& r : read_smiles_records(kMolDir + "CHEMBL2321810.smi.gz")) smiles["chembl"][r.name] = r.smiles;
  REQUIRE(smiles["nci"].size() == 4999);
  REQUIRE(smiles["chembl"].size() == 1017);
  std::map<std::string, std::set<std::string>> differing;
  std::map<std::string, int> total;
  for (const auto& r : records) {
    if (r.kind != 'S') continue;
    ++total[r.set];
    const std::string& s = smiles.at(r.set).at(r.id);
    std::string diff;
    try {
      const Molecule m = parse_smiles(s);
      diff = r.fail ? "RDKit rejects it, we parse it" : test::compare_with_rdkit(m, r);
    } catch (const Error& e) {
      diff = std::string("we throw: ") + e.what();
    }
    if (!diff.empty()) {
      differing[r.set].insert(r.id);
      if (!(r.set == "nci" && expected_nci.count(r.id)))
        UNSCOPED_INFO(r.set << " " << r.id << " " << s << "\n" << diff);
    }
  }
  REQUIRE(total["nci"] == 4999);
  REQUIRE(total["chembl"] == 1017);
  const double agree_nci = 1.0 - static_cast<double>(differing["nci"].size()) / total["nci"];
  CHECK(agree_nci >= 0.995);
  CHECK(differing["nci"] == expected_nci);
  CHECK(differing["chembl"].empty());
}

TEST_CASE("smiles: every committed molecule file parses", "[chem]") {
  const auto chembl = read_smiles_file(kMolDir + "CHEMBL2321810.smi.gz");
  REQUIRE(chembl.size() == 1017);
  CHECK(chembl[0].name == "1520012");
  const auto nci = read_smiles_file(kMolDir + "nci_first_5K.smi.gz");
  REQUIRE(nci.size() == 4999);
  // activity table: one pIC50 per ChEMBL molecule, same ids
  const auto act =
      data::read_csv(kMolDir + "CHEMBL2321810_act.csv.gz", {.types = {{"Name", data::ColumnType::String}}});
  REQUIRE(act.rows() == 1017);
  std::set<std::string> ids;
  for (const auto& m : chembl) ids.insert(m.name);
  for (const auto& name : act.strings("Name")) CHECK(ids.count(name) == 1);
  // TPSA table: "# comment" line then SMILES,TPSA
  const auto tpsa = data::read_csv(kMolDir + "nci_first_5k.tpsa.csv.gz", {.header = false, .skip_rows = 1});
  REQUIRE(tpsa.rows() == 4999);
  int parsed = 0;
  for (const auto& s : tpsa.column(int64_t{0}).strings) {
    parse_smiles(s);
    ++parsed;
  }
  CHECK(parsed == 4999);
  CHECK(tpsa.column(int64_t{1}).numbers[0] == Approx(34.14));
}

TEST_CASE("smiles: rings, aromaticity and Kekule forms", "[chem]") {
  // Kekule and aromatic benzene give the same aromatic molecule
  for (const char* s : {"C1=CC=CC=C1", "c1ccccc1", "C:1:C:C:C:C:C:1"}) {
    INFO(s);
    const Molecule m = parse_smiles(s);
    CHECK(aromatic_flags(m) == std::vector<int>(6, 1));
    CHECK(h_counts(m) == std::vector<int>(6, 1));
    CHECK(count_bonds(m, BondType::Aromatic) == 6);
  }
  // heteroaromatics: pyridine, pyrrole (N-H donates 2), furan, thiophene, imidazole
  CHECK(aromatic_flags(parse_smiles("c1ccncc1")) == std::vector<int>(6, 1));
  const Molecule pyrrole = parse_smiles("C1=CC=CN1");
  CHECK(aromatic_flags(pyrrole) == std::vector<int>(5, 1));
  CHECK(pyrrole.atoms[4].total_h() == 1);
  CHECK(aromatic_flags(parse_smiles("o1cccc1")) == std::vector<int>(5, 1));
  CHECK(aromatic_flags(parse_smiles("C1=CSC=C1")) == std::vector<int>(5, 1));
  CHECK(aromatic_flags(parse_smiles("c1c[nH]cn1")) == std::vector<int>(5, 1));
  CHECK_THROWS_AS(parse_smiles("c1ccnc1"), Error);  // pyrrole without its H cannot be kekulised
  // not aromatic: cyclohexene, cyclooctatetraene (8 electrons), borepin
  CHECK(aromatic_flags(parse_smiles("C1=CCCCC1")) == std::vector<int>(6, 0));
  CHECK(aromatic_flags(parse_smiles("C1=CC=CC=CC=C1")) == std::vector<int>(8, 0));
  // exocyclic C=O contributes no electron: 2-pyridone is aromatic, quinone is not
  CHECK(aromatic_flags(parse_smiles("O=C1C=CC=CN1")) == std::vector<int>{0, 1, 1, 1, 1, 1, 1});
  CHECK(aromatic_flags(parse_smiles("O=C1C=CC(=O)C=C1")) == std::vector<int>(8, 0));
  // ions: tropylium and cyclopentadienyl anion
  CHECK(aromatic_flags(parse_smiles("C1=CC=C[CH+]C=C1")) == std::vector<int>(7, 1));
  CHECK(aromatic_flags(parse_smiles("C1=C[CH-]C=C1")) == std::vector<int>(5, 1));
  // fused: naphthalene all aromatic; azulene aromatic as a 10-electron whole
  // with its fusion bond left single (RDKit's model)
  const Molecule naph = parse_smiles("c1ccc2ccccc2c1");
  CHECK(count_bonds(naph, BondType::Aromatic) == 11);
  const Molecule azulene = parse_smiles("C1=CC2=CC=CC=CC2=C1");
  CHECK(aromatic_flags(azulene) == std::vector<int>(10, 1));
  CHECK(count_bonds(azulene, BondType::Aromatic) == 10);
  CHECK(azulene.bonds.back().type == BondType::Single);  // the fusion bond 8-2 (a ring closure)
  // ring membership: biphenyl's central bond is a bridge
  const Molecule biph = parse_smiles("c1ccccc1-c1ccccc1");
  int bridges = 0;
  for (const auto& b : biph.bonds) bridges += !b.in_ring;
  CHECK(bridges == 1);
  for (const auto& a : biph.atoms) CHECK(a.in_ring);
  // chain atoms are not in rings; spiro and bridged rings are
  const Molecule spiro = parse_smiles("CC1(CC1)C2CC2");
  CHECK_FALSE(spiro.atoms[0].in_ring);
  CHECK(spiro.atoms[1].in_ring);
  const Molecule norbornane = parse_smiles("C1CC2CCC1C2");
  for (const auto& b : norbornane.bonds) CHECK(b.in_ring);
}

TEST_CASE("smiles: brackets, charges, isotopes, explicit H, closures", "[chem]") {
  const Molecule amm = parse_smiles("[NH4+]");
  CHECK(amm.atoms[0].charge == 1);
  CHECK(amm.atoms[0].total_h() == 4);
  const Molecule ions = parse_smiles("[Fe+2].[Cu++].[Co+3].[O-2].[O--].Cl[Sb-3]");
  CHECK(ions.atoms[0].charge == 2);
  CHECK(ions.atoms[1].charge == 2);
  CHECK(ions.atoms[2].charge == 3);
  CHECK(ions.atoms[3].charge == -2);
  CHECK(ions.atoms[4].charge == -2);
  CHECK(ions.atoms[6].charge == -3);
  CHECK(ions.atoms[0].total_h() == 0);  // bracket atoms: exactly the written H
  // isotopes and chirality (parsed, ignored), atom class
  const Molecule iso = parse_smiles("[13CH3][C@@H](O)[C@TH2H2:7][2H]");
  CHECK(iso.atoms[0].isotope == 13);
  CHECK(iso.atoms[0].total_h() == 3);
  CHECK(iso.atoms[1].total_h() == 1);
  CHECK(iso.atoms[3].atom_class == 7);
  REQUIRE(iso.num_atoms() == 5);  // [2H] is kept: it carries an isotope
  CHECK(iso.atoms[4].isotope == 2);
  // plain [H] atoms fold into their neighbour, as RDKit's RemoveHs
  const Molecule h = parse_smiles("[H]C([H])Cl");
  REQUIRE(h.num_atoms() == 2);
  CHECK(h.atoms[0].total_h() == 3);
  CHECK(parse_smiles("[H][H]").num_atoms() == 2);
  // implicit H by valence: N 3, S 2/4/6, P 3/5, B 3, halogens 1
  CHECK(h_counts(parse_smiles("CN")) == std::vector<int>{3, 2});
  CHECK(h_counts(parse_smiles("CS(=O)C")) == std::vector<int>{3, 0, 0, 3});
  CHECK(h_counts(parse_smiles("OS(=O)(=O)O")) == std::vector<int>{1, 0, 0, 0, 1});
  CHECK(h_counts(parse_smiles("CP(C)C")) == std::vector<int>{3, 0, 3, 3});
  CHECK(h_counts(parse_smiles("B(C)C")) == std::vector<int>{1, 3, 3});
  CHECK(h_counts(parse_smiles("BrCCl")) == std::vector<int>{0, 2, 0});
  // ring closures: %nn, bond symbol on either side, several on one atom
  const Molecule big = parse_smiles("C%10CC%10");
  CHECK(big.num_bonds() == 3);
  CHECK(big.bonds[2].in_ring);
  CHECK(parse_smiles("C=1CC1").bonds.back().type == BondType::Double);
  CHECK(parse_smiles("C1CC=1").bonds.back().type == BondType::Double);
  CHECK(parse_smiles("C=1CC=1").bonds.back().type == BondType::Double);
  // RDKit numbering: ring-closure bonds last, from the closing to the opening atom
  const Molecule cub = parse_smiles("C12CC1C2");
  REQUIRE(cub.num_bonds() == 5);
  CHECK((cub.bonds[3].begin == 2 && cub.bonds[3].end == 0));
  CHECK((cub.bonds[4].begin == 3 && cub.bonds[4].end == 0));
  // bonds: triple, directional (read as single), disconnected parts
  const Molecule nitrile = parse_smiles("CC#N");
  CHECK(nitrile.bonds[1].type == BondType::Triple);
  CHECK(nitrile.atoms[2].total_h() == 0);
  CHECK(parse_smiles("F/C=C\\F").bonds[0].type == BondType::Single);
  const Molecule salt = parse_smiles("[Na+].[Cl-]");
  CHECK(salt.num_bonds() == 0);
  CHECK(parse_smiles("C(.C)C").num_bonds() == 1);
  CHECK(parse_smiles("").num_atoms() == 0);
  // RDKit's clean-up: nitro and perchlorate become charge-separated
  const Molecule nitro = parse_smiles("CN(=O)=O");
  CHECK(nitro.atoms[1].charge == 1);
  CHECK(nitro.atoms[2].charge == -1);
  CHECK(nitro.atoms[3].charge == 0);
  CHECK(parse_smiles("OCl(=O)(=O)=O").atoms[1].charge == 3);
}

TEST_CASE("smiles: malformed strings name the position", "[chem]") {
  expect_smiles_error("C1CC", "unclosed ring bond 1", 1);
  expect_smiles_error("CC(C", "unclosed branch", 2);
  expect_smiles_error("CC)C", "')' without a matching '('", 2);
  expect_smiles_error("CC=", "bond symbol with no atom after it", 2);
  expect_smiles_error("C(=)C", "bond symbol with no atom after it", 2);
  expect_smiles_error("=CC", "with no atom before it", 0);
  expect_smiles_error("C==C", "two bond symbols in a row", 2);
  expect_smiles_error("CXC", "unknown element 'X'", 1);
  expect_smiles_error("C[Xy]", "unknown element 'Xy'", 2);
  expect_smiles_error("C[CH3", "unterminated bracket atom", 1);
  expect_smiles_error("C[]", "without an element symbol", 2);
  expect_smiles_error("C[CH3+-]", "unexpected '-'", 6);
  expect_smiles_error("[C@XY]", "unknown chirality class", 3);
  expect_smiles_error("C=1CC#1", "conflicting bond symbols", 6);
  expect_smiles_error("C11", "joins an atom to itself", 2);
  expect_smiles_error("C12CC12", "duplicates an existing bond", 6);
  expect_smiles_error("C()C", "empty branch", 1);
  expect_smiles_error("C%1C", "'%' must be followed by two digits", 1);
  expect_smiles_error("1CC", "ring-closure digit with no atom before it", 0);
  expect_smiles_error(".C", "'.' with no atom before it", 0);
  expect_smiles_error("C.", "'.' with no atom after it", 1);
  expect_smiles_error("C C", "unexpected character ' '", 1);
  expect_smiles_error("C*C", "unexpected character '*'", 1);
  // chemistry errors name the SMILES
  expect_smiles_error("cC", "aromatic atom 0 (C) is not in a ring", -1);
  expect_smiles_error("c1cccc1", "cannot kekulise", -1);
  // files: the line of the bad record
  const std::string path = "/tmp/galen_test_bad.smi";
  {
    std::ofstream f(path);
    f << "CCO ethanol\nC1CC broken\n";
  }
  try {
    read_smiles_file(path);
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find(path + " line 2") != std::string::npos);
    CHECK(std::string(e.what()).find("at position 1") != std::string::npos);
  }
  std::remove(path.c_str());
}

TEST_CASE("chem: graph features", "[chem]") {
  const Molecule m = parse_smiles("OCc1ccccc1");  // benzyl alcohol
  const MolGraph g = mol_to_graph(m);
  REQUIRE(g.x.sizes() == Shape{8, kAtomFeatureDim});
  REQUIRE(g.edge_index.sizes() == Shape{2, 16});
  REQUIRE(g.edge_attr.sizes() == Shape{16, kBondFeatureDim});
  CHECK(g.x.dtype() == DType::f32);
  CHECK(g.edge_index.dtype() == DType::i64);
  const auto x = g.x.to_vector<float>();
  const int64_t F = kAtomFeatureDim, off = static_cast<int64_t>(kFeatureElements.size()) + 1;
  auto row = [&](int64_t i) { return std::vector<float>(x.begin() + i * F, x.begin() + (i + 1) * F); };
  // O: element column 2, degree 1, charge 0, not aromatic, 1 H, not in ring
  auto o = row(0);
  CHECK(o[element_feature_index(8)] == 1.0f);
  CHECK(element_feature_index(8) == 2);
  CHECK(std::accumulate(o.begin(), o.begin() + off, 0.0f) == 1.0f);
  CHECK(o[off + 0] == 1.0f);
  CHECK(o[off + 2] == 0.0f);
  CHECK(o[off + 3] == 1.0f);
  CHECK(o[off + 4] == 0.0f);
  // ring carbon 2: aromatic, degree 3, no H, in ring
  auto c = row(2);
  CHECK(c[0] == 1.0f);
  CHECK(c[off + 0] == 3.0f);
  CHECK(c[off + 2] == 1.0f);
  CHECK(c[off + 3] == 0.0f);
  CHECK(c[off + 4] == 1.0f);
  // an element outside the list goes to "other"
  CHECK(element_feature_index(atomic_number("Ce")) == static_cast<int64_t>(kFeatureElements.size()));
  // both directions of every bond, PyG layout: column 2b = begin->end, 2b+1 = end->begin
  const auto ei = g.edge_index.to_vector<int64_t>();
  const auto ea = g.edge_attr.to_vector<float>();
  for (int64_t b = 0; b < m.num_bonds(); ++b) {
    CHECK(ei[2 * b] == m.bonds[b].begin);
    CHECK(ei[16 + 2 * b] == m.bonds[b].end);
    CHECK(ei[2 * b + 1] == m.bonds[b].end);
    CHECK(ei[16 + 2 * b + 1] == m.bonds[b].begin);
    for (int k = 0; k < kBondFeatureDim; ++k)
      CHECK(ea[(2 * b) * kBondFeatureDim + k] == ea[(2 * b + 1) * kBondFeatureDim + k]);
  }
  // bond 0 (O-C) single, not in ring; bond 2 (ring) aromatic, in ring
  CHECK(std::vector<float>(ea.begin(), ea.begin() + 5) == std::vector<float>{1, 0, 0, 0, 0});
  CHECK(std::vector<float>(ea.begin() + 4 * 5, ea.begin() + 5 * 5) == std::vector<float>{0, 0, 0, 1, 1});
  // no bonds: (2, 0) and (0, 5)
  const MolGraph single = mol_to_graph(parse_smiles("[Na+]"));
  CHECK(single.edge_index.sizes() == Shape{2, 0});
  CHECK(single.edge_attr.sizes() == Shape{0, kBondFeatureDim});
  CHECK(single.x.to_vector<float>()[element_feature_index(11)] == 1.0f);
}

TEST_CASE("chem: Morgan count fingerprint", "[chem]") {
  // aspirin written two ways (different atom order) -> identical fingerprint
  const Tensor a = morgan_fingerprint(parse_smiles("CC(=O)Oc1ccccc1C(=O)O"));
  const Tensor b = morgan_fingerprint(parse_smiles("OC(=O)c1ccccc1OC(C)=O"));
  const Tensor k = morgan_fingerprint(parse_smiles("C1=CC=C(C(=C1)C(O)=O)OC(=O)C"));  // Kekule input
  REQUIRE(a.sizes() == Shape{2048});
  CHECK(a.to_vector<float>() == b.to_vector<float>());
  CHECK(a.to_vector<float>() == k.to_vector<float>());
  // counts: one identifier per atom per radius 0..2
  const auto av = a.to_vector<float>();
  CHECK(std::accumulate(av.begin(), av.end(), 0.0f) == 13.0f * 3);
  // sensitive: aspirin vs its methyl ester, phenol vs anisole, radius matters
  const Tensor ester = morgan_fingerprint(parse_smiles("CC(=O)Oc1ccccc1C(=O)OC"));
  CHECK(ester.to_vector<float>() != av);
  CHECK(morgan_fingerprint(parse_smiles("Oc1ccccc1")).to_vector<float>() !=
        morgan_fingerprint(parse_smiles("COc1ccccc1")).to_vector<float>());
  // 1-propanol vs 2-propanol: same radius-0 atoms (elements, degrees, H differ), different at radius 1
  FingerprintOptions r0{.radius = 0, .n_bits = 64};
  const auto p1 = morgan_fingerprint(parse_smiles("CCCO"), r0).to_vector<float>();
  CHECK(std::accumulate(p1.begin(), p1.end(), 0.0f) == 4.0f);
  // batch form and presence bits
  const Tensor batch =
      morgan_fingerprints({parse_smiles("CCO"), parse_smiles("c1ccccc1")}, {.n_bits = 128, .counts = false});
  REQUIRE(batch.sizes() == Shape{2, 128});
  const auto bv = batch.to_vector<float>();
  CHECK(std::all_of(bv.begin(), bv.end(), [](float v) { return v == 0.0f || v == 1.0f; }));
  // benzene: every atom equivalent -> exactly 3 distinct environments (radius 0, 1, 2)
  CHECK(std::accumulate(bv.begin() + 128, bv.end(), 0.0f) == 3.0f);
  CHECK_THROWS_AS(morgan_fingerprint(parse_smiles("C"), {.n_bits = 0}), Error);
  CHECK_THROWS_AS(morgan_fingerprint(parse_smiles("C"), {.radius = -1}), Error);
}

TEST_CASE("smiles: mutated strings either parse or raise galen::Error", "[chem]") {
  // Deterministic fuzzing: delete, duplicate or replace one character of real
  // SMILES; the parser must never crash or throw anything but galen::Error,
  // and what parses must give consistent graphs.
  const auto recs = read_smiles_records(kMolDir + "nci_first_5K.smi.gz");
  const std::string alphabet = "CNOSPFBrcnos()[]=#-+:/\\.%0123456789@H*";
  uint64_t state = 12345;
  auto next = [&state]() {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return state >> 33;
  };
  int parsed = 0, errors = 0;
  for (int t = 0; t < 3000; ++t) {
    std::string s = recs[next() % recs.size()].smiles;
    const size_t p = next() % s.size();
    switch (next() % 3) {
      case 0:
        s.erase(p, 1);
        break;
      case 1:
        s.insert(p, 1, s[p]);
        break;
      default:
        s[p] = alphabet[next() % alphabet.size()];
        break;
    }
    try {
      const Molecule m = parse_smiles(s);
      const MolGraph g = mol_to_graph(m);
      REQUIRE(g.x.size(0) == m.num_atoms());
      REQUIRE(g.edge_index.size(1) == 2 * m.num_bonds());
      ++parsed;
    } catch (const Error& e) {
      ++errors;
      INFO(s << ": " << e.what());
      REQUIRE(std::string(e.what()).find("parse_smiles") != std::string::npos);
    }
  }
  CHECK(parsed > 0);
  CHECK(errors > 0);
  CHECK(parsed + errors == 3000);
}
