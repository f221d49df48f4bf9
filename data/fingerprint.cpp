// Morgan-like hashed count fingerprint; see fingerprint.h.
#include "galen/data/fingerprint.h"

#include <algorithm>

namespace galen::chem {

namespace {

uint64_t mix(uint64_t h, uint64_t v) {
  // splitmix64 finaliser over (h, v)
  uint64_t z = h ^ (v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2));
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void fill(const Molecule& mol, const FingerprintOptions& o, float* out) {
  const size_t n = mol.atoms.size();
  std::vector<uint64_t> id(n), next(n);
  for (size_t i = 0; i < n; ++i) {
    const Atom& a = mol.atoms[i];
    uint64_t h = 0x243f6a8885a308d3ULL;
    for (int64_t v : {int64_t{a.atomic_num}, int64_t{a.degree}, int64_t{a.total_h()}, int64_t{a.charge} + 64,
                      int64_t{a.aromatic}, int64_t{a.in_ring}, int64_t{a.isotope}})
      h = mix(h, static_cast<uint64_t>(v));
    id[i] = h;
  }
  auto add = [&](uint64_t h) {
    float& cell = out[h % static_cast<uint64_t>(o.n_bits)];
    cell = o.counts ? cell + 1.0f : 1.0f;
  };
  for (uint64_t h : id) add(h);
  const auto adj = mol.neighbours();
  std::vector<std::pair<uint64_t, uint64_t>> env;
  for (int r = 1; r <= o.radius; ++r) {
    for (size_t i = 0; i < n; ++i) {
      env.clear();
      for (auto [nb, bi] : adj[i]) env.push_back({static_cast<uint64_t>(mol.bonds[bi].type), id[nb]});
      std::sort(env.begin(), env.end());
      uint64_t h = mix(static_cast<uint64_t>(r), id[i]);
      for (const auto& [bt, nid] : env) h = mix(mix(h, bt), nid);
      next[i] = h;
    }
    id.swap(next);
    for (uint64_t h : id) add(h);
  }
}

void check(const FingerprintOptions& o) {
  GALEN_CHECK(o.radius >= 0, "morgan_fingerprint: radius must be >= 0, got ", o.radius);
  GALEN_CHECK(o.n_bits >= 1, "morgan_fingerprint: n_bits must be >= 1, got ", o.n_bits);
}

}  // namespace

Tensor morgan_fingerprint(const Molecule& mol, const FingerprintOptions& options) {
  check(options);
  std::vector<float> v(static_cast<size_t>(options.n_bits), 0.0f);
  fill(mol, options, v.data());
  return from_vector<float>(v, {options.n_bits});
}

Tensor morgan_fingerprints(const std::vector<Molecule>& mols, const FingerprintOptions& options) {
  check(options);
  const int64_t n = static_cast<int64_t>(mols.size());
  std::vector<float> v(static_cast<size_t>(n * options.n_bits), 0.0f);
  for (int64_t i = 0; i < n; ++i) fill(mols[i], options, v.data() + i * options.n_bits);
  return from_vector<float>(v, {n, options.n_bits});
}

}  // namespace galen::chem
