// Reader for tests/fixtures/molecules/rdkit_features.txt.gz (written by
// tools/make_smiles_fixtures.py) and a comparison of a parsed Molecule with
// one RDKit record, shared by test_smiles.cpp and test_sdf.cpp.
#pragma once

#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "galen/data/idx.h"
#include "galen/data/molecule.h"

namespace galen::test {

struct RdkitRecord {
  char kind = 'S';                           // 'S' SMILES, 'M' SDF molecule
  std::string set;                           // "nci" / "chembl" for 'S'
  std::string id;                            // SMILES id or SDF index
  bool fail = false;                         // RDKit rejected the molecule
  std::string atoms;                         // "Z:deg:chg:arom:H:ring ..." as written
  std::string bonds;                         // "b:e:type:ring ..."
  std::map<std::string, std::string> props;  // SDF fields
};

inline std::vector<RdkitRecord> load_rdkit_records() {
  const std::string text =
      data::read_file_maybe_gz(std::string(GALEN_FIXTURES_DIR) + "/molecules/rdkit_features.txt.gz");
  std::vector<RdkitRecord> out;
  std::istringstream is(text);
  std::string line;
  while (std::getline(is, line)) {
    if (line.size() < 2) continue;
    if (line[0] == 'P') {
      const size_t tab = line.find('\t');
      std::string value, raw = line.substr(tab + 1);
      for (size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] == '\\' && i + 1 < raw.size()) {
          value += raw[i + 1] == 'n' ? '\n' : raw[i + 1];
          ++i;
        } else {
          value += raw[i];
        }
      }
      out.back().props[line.substr(2, tab - 2)] = value;
      continue;
    }
    RdkitRecord r;
    r.kind = line[0];
    const size_t bar = line.find('|');
    std::istringstream head(line.substr(2, bar - 2));
    if (r.kind == 'S') head >> r.set;
    head >> r.id;
    const std::string rest = line.substr(bar + 1);
    if (rest == "FAIL") {
      r.fail = true;
    } else {
      const size_t bar2 = rest.find('|');
      r.atoms = rest.substr(0, bar2);
      r.bonds = rest.substr(bar2 + 1);
    }
    out.push_back(std::move(r));
  }
  return out;
}

inline int rdkit_bond_code(chem::BondType t) {
  switch (t) {
    case chem::BondType::Single:
      return 1;
    case chem::BondType::Double:
      return 2;
    case chem::BondType::Triple:
      return 3;
    case chem::BondType::Aromatic:
      return 12;
  }
  return 0;
}

// The record strings our molecule would produce.
inline std::pair<std::string, std::string> record_strings(const chem::Molecule& m) {
  std::ostringstream a, b;
  for (size_t i = 0; i < m.atoms.size(); ++i) {
    const auto& at = m.atoms[i];
    a << (i ? " " : "") << at.atomic_num << ':' << at.degree << ':' << at.charge << ':' << int(at.aromatic) << ':'
      << at.total_h() << ':' << int(at.in_ring);
  }
  for (size_t i = 0; i < m.bonds.size(); ++i) {
    const auto& bd = m.bonds[i];
    b << (i ? " " : "") << bd.begin << ':' << bd.end << ':' << rdkit_bond_code(bd.type) << ':' << int(bd.in_ring);
  }
  return {a.str(), b.str()};
}

// "" when the molecule matches the record, else a description of the first difference.
inline std::string compare_with_rdkit(const chem::Molecule& m, const RdkitRecord& r) {
  const auto [atoms, bonds] = record_strings(m);
  std::ostringstream os;
  if (atoms != r.atoms) os << "atoms\n  ours:  " << atoms << "\n  rdkit: " << r.atoms << "\n";
  if (bonds != r.bonds) os << "bonds\n  ours:  " << bonds << "\n  rdkit: " << r.bonds << "\n";
  return os.str();
}

}  // namespace galen::test
