// SDF / MOL V2000 reader into chem::Molecule (the same graph form and
// perception as the SMILES reader) plus each record's property fields.
//
//   auto mols = chem::read_sdf("nci_first_200.props.sdf.gz");
//   mols[0].name;                    // title line
//   mols[0].properties.at("CLOGP");  // "0.79"
//
// Read: header (title = Molecule::name), counts line (V2000 only), atom block
// (element symbol, charge code 1..7 = +3..-3, valence field vvv: when set the
// H count is fixed to valence minus bond orders, 15 = zero), bond block
// (types 1/2/3 and 4 = aromatic; query types are rejected), the "M  CHG"
// (replacing the atom block's charges, as the format says), "M  ISO" and
// "M  RAD" lines up to "M  END", then data items "> ... <name> ..." whose value
// lines (joined with '\n') run to a blank line, until "$$$$". Coordinates,
// stereo flags and the atom block's mass difference are ignored. Implicit
// hydrogens follow RDKit's molfile rules (molecule.h, step 2); plain H atoms
// are folded into their neighbours.
//
// Malformed or truncated records -> galen::Error naming the file and the
// 1-based line.
#pragma once

#include <string>
#include <vector>

#include "galen/data/molecule.h"

namespace galen::chem {

// Plain or gzip-compressed file.
std::vector<Molecule> read_sdf(const std::string& path);
// From text in memory; `what` names it in errors.
std::vector<Molecule> parse_sdf(const std::string& text, const std::string& what = "<memory>");

}  // namespace galen::chem
