// SMILES reader (OpenSMILES subset) into chem::Molecule.
//
//   auto m = chem::parse_smiles("CC(=O)Oc1ccccc1C(=O)O");   // aspirin: 13 atoms, 13 bonds
//   auto mols = chem::read_smiles_file("nci_first_5K.smi.gz");
//
// Supported: organic-subset atoms B C N O P S F Cl Br I and aromatic b c n o p s
// (implicit hydrogens by valence rules, see molecule.h); bracket atoms
// [isotope symbol chirality Hcount charge :class] with any element symbol
// (aromatic b c n o p s se as te), chirality parsed and ignored (@, @@, @TH1,
// @AL2, @SP3, @TB12, @OH25), H count exact, charges + - ++ -- +2 -3;
// ring closures 0-9 and %nn with a bond symbol on either side (both sides
// must agree); branches; bonds - = # $ : and / \ (read as single); '.' for
// disconnected parts. Atom order is the order of the atoms in the string and
// bond order the order in which bonds are completed (a ring-closure bond goes
// from the closing atom to the opening one), as RDKit numbers them.
// Explicit [H] atoms with one single bond are folded into their neighbour's H
// count (RDKit removes them too).
//
// Errors (galen::Error) name the 0-based character position and the SMILES:
// unknown element, unterminated or malformed bracket atom, unclosed ring
// bond or branch, ')' without '(', empty branch, bond symbol with no atom after
// it, ring-closure bonds that disagree / join an atom to itself / duplicate a
// bond, aromatic atoms outside rings, aromatic systems that cannot be kekulised.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "galen/data/molecule.h"

namespace galen::chem {

Molecule parse_smiles(const std::string& smiles);

// One line of a SMILES file: "SMILES[<space or tab>name...]".
struct SmilesRecord {
  std::string smiles;
  std::string name;  // the second field ("" when absent)
  int64_t line = 0;  // 1-based line number in the file
};

// Plain or gzip files. Empty lines and lines starting with '#' are skipped;
// a header line whose first field is "smiles" (any case) too.
std::vector<SmilesRecord> read_smiles_records(const std::string& path);
// Every record parsed (Molecule::name = the record's name); a bad SMILES is an
// Error naming the file and line as well as the position.
std::vector<Molecule> read_smiles_file(const std::string& path);

}  // namespace galen::chem
