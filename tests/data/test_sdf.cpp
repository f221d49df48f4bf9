// SDF / MOL V2000 reader: agreement with RDKit (atoms, bonds, property fields)
// on 200 NCI molecules, charges and isotopes from "M  CHG" / "M  ISO", aromatic
// bond type 4, and errors with file and line for malformed or truncated records.
#include "chem_fixture.h"
#include "galen/data/sdf.h"
#include "galen/data/smiles.h"
#include "test_util.h"

using namespace galen;
using namespace galen::chem;

namespace {

const std::string kSdf = std::string(GALEN_FIXTURES_DIR) + "/molecules/nci_first_200.props.sdf.gz";

// A small molfile: acetate-like [O-]C(=O)C with a 13C, plus one data item.
std::string small_molfile(const std::string& extra_m_lines = "M  CHG  1   1  -1\nM  ISO  1   2  13\n") {
  return "acetate\n  test\n\n"
         "  4  3  0  0  0  0  0  0  0  0999 V2000\n"
         "    0.0000    0.0000    0.0000 O   0  0  0  0  0  0  0  0  0  0  0  0\n"
         "    0.0000    0.0000    0.0000 C   0  0  0  0  0  0  0  0  0  0  0  0\n"
         "    0.0000    0.0000    0.0000 O   0  0  0  0  0  0  0  0  0  0  0  0\n"
         "    0.0000    0.0000    0.0000 C   0  0  0  0  0  0  0  0  0  0  0  0\n"
         "  1  2  1  0\n"
         "  2  3  2  0\n"
         "  2  4  1  0\n" +
         extra_m_lines + "M  END\n> <NOTE>\nline one\nline two\n\n$$$$\n";
}

}  // namespace

TEST_CASE("sdf: 200 NCI molecules agree with RDKit, properties included", "[chem]") {
  const auto mols = read_sdf(kSdf);
  REQUIRE(mols.size() == 200);
  std::vector<test::RdkitRecord> refs;
  for (auto& r : test::load_rdkit_records())
    if (r.kind == 'M') refs.push_back(r);
  REQUIRE(refs.size() == 200);
  int bad = 0;
  for (size_t i = 0; i < mols.size(); ++i) {
    REQUIRE_FALSE(refs[i].fail);
    const std::string diff = test::compare_with_rdkit(mols[i], refs[i]);
    if (!diff.empty()) {
      ++bad;
      UNSCOPED_INFO("molecule " << i << " (" << mols[i].name << "):\n" << diff);
    }
    if (mols[i].properties != refs[i].props) {
      ++bad;
      UNSCOPED_INFO("molecule " << i << ": property fields differ");
    }
  }
  CHECK(bad == 0);
  CHECK(mols[0].properties.at("CLOGP") == "0.79");
  CHECK(mols[0].properties.at("ISM") == "CC1=CC(=O)C=CC1=O");
  CHECK(mols[0].properties.size() == 19);
}

TEST_CASE("sdf: each record equals the SMILES in its ISM/SMILES field", "[chem]") {
  // The SDF's own SMILES field gives the same graph features (atom order may
  // differ, so compare sorted atom records and counts).
  const auto mols = read_sdf(kSdf);
  int checked = 0;
  for (const auto& m : mols) {
    const auto it = m.properties.find("SMILES");
    if (it == m.properties.end()) continue;
    const Molecule s = parse_smiles(it->second);
    REQUIRE(s.num_atoms() == m.num_atoms());
    REQUIRE(s.num_bonds() == m.num_bonds());
    auto key = [](const Molecule& x) {
      std::multiset<std::tuple<int, int, int, int, int, int>> k;
      for (const auto& a : x.atoms) k.insert({a.atomic_num, a.degree, a.charge, a.aromatic, a.total_h(), a.in_ring});
      return k;
    };
    INFO(m.name << " " << it->second);
    CHECK(key(s) == key(m));
    ++checked;
  }
  CHECK(checked >= 190);
}

TEST_CASE("sdf: charges, isotopes, multi-line properties", "[chem]") {
  const auto mols = parse_sdf(small_molfile(), "small.sdf");
  REQUIRE(mols.size() == 1);
  const Molecule& m = mols[0];
  CHECK(m.name == "acetate");
  CHECK(m.atoms[0].charge == -1);
  CHECK(m.atoms[0].total_h() == 0);
  CHECK(m.atoms[1].isotope == 13);
  CHECK(m.atoms[3].total_h() == 3);
  CHECK(m.bonds[1].type == BondType::Double);
  CHECK(m.properties.at("NOTE") == "line one\nline two");
  // without M  CHG the O is neutral and takes an H
  const auto neutral = parse_sdf(small_molfile(""), "small.sdf");
  CHECK(neutral[0].atoms[0].charge == 0);
  CHECK(neutral[0].atoms[0].total_h() == 1);
  // atom-block charge code 5 = -1, superseded by M  CHG when present
  std::string coded = small_molfile("");
  coded.replace(coded.find("O   0  0"), 8, "O   0  5");
  CHECK(parse_sdf(coded, "coded.sdf")[0].atoms[0].charge == -1);
  // two records back to back
  CHECK(parse_sdf(small_molfile() + small_molfile(""), "two.sdf").size() == 2);
}

TEST_CASE("sdf: aromatic bond type 4 is kekulised and re-perceived", "[chem]") {
  std::string mb = "benzene\n\n\n  6  6  0  0  0  0  0  0  0  0999 V2000\n";
  for (int i = 0; i < 6; ++i) mb += "    0.0000    0.0000    0.0000 C   0  0  0  0  0  0  0  0  0  0  0  0\n";
  for (int i = 0; i < 6; ++i) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%3d%3d  4  0\n", i + 1, (i + 1) % 6 + 1);
    mb += buf;
  }
  mb += "M  END\n$$$$\n";
  const auto m = parse_sdf(mb, "benzene.sdf").at(0);
  for (const auto& a : m.atoms) {
    CHECK(a.aromatic);
    CHECK(a.total_h() == 1);
    CHECK(a.in_ring);
  }
  for (const auto& b : m.bonds) CHECK(b.type == BondType::Aromatic);
}

TEST_CASE("sdf: malformed and truncated records name file and line", "[chem]") {
  const std::string good = small_molfile();
  auto expect_error = [](const std::string& text, const std::string& needle) {
    try {
      parse_sdf(text, "bad.sdf");
      FAIL("no error for: " << needle);
    } catch (const Error& e) {
      INFO(e.what());
      CHECK(std::string(e.what()).find(needle) != std::string::npos);
    }
  };
  // truncated atom block: cut before the fourth atom line (line 8)
  const size_t cut = good.find("C   0", good.find("C   0") + 1);
  expect_error(good.substr(0, good.rfind('\n', cut) + 1),
               "bad.sdf:7: truncated atom block: expected 4 atoms, file ends after 3");
  // truncated bond block
  expect_error(good.substr(0, good.find("  2  4  1  0")), "truncated bond block");
  // no M  END
  expect_error(good.substr(0, good.find("M  CHG")), "file ends before 'M  END'");
  // unknown element on line 5
  std::string bad_el = good;
  bad_el.replace(bad_el.find("O   0"), 2, "Xx");
  expect_error(bad_el, "bad.sdf:5: unknown element 'Xx'");
  // bad bond type on line 10
  std::string bad_bond = good;
  bad_bond.replace(bad_bond.find("  2  3  2  0"), 12, "  2  3  8  0");
  expect_error(bad_bond, "bad.sdf:10: unsupported bond type 8");
  // bond to a missing atom
  std::string bad_atom = good;
  bad_atom.replace(bad_atom.find("  2  4  1  0"), 12, "  2  9  1  0");
  expect_error(bad_atom, "bad.sdf:11: bond joins atoms 2 and 9");
  // bad counts line / V3000
  std::string v3 = good;
  v3.replace(v3.find("V2000"), 5, "V3000");
  expect_error(v3, "bad.sdf:4: V3000");
  expect_error("t\n\n\nxx\n", "bad.sdf:4: counts line too short");
  expect_error("title only\n", "file ends early");
  // garbage where a data header should be
  expect_error(good.substr(0, good.find("> <NOTE>")) + "junk\n$$$$\n", "expected a data header");
  // M  CHG naming an atom that does not exist
  expect_error(small_molfile("M  CHG  1   7  -1\n"), "atom number 7 out of range");
  // missing file
  CHECK_THROWS_AS(read_sdf("/nonexistent/x.sdf"), Error);
}
