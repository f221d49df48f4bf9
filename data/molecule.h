// Molecules as graphs: atoms, bonds, the chemistry perception shared by the
// SMILES and SDF readers (implicit hydrogens, rings, Kekulé form, aromaticity)
// and the GNN features (x, edge_index, edge_attr tensors).
//
//   auto m = chem::parse_smiles("c1ccccc1O");            // data/smiles.h
//   chem::MolGraph g = chem::mol_to_graph(m);            // x (7, 51), edge_index (2, 14), edge_attr (14, 5)
//
// The perception follows RDKit's sanitisation so that features agree with
// RDKit (tests/data/test_smiles.cpp checks 4999 NCI + 1017 ChEMBL molecules):
//  1. Plain hydrogen atoms ([H] with no charge/isotope, one neighbour) are
//     folded into their neighbour's hydrogen count, as RDKit's RemoveHs does.
//     Then RDKit's clean-up of hypervalent forms: neutral 5-valent nitro
//     N(=O)=O -> [N+](=O)[O-], azide N=N#N -> N=[N+]=[N-], halogen oxides
//     (Cl/Br/I bonded only to O, e.g. perchlorate) -> [Cl+3]([O-])...
//  2. Implicit hydrogens for atoms that do not fix their count (SMILES organic
//     subset, molfile atoms): the smallest allowed valence (RDKit's valence
//     lists, shifted by the formal charge: +charge for N/O/S..., -|charge| for
//     carbon, -charge for "early" atoms B/Al/...) that is >= the bond-order sum;
//     aromatic bonds count 1.5 and an aromatic atom takes no hydrogen beyond its
//     default valence. Elements without a default valence (transition metals)
//     get none. Bracket atoms get exactly the written count.
//  3. Ring membership from the graph: a bond is in a ring iff it is not a
//     bridge; an atom iff it has a ring bond.
//  4. Aromatic input (lowercase SMILES atoms, molfile bond type 4) is
//     kekulised: a perfect matching of double bonds over the aromatic atoms
//     that still need one; aromatic bonds outside rings become single.
//  5. Radical electrons of bracket atoms (valence deficit), as RDKit assigns.
//  6. Aromaticity is perceived afresh on the Kekulé form with RDKit's default
//     model: candidate rings are a minimum cycle basis (SSSR) plus the other
//     shortest cycles of the same sizes (like RDKit's symmetrised SSSR), up to
//     24 atoms, whose atoms are all candidates; each atom donates 0, 1 or 2
//     π electrons (C in a ring double bond 1; C with an exocyclic double bond to
//     a more electronegative atom 0; N/O/S lone pair with no multiple bond 2;
//     a cation with no multiple bond and one electron (tropylium) 0; atoms
//     with more than three neighbours+H, more than one multiple bond or no
//     default valence are not candidates). A ring is aromatic when it holds
//     4n+2 electrons (n >= 1) or exactly 2; in fused systems, connected
//     combinations of 1, 2, ... rings sharing bonds are tested in turn, counting
//     only atoms that lie in one or two of the chosen rings.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "galen/core/tensor.h"

namespace galen::chem {

enum class BondType : uint8_t { Single = 1, Double = 2, Triple = 3, Aromatic = 4 };

struct Atom {
  int atomic_num = 0;        // 0 = unknown/dummy (not produced by the readers)
  int charge = 0;            // formal charge
  int isotope = 0;           // mass number, 0 = natural abundance
  int explicit_h = 0;        // hydrogens written on the atom ([CH3], folded [H] atoms)
  int implicit_h = 0;        // hydrogens added by the valence rules
  bool no_implicit = false;  // the H count is fixed (bracket atom)
  bool aromatic = false;     // after perception
  bool in_ring = false;
  int degree = 0;      // number of bonds in the graph (hydrogens excluded)
  int radicals = 0;    // unpaired electrons
  int atom_class = 0;  // SMILES [C:7] class, 0 when absent
  int total_h() const { return explicit_h + implicit_h; }
};

struct Bond {
  int begin = 0;
  int end = 0;
  BondType type = BondType::Single;
  bool in_ring = false;
};

struct Molecule {
  std::vector<Atom> atoms;
  std::vector<Bond> bonds;
  std::string name;                               // SMILES file id / molfile title line
  std::map<std::string, std::string> properties;  // SDF "> <name>" fields

  int64_t num_atoms() const { return static_cast<int64_t>(atoms.size()); }
  int64_t num_bonds() const { return static_cast<int64_t>(bonds.size()); }
  // neighbours[i] = (neighbour atom, bond index) pairs, in bond order.
  std::vector<std::vector<std::pair<int, int>>> neighbours() const;
};

// ---- elements ----------------------------------------------------------------
// Atomic number of an element symbol ("C", "Cl", "Se"; case-sensitive), 0 when unknown.
int atomic_number(std::string_view symbol);
// Symbol of an atomic number 1..118 ("?" otherwise).
const char* element_symbol(int atomic_num);

// ---- perception ----------------------------------------------------------------
// Runs steps 1-6 above on atoms/bonds as a reader built them: atoms carry
// charge/isotope/explicit_h/no_implicit and `aromatic` for aromatic input;
// bonds carry their written type (Aromatic for aromatic input). Fills
// implicit_h, degree, in_ring, radicals and the final aromatic flags/types.
// Errors (galen::Error, prefixed with `what`): aromatic atoms outside rings,
// aromatic systems that cannot be kekulised, bonds to missing atoms,
// duplicate bonds, self bonds.
void sanitize(Molecule& mol, const std::string& what);

// ---- features ----------------------------------------------------------------
// Atom feature columns, in order (kAtomFeatureDim = 51):
//   [0, 44)  element one-hot over kFeatureElements (43 symbols) + "other"
//   [44]     degree (number of heavy-atom bonds)
//   [45]     formal charge
//   [46]     aromatic (0/1)
//   [47]     total hydrogen count
//   [48]     in ring (0/1)
//   [49]     radical electrons
//   [50]     isotope != 0 (0/1)
// Bond feature columns (kBondFeatureDim = 5): one-hot single, double, triple,
// aromatic; in ring (0/1).
// Degree, charge, H and radical counts are raw numbers (not one-hot): a GNN's
// first linear layer sees their order; keep columns [0, 49) to match the
// feature set of the issue exactly.
extern const std::vector<std::string> kFeatureElements;
constexpr int64_t kAtomFeatureDim = 51;
constexpr int64_t kBondFeatureDim = 5;

struct MolGraph {
  Tensor x;           // (N, kAtomFeatureDim) f32
  Tensor edge_index;  // (2, 2B) i64: bond b gives columns 2b (begin -> end) and 2b+1 (end -> begin)
  Tensor edge_attr;   // (2B, kBondFeatureDim) f32, the bond's features on both of its columns
};

MolGraph mol_to_graph(const Molecule& mol);

// Element one-hot index in [0, kFeatureElements.size()] (the last = "other").
int64_t element_feature_index(int atomic_num);

}  // namespace galen::chem
