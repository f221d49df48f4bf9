// Hashed atom-environment count fingerprint (Morgan / ECFP-like) for
// molecules, as a dense f32 tensor for baselines such as an MLP.
//
//   Tensor fp = chem::morgan_fingerprint(chem::parse_smiles("c1ccccc1O"));  // (2048,) f32 counts
//
// Each atom starts from an identifier hashed from (element, degree, total H,
// formal charge, aromatic, in ring, isotope). Iteration r (1..radius) replaces
// it by a hash of (r, own identifier, the sorted list of (bond type, neighbour
// identifier)); sorting makes the result independent of atom order. Every
// identifier of every atom at every radius 0..radius adds 1 to bit
// (identifier mod n_bits) — counts, or 0/1 when `counts` is false. Unlike
// ECFP, environments that cover the same bonds are not deduplicated, and the
// hash (64-bit splitmix) is our own, so bits do not match RDKit's.
#pragma once

#include <cstdint>
#include <vector>

#include "galen/data/molecule.h"

namespace galen::chem {

struct FingerprintOptions {
  int radius = 2;
  int64_t n_bits = 2048;
  bool counts = true;  // false: presence bits (0/1)
};

// (n_bits,) f32.
Tensor morgan_fingerprint(const Molecule& mol, const FingerprintOptions& options = {});
// (N, n_bits) f32, one row per molecule.
Tensor morgan_fingerprints(const std::vector<Molecule>& mols, const FingerprintOptions& options = {});

}  // namespace galen::chem
