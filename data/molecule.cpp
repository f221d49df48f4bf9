// Molecule perception (implicit H, rings, kekulisation, radicals, RDKit-model
// aromaticity) and graph features. See molecule.h for the rules; each step
// below names the RDKit behaviour it reproduces.
#include "galen/data/molecule.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <map>
#include <numeric>
#include <set>

namespace galen::chem {

namespace {

// ---- element data ----------------------------------------------------------------
// Symbols 1..118.
const char* const kSymbols[] = {
    "?",  "H",  "He", "Li", "Be", "B",  "C",  "N",  "O",  "F",  "Ne", "Na", "Mg", "Al", "Si", "P",  "S",
    "Cl", "Ar", "K",  "Ca", "Sc", "Ti", "V",  "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Ga", "Ge", "As",
    "Se", "Br", "Kr", "Rb", "Sr", "Y",  "Zr", "Nb", "Mo", "Tc", "Ru", "Rh", "Pd", "Ag", "Cd", "In", "Sn",
    "Sb", "Te", "I",  "Xe", "Cs", "Ba", "La", "Ce", "Pr", "Nd", "Pm", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho",
    "Er", "Tm", "Yb", "Lu", "Hf", "Ta", "W",  "Re", "Os", "Ir", "Pt", "Au", "Hg", "Tl", "Pb", "Bi", "Po",
    "At", "Rn", "Fr", "Ra", "Ac", "Th", "Pa", "U",  "Np", "Pu", "Am", "Cm", "Bk", "Cf", "Es", "Fm", "Md",
    "No", "Lr", "Rf", "Db", "Sg", "Bh", "Hs", "Mt", "Ds", "Rg", "Cn", "Nh", "Fl", "Mc", "Lv", "Ts", "Og"};
constexpr int kMaxZ = 118;

// Valence electrons: main groups by group, d-block by group number (as the
// periodic-table convention RDKit uses), f-block 3.
int outer_electrons(int z) {
  static const std::array<int, 8> period_start = {1, 3, 11, 19, 37, 55, 87, 119};
  if (z <= 0 || z > kMaxZ) return 0;
  if (z <= 2) return z;  // H 1, He 2
  int start = 3;
  for (size_t i = 1; i + 1 < period_start.size(); ++i)
    if (z >= period_start[i] && z < period_start[i + 1]) start = period_start[i];
  int col = z - start;                                  // 0-based position within the period
  if (start <= 11) return col < 2 ? col + 1 : col + 1;  // Li..Ne / Na..Ar: 1..8
  if (start >= 55) {                                    // lanthanides / actinides occupy 14 extra places after group 3
    if (col >= 3 && col < 17) return 3;
    if (col >= 17) col -= 14;
  }
  const int group = col + 1;  // 1..18
  return group <= 12 ? group : group - 10;
}

// RDKit's allowed valences for main-group elements; empty = no default valence
// (transition metals, lanthanides, actinides).
const std::vector<int>& valence_list(int z) {
  static const std::vector<int> none;
  static const std::map<int, std::vector<int>> table = {
      {1, {1}},        {2, {0}},        {3, {1}},        {4, {2}},           {5, {3}},           {6, {4}},
      {7, {3}},        {8, {2}},        {9, {1}},        {10, {0}},          {11, {1}},          {12, {2}},
      {13, {3}},       {14, {4}},       {15, {3, 5, 7}}, {16, {2, 4, 6}},    {17, {1}},          {18, {0}},
      {19, {1}},       {20, {2}},       {31, {3}},       {32, {4}},          {33, {3, 5, 7}},    {34, {2, 4, 6}},
      {35, {1}},       {36, {0}},       {37, {1}},       {38, {2}},          {49, {3}},          {50, {2, 4}},
      {51, {3, 5, 7}}, {52, {2, 4, 6}}, {53, {1, 3, 5}}, {54, {0, 2, 4, 6}}, {55, {1}},          {56, {2}},
      {81, {1, 3}},    {82, {2, 4}},    {83, {3, 5, 7}}, {84, {2, 4, 6}},    {85, {1, 3, 5, 7}}, {86, {0}},
      {87, {1}},       {88, {2}}};
  auto it = table.find(z);
  return it == table.end() ? none : it->second;
}

int default_valence(int z) {
  const auto& v = valence_list(z);
  return v.empty() ? -1 : v.front();
}

// "Early" elements (fewer than four valence electrons) gain valence with a
// negative charge (BH4-), the others with a positive one (NH4+).
bool is_early(int z) { return z != 1 && outer_electrons(z) < 4; }

// The valence shift a formal charge brings (RDKit's convention; carbon cations
// and anions both lose one).
int charge_shift(const Atom& a) {
  int chg = a.charge;
  if (is_early(a.atomic_num)) chg = -chg;
  if (a.atomic_num == 6 && chg > 0) chg = -chg;
  return chg;
}

// RDKit's electronegativity order: more valence electrons, then the lighter element.
bool more_electronegative(int z1, int z2) {
  const int e1 = outer_electrons(z1), e2 = outer_electrons(z2);
  return e1 > e2 || (e1 == e2 && z1 < z2);
}

double bond_valence(BondType t) {
  switch (t) {
    case BondType::Single:
      return 1.0;
    case BondType::Double:
      return 2.0;
    case BondType::Triple:
      return 3.0;
    case BondType::Aromatic:
      return 1.5;
  }
  return 1.0;
}

int bond_order(BondType t) { return t == BondType::Triple ? 3 : t == BondType::Double ? 2 : 1; }

using Adjacency = std::vector<std::vector<std::pair<int, int>>>;

// ---- step 1: fold plain hydrogen atoms ----------------------------------------
void fold_hydrogens(Molecule& mol) {
  const int n = static_cast<int>(mol.atoms.size());
  std::vector<int> bond_count(n, 0);
  for (const Bond& b : mol.bonds) {
    ++bond_count[b.begin];
    ++bond_count[b.end];
  }
  std::vector<char> remove(n, 0);
  bool any = false;
  for (const Bond& b : mol.bonds) {
    for (int side = 0; side < 2; ++side) {
      const int h = side ? b.end : b.begin, other = side ? b.begin : b.end;
      const Atom& a = mol.atoms[h];
      if (a.atomic_num == 1 && a.charge == 0 && a.isotope == 0 && a.explicit_h == 0 && bond_count[h] == 1 &&
          b.type == BondType::Single && mol.atoms[other].atomic_num != 1 && !remove[other]) {
        remove[h] = 1;
        any = true;
      }
    }
  }
  if (!any) return;
  std::vector<int> new_index(n, -1);
  std::vector<Atom> atoms;
  for (int i = 0; i < n; ++i)
    if (!remove[i]) {
      new_index[i] = static_cast<int>(atoms.size());
      atoms.push_back(mol.atoms[i]);
    }
  std::vector<Bond> bonds;
  for (const Bond& b : mol.bonds) {
    if (remove[b.begin] || remove[b.end]) {
      const int other = remove[b.begin] ? b.end : b.begin;
      atoms[new_index[other]].explicit_h += 1;
      continue;
    }
    Bond nb = b;
    nb.begin = new_index[b.begin];
    nb.end = new_index[b.end];
    bonds.push_back(nb);
  }
  mol.atoms = std::move(atoms);
  mol.bonds = std::move(bonds);
}

// ---- step 1b: RDKit's clean-up of hypervalent forms ---------------------------------
// Neutral 5-valent N: nitro N(=O)=O -> [N+](=O)[O-] (the first =O), azide
// N=N#N -> N=[N+]=[N-]; neutral Cl/Br/I bonded only to oxygens: every =O ->
// single [O-] and the halogen takes the positive charges (perchlorate).
void clean_up(Molecule& mol, const Adjacency& adj) {
  for (size_t i = 0; i < mol.atoms.size(); ++i) {
    Atom& a = mol.atoms[i];
    if (a.charge != 0) continue;
    if (a.atomic_num == 7) {
      int valence = a.explicit_h;
      bool aromatic = false;
      for (auto [nb, bi] : adj[i]) {
        valence += bond_order(mol.bonds[bi].type);
        aromatic = aromatic || mol.bonds[bi].type == BondType::Aromatic;
      }
      if (valence != 5 || aromatic) continue;
      int triple_n = -1, first_o = -1;
      for (auto [nb, bi] : adj[i]) {
        const Bond& b = mol.bonds[bi];
        if (b.type == BondType::Triple && mol.atoms[nb].atomic_num == 7 && triple_n < 0) triple_n = bi;
        if (b.type == BondType::Double && mol.atoms[nb].atomic_num == 8 && first_o < 0) first_o = bi;
      }
      const int bi = triple_n >= 0 ? triple_n : first_o;
      if (bi < 0) continue;
      Bond& b = mol.bonds[bi];
      b.type = b.type == BondType::Triple ? BondType::Double : BondType::Single;
      mol.atoms[b.begin == static_cast<int>(i) ? b.end : b.begin].charge -= 1;
      a.charge += 1;
    } else if (a.atomic_num == 17 || a.atomic_num == 35 || a.atomic_num == 53) {
      bool only_o = !adj[i].empty();
      for (auto [nb, bi] : adj[i]) only_o = only_o && mol.atoms[nb].atomic_num == 8;
      if (!only_o) continue;
      for (auto [nb, bi] : adj[i]) {
        if (mol.bonds[bi].type != BondType::Double) continue;
        mol.bonds[bi].type = BondType::Single;
        mol.atoms[nb].charge -= 1;
        a.charge += 1;
      }
    }
  }
}

// ---- step 2: implicit hydrogens ------------------------------------------------
// RDKit's explicit valence: bond orders (aromatic 1.5) + written hydrogens; an
// aromatic atom above its charge-shifted default valence is brought down to
// the largest allowed valence below (if within 1.5), x.5 sums round up.
int explicit_valence(const Molecule& mol, const Adjacency& adj, int i) {
  const Atom& a = mol.atoms[i];
  double accum = a.explicit_h;
  for (auto [nb, bi] : adj[i]) accum += bond_valence(mol.bonds[bi].type);
  const int dv = default_valence(a.atomic_num);
  const int chg = charge_shift(a);
  if (a.aromatic && dv >= 0 && accum > dv + chg) {
    int pval = dv + chg;
    for (int v : valence_list(a.atomic_num)) {
      if (v + chg > accum) break;
      pval = v + chg;
    }
    if (accum - pval <= 1.5) accum = pval;
  }
  return static_cast<int>(std::lround(accum + 0.1));  // x.5 rounds up
}

int implicit_hydrogens(const Molecule& mol, const Adjacency& adj, int i) {
  const Atom& a = mol.atoms[i];
  if (a.no_implicit) return 0;
  const auto& vals = valence_list(a.atomic_num);
  if (vals.empty()) return 0;
  const int ev = explicit_valence(mol, adj, i) + a.radicals;
  const int chg = charge_shift(a);
  if (a.aromatic) {
    const int dv = vals.front() + chg;
    return ev <= dv ? dv - ev : 0;
  }
  for (int v : vals)
    if (ev <= v + chg) return v + chg - ev;
  return 0;  // over-valent: RDKit rejects such a molecule; we keep it with no implicit H
}

// ---- step 3: rings from bridges ------------------------------------------------
void mark_ring_bonds(Molecule& mol, const Adjacency& adj) {
  const int n = static_cast<int>(mol.atoms.size());
  std::vector<int> disc(n, -1), low(n, 0);
  int timer = 0;
  for (Bond& b : mol.bonds) b.in_ring = true;
  for (int root = 0; root < n; ++root) {
    if (disc[root] >= 0) continue;
    // iterative DFS: (atom, parent bond, next neighbour position)
    std::vector<std::array<int, 3>> stack = {{root, -1, 0}};
    disc[root] = low[root] = timer++;
    while (!stack.empty()) {
      auto& [v, pb, pos] = stack.back();
      if (pos < static_cast<int>(adj[v].size())) {
        auto [w, bi] = adj[v][pos++];
        if (bi == pb) continue;
        if (disc[w] < 0) {
          disc[w] = low[w] = timer++;
          stack.push_back({w, bi, 0});
        } else {
          low[v] = std::min(low[v], disc[w]);
        }
      } else {
        const int child = v, child_bond = pb;
        stack.pop_back();
        if (!stack.empty()) {
          const int parent = stack.back()[0];
          low[parent] = std::min(low[parent], low[child]);
          if (low[child] > disc[parent]) mol.bonds[child_bond].in_ring = false;
        }
      }
    }
  }
  for (Atom& a : mol.atoms) a.in_ring = false;
  for (const Bond& b : mol.bonds)
    if (b.in_ring) mol.atoms[b.begin].in_ring = mol.atoms[b.end].in_ring = true;
}

// ---- step 4: kekulisation -------------------------------------------------------
void kekulize(Molecule& mol, const Adjacency& adj, const std::string& what) {
  const int n = static_cast<int>(mol.atoms.size());
  bool any = false;
  for (int i = 0; i < n; ++i) {
    if (!mol.atoms[i].aromatic) continue;
    any = true;
    GALEN_CHECK(mol.atoms[i].in_ring, what, ": aromatic atom ", i, " (", element_symbol(mol.atoms[i].atomic_num),
                ") is not in a ring");
  }
  for (Bond& b : mol.bonds) {
    if (b.type != BondType::Aromatic) continue;
    any = true;
    if (!b.in_ring) b.type = BondType::Single;  // biphenyl written c1ccccc1c1ccccc1
  }
  if (!any) return;
  // Atoms that need one double bond: aromatic, no multiple bond yet, and the
  // bond-order sum (aromatic = 1) + H + radicals below the default valence.
  std::vector<char> needs(n, 0);
  for (int i = 0; i < n; ++i) {
    const Atom& a = mol.atoms[i];
    if (!a.aromatic) continue;
    bool has_arom = false, has_multiple = false;
    int sbo = a.total_h() + a.radicals;
    for (auto [nb, bi] : adj[i]) {
      const BondType t = mol.bonds[bi].type;
      if (t == BondType::Aromatic) has_arom = true;
      if (t == BondType::Double || t == BondType::Triple) has_multiple = true;
      sbo += bond_order(t);
    }
    const int dv = default_valence(a.atomic_num);
    if (!has_arom || has_multiple || dv < 0) continue;
    if (sbo < dv + charge_shift(a)) needs[i] = 1;
  }
  // Perfect matching on the needing atoms over aromatic bonds, by backtracking
  // (most constrained atom first); aromatic systems are small.
  std::vector<int> mate(n, -1);
  int64_t steps = 0;
  std::function<bool()> solve = [&]() -> bool {
    if (++steps > 2000000) GALEN_FAIL(what, ": kekulisation search too large");
    int best = -1, best_count = 1 << 30;
    for (int i = 0; i < n; ++i) {
      if (!needs[i] || mate[i] >= 0) continue;
      int count = 0;
      for (auto [nb, bi] : adj[i])
        if (mol.bonds[bi].type == BondType::Aromatic && needs[nb] && mate[nb] < 0) ++count;
      if (count < best_count) {
        best = i;
        best_count = count;
      }
    }
    if (best < 0) return true;
    if (best_count == 0) return false;
    for (auto [nb, bi] : adj[best]) {
      if (mol.bonds[bi].type != BondType::Aromatic || !needs[nb] || mate[nb] >= 0) continue;
      mate[best] = nb;
      mate[nb] = best;
      if (solve()) return true;
      mate[best] = mate[nb] = -1;
    }
    return false;
  };
  if (!solve()) {
    std::string atoms;
    for (int i = 0; i < n; ++i)
      if (needs[i] && mate[i] < 0) atoms += (atoms.empty() ? "" : ", ") + std::to_string(i);
    GALEN_FAIL(what,
               ": cannot kekulise the aromatic system (no alternating double bonds; check the H on atoms "
               "such as pyrrole [nH]); unmatched atoms: ",
               atoms);
  }
  for (Bond& b : mol.bonds) {
    if (b.type != BondType::Aromatic) continue;
    b.type = (mate[b.begin] == b.end) ? BondType::Double : BondType::Single;
  }
  for (Atom& a : mol.atoms) a.aromatic = false;
}

// ---- step 5: radicals of atoms with a fixed H count -----------------------------
void assign_radicals(Molecule& mol, const Adjacency& adj) {
  for (size_t i = 0; i < mol.atoms.size(); ++i) {
    Atom& a = mol.atoms[i];
    if (!a.no_implicit || a.radicals || a.atomic_num == 0) continue;
    const auto& vals = valence_list(a.atomic_num);
    const int outer = outer_electrons(a.atomic_num);
    int total = a.explicit_h;
    for (auto [nb, bi] : adj[i]) total += bond_order(mol.bonds[bi].type);
    if (!vals.empty()) {
      const int base = a.atomic_num <= 2 ? 2 : 8;
      int rad = base - outer - total + a.charge;
      if (rad < 0) {
        rad = 0;
        if (vals.size() > 1)
          for (int v : vals)
            if (v - total + a.charge >= 0) {
              rad = v - total + a.charge;
              break;
            }
      }
      const int rad2 = outer - total - a.charge;
      if (rad2 >= 0) rad = std::min(rad, rad2);
      a.radicals = std::max(rad, 0);
    } else {
      // metals: an odd electron count left over is one radical
      const int left = outer - total - a.charge;
      a.radicals = left >= 0 ? left % 2 : 0;
    }
  }
}

// ---- step 6: rings for aromaticity ------------------------------------------------
// Candidate cycles (Horton): for every atom r and ring bond (x, y), the shortest
// path r..x + (x, y) + y..r when the two paths meet only at r. A greedy GF(2)
// elimination in order of size picks a minimum cycle basis; cycles independent
// of all strictly shorter ones (the "relevant" cycles of that size) are kept too.
std::vector<std::vector<int>> ring_set(const Molecule& mol, const Adjacency& adj,
                                       std::vector<std::vector<int>>* ring_bonds) {
  const int n = static_cast<int>(mol.atoms.size());
  const int m = static_cast<int>(mol.bonds.size());
  std::vector<int> ring_bond_ids;
  std::vector<int> bond_col(m, -1);
  for (int b = 0; b < m; ++b)
    if (mol.bonds[b].in_ring) {
      bond_col[b] = static_cast<int>(ring_bond_ids.size());
      ring_bond_ids.push_back(b);
    }
  const int nb = static_cast<int>(ring_bond_ids.size());
  if (nb == 0) return {};
  struct Cycle {
    std::vector<int> atoms;
    std::vector<char> bonds;  // over ring bond columns
  };
  std::vector<Cycle> cands;
  std::set<std::vector<int>> seen;  // sorted bond lists
  std::vector<int> dist(n), parent_bond(n), first(n);
  for (int r = 0; r < n; ++r) {
    if (!mol.atoms[r].in_ring) continue;
    std::fill(dist.begin(), dist.end(), -1);
    std::vector<int> order = {r};
    dist[r] = 0;
    parent_bond[r] = -1;
    first[r] = r;
    for (size_t q = 0; q < order.size(); ++q) {
      const int v = order[q];
      if (dist[v] >= 12) continue;  // rings up to 24 atoms
      for (auto [w, bi] : adj[v]) {
        if (!mol.bonds[bi].in_ring || dist[w] >= 0) continue;
        dist[w] = dist[v] + 1;
        parent_bond[w] = bi;
        first[w] = v == r ? w : first[v];
        order.push_back(w);
      }
    }
    for (int b : ring_bond_ids) {
      const int x = mol.bonds[b].begin, y = mol.bonds[b].end;
      if (dist[x] < 0 || dist[y] < 0 || parent_bond[x] == b || parent_bond[y] == b) continue;
      if (x == r || y == r) continue;
      if (first[x] == first[y]) continue;  // paths share more than r
      if (dist[x] + dist[y] + 1 > 24) continue;
      std::vector<int> path_x, path_y, bonds = {b};
      for (int v = x; v != r; v = mol.bonds[parent_bond[v]].begin ^ mol.bonds[parent_bond[v]].end ^ v) {
        path_x.push_back(v);
        bonds.push_back(parent_bond[v]);
      }
      for (int v = y; v != r; v = mol.bonds[parent_bond[v]].begin ^ mol.bonds[parent_bond[v]].end ^ v) {
        path_y.push_back(v);
        bonds.push_back(parent_bond[v]);
      }
      std::vector<int> key = bonds;
      std::sort(key.begin(), key.end());
      if (!seen.insert(key).second) continue;
      Cycle c;
      c.atoms.push_back(r);
      for (auto it = path_x.rbegin(); it != path_x.rend(); ++it) c.atoms.push_back(*it);
      for (int v : path_y) c.atoms.push_back(v);
      c.bonds.assign(nb, 0);
      for (int bb : bonds) c.bonds[bond_col[bb]] = 1;
      cands.push_back(std::move(c));
    }
  }
  std::stable_sort(cands.begin(), cands.end(),
                   [](const Cycle& a, const Cycle& b) { return a.atoms.size() < b.atoms.size(); });
  // Gaussian elimination: basis rows of strictly shorter cycles are frozen
  // before testing a size class, so every cycle of a size independent of the
  // shorter ones is kept, and the basis grows by the independent ones.
  std::vector<std::vector<char>> basis;  // reduced rows
  std::vector<int> pivots;
  auto reduce = [&](std::vector<char> v, size_t rows) {
    for (size_t k = 0; k < rows; ++k)
      if (v[pivots[k]])
        for (int j = 0; j < nb; ++j) v[j] ^= basis[k][j];
    return v;
  };
  std::vector<std::vector<int>> rings;
  size_t i = 0;
  while (i < cands.size()) {
    size_t j = i;
    while (j < cands.size() && cands[j].atoms.size() == cands[i].atoms.size()) ++j;
    const size_t frozen = basis.size();
    for (size_t k = i; k < j; ++k) {
      auto v = reduce(cands[k].bonds, frozen);
      if (std::find(v.begin(), v.end(), 1) == v.end()) continue;  // spanned by shorter cycles
      rings.push_back(cands[k].atoms);
      if (ring_bonds) {
        std::vector<int> rb;
        for (int c = 0; c < nb; ++c)
          if (cands[k].bonds[c]) rb.push_back(ring_bond_ids[c]);
        ring_bonds->push_back(rb);
      }
      auto w = reduce(v, basis.size());
      auto piv = std::find(w.begin(), w.end(), 1);
      if (piv != w.end()) {
        basis.push_back(w);
        pivots.push_back(static_cast<int>(piv - w.begin()));
      }
    }
    i = j;
  }
  return rings;
}

enum class Donor { None, Vacant, One, Two };

// π electrons an atom can give a ring (RDKit's countAtomElec + donor type).
Donor donor_type(const Molecule& mol, const Adjacency& adj, int i) {
  const Atom& a = mol.atoms[i];
  const int dv = default_valence(a.atomic_num);
  if (dv <= 1) return Donor::None;
  const int degree = a.degree + a.total_h();
  if (degree > 3) return Donor::None;
  int nlp = outer_electrons(a.atomic_num) - dv;
  nlp = std::max(nlp - a.charge, 0);
  int valence = a.total_h();
  int exo_partner = -1;  // atom at the other end of an exocyclic multiple bond
  bool multiple = false, cyclic_multiple = false;
  for (auto [nb, bi] : adj[i]) {
    const Bond& b = mol.bonds[bi];
    valence += bond_order(b.type);
    if (b.type == BondType::Double || b.type == BondType::Triple) {
      multiple = true;
      if (b.in_ring)
        cyclic_multiple = true;
      else
        exo_partner = nb;
    }
  }
  int nelec = (dv - degree) + nlp - a.radicals;
  if (nelec > 1 && valence - a.total_h() - a.degree > 1) nelec = 1;  // a triple bond: one electron
  if (nelec < 0) return Donor::None;
  if (nelec == 0) {
    if (exo_partner >= 0) return Donor::Vacant;
    if (cyclic_multiple) return Donor::One;
    return Donor::None;  // no electrons, no multiple bond: B in borole/boronate esters is not aromatic
  }
  if (nelec == 1) {
    if (exo_partner >= 0)
      return more_electronegative(mol.atoms[exo_partner].atomic_num, a.atomic_num) ? Donor::Vacant : Donor::One;
    if (multiple) return Donor::One;
    if (a.charge == 1) return Donor::Vacant;  // tropylium, cyclopropenyl cations
    return Donor::None;
  }
  return multiple ? Donor::One : Donor::Two;
}

bool aromatic_candidate(const Molecule& mol, const Adjacency& adj, int i, Donor d) {
  if (d == Donor::None) return false;
  const Atom& a = mol.atoms[i];
  int n_multiple = 0, valence = a.total_h();
  for (auto [nb, bi] : adj[i]) {
    const BondType t = mol.bonds[bi].type;
    valence += bond_order(t);
    if (t == BondType::Double || t == BondType::Triple) ++n_multiple;
  }
  if (n_multiple > 1) return false;  // C1=C=NC=N1
  if (valence > outer_electrons(a.atomic_num) - a.charge) return false;
  return true;
}

int donor_electrons(Donor d) { return d == Donor::Two ? 2 : d == Donor::One ? 1 : 0; }

bool huckel(const std::vector<int>& atoms, const std::vector<Donor>& donors) {
  int e = 0;
  for (int a : atoms) e += donor_electrons(donors[a]);
  return e == 2 || (e >= 6 && (e - 2) % 4 == 0);
}

void perceive_aromaticity(Molecule& mol, const Adjacency& adj) {
  const int n = static_cast<int>(mol.atoms.size());
  std::vector<std::vector<int>> ring_bonds;
  const auto rings = ring_set(mol, adj, &ring_bonds);
  if (rings.empty()) return;
  std::vector<Donor> donors(n, Donor::None);
  std::vector<char> cand(n, 0);
  for (int i = 0; i < n; ++i) {
    if (!mol.atoms[i].in_ring) continue;
    donors[i] = donor_type(mol, adj, i);
    cand[i] = aromatic_candidate(mol, adj, i, donors[i]);
  }
  std::vector<int> crings;
  for (size_t r = 0; r < rings.size(); ++r) {
    bool ok = true;
    for (int a : rings[r]) ok = ok && cand[a];
    if (ok) crings.push_back(static_cast<int>(r));
  }
  const int nc = static_cast<int>(crings.size());
  // Rings are fused neighbours when they share exactly one bond (RDKit: rings
  // sharing more, like porphyrin's macrocycle and its pyrroles, cannot be planar together).
  std::vector<std::vector<char>> fused(nc, std::vector<char>(nc, 0));
  for (int p = 0; p < nc; ++p)
    for (int q = p + 1; q < nc; ++q) {
      const auto& bp = ring_bonds[crings[p]];
      const auto& bq = ring_bonds[crings[q]];
      int shared = 0;
      for (int b : bp) shared += std::find(bq.begin(), bq.end(), b) != bq.end();
      if (shared == 1) fused[p][q] = fused[q][p] = 1;
    }
  std::vector<char> done(nc, 0);
  std::vector<char> bond_arom(mol.bonds.size(), 0), atom_arom(n, 0);
  for (int start = 0; start < nc; ++start) {
    if (done[start]) continue;
    std::vector<int> system = {start};
    done[start] = 1;
    for (size_t q = 0; q < system.size(); ++q)
      for (int o = 0; o < nc; ++o)
        if (!done[o] && fused[system[q]][o]) {
          done[o] = 1;
          system.push_back(o);
        }
    std::sort(system.begin(), system.end());
    const int ns = static_cast<int>(system.size());
    std::set<int> system_bonds;
    for (int s : system) system_bonds.insert(ring_bonds[crings[s]].begin(), ring_bonds[crings[s]].end());
    // An aromatic combination marks its counted atoms and the bonds on its
    // envelope (in one chosen ring only): azulene's fusion bond stays single.
    auto mark = [&](const std::vector<int>& chosen, const std::vector<int>& members) {
      std::map<int, int> bond_count;
      for (int s : chosen)
        for (int b : ring_bonds[crings[s]]) ++bond_count[b];
      for (auto [b, c] : bond_count)
        if (c == 1) bond_arom[b] = 1;
      for (int a : members) atom_arom[a] = 1;
    };
    auto all_marked = [&]() {
      for (int b : system_bonds)
        if (!bond_arom[b]) return false;
      return true;
    };
    const int max_k = std::min(ns, 8);
    int64_t budget = 200000;
    for (int k = 1; k <= max_k && !all_marked(); ++k) {
      // combinations of k rings of the system, in lexicographic order
      std::vector<int> idx(k);
      std::iota(idx.begin(), idx.end(), 0);
      while (true) {
        if (--budget < 0) break;
        std::vector<int> chosen(k);
        for (int t = 0; t < k; ++t) chosen[t] = system[idx[t]];
        bool connected = true;
        if (k > 1) {  // the chosen rings must form one fused block
          std::vector<char> reached(k, 0);
          std::vector<int> queue = {0};
          reached[0] = 1;
          for (size_t q = 0; q < queue.size(); ++q)
            for (int t = 0; t < k; ++t)
              if (!reached[t] && fused[chosen[queue[q]]][chosen[t]]) {
                reached[t] = 1;
                queue.push_back(t);
              }
          connected = static_cast<int>(queue.size()) == k;
        }
        if (connected) {
          std::vector<int> count(n, 0);
          for (int s : chosen)
            for (int a : rings[crings[s]]) ++count[a];
          std::vector<int> members;
          for (int a = 0; a < n; ++a)
            if (count[a] == 1 || count[a] == 2) members.push_back(a);
          if (huckel(members, donors)) mark(chosen, members);
        }
        int t = k - 1;
        while (t >= 0 && idx[t] == ns - k + t) --t;
        if (t < 0) break;
        ++idx[t];
        for (int u = t + 1; u < k; ++u) idx[u] = idx[u - 1] + 1;
      }
    }
  }
  for (int i = 0; i < n; ++i) mol.atoms[i].aromatic = atom_arom[i];
  for (size_t b = 0; b < mol.bonds.size(); ++b)
    if (bond_arom[b]) mol.bonds[b].type = BondType::Aromatic;
}

}  // namespace

std::vector<std::vector<std::pair<int, int>>> Molecule::neighbours() const {
  std::vector<std::vector<std::pair<int, int>>> adj(atoms.size());
  for (size_t b = 0; b < bonds.size(); ++b) {
    adj[bonds[b].begin].push_back({bonds[b].end, static_cast<int>(b)});
    adj[bonds[b].end].push_back({bonds[b].begin, static_cast<int>(b)});
  }
  return adj;
}

int atomic_number(std::string_view symbol) {
  for (int z = 1; z <= kMaxZ; ++z)
    if (symbol == kSymbols[z]) return z;
  return 0;
}

const char* element_symbol(int atomic_num) {
  return atomic_num >= 1 && atomic_num <= kMaxZ ? kSymbols[atomic_num] : "?";
}

void sanitize(Molecule& mol, const std::string& what) {
  const int n = static_cast<int>(mol.atoms.size());
  std::set<std::pair<int, int>> pairs;
  for (size_t b = 0; b < mol.bonds.size(); ++b) {
    const Bond& bd = mol.bonds[b];
    GALEN_CHECK(bd.begin >= 0 && bd.begin < n && bd.end >= 0 && bd.end < n, what, ": bond ", b, " joins atoms ",
                bd.begin, " and ", bd.end, " but the molecule has ", n, " atoms");
    GALEN_CHECK(bd.begin != bd.end, what, ": bond ", b, " joins atom ", bd.begin, " to itself");
    GALEN_CHECK(pairs.insert({std::min(bd.begin, bd.end), std::max(bd.begin, bd.end)}).second, what, ": atoms ",
                bd.begin, " and ", bd.end, " are bonded twice");
  }
  fold_hydrogens(mol);
  auto adj = mol.neighbours();
  for (size_t i = 0; i < mol.atoms.size(); ++i) mol.atoms[i].degree = static_cast<int>(adj[i].size());
  clean_up(mol, adj);
  mark_ring_bonds(mol, adj);
  // aromatic bonds in rings make their atoms aromatic (RDKit reads C1:C:C:C:C:C1 as benzene)
  for (const Bond& b : mol.bonds)
    if (b.type == BondType::Aromatic && b.in_ring) mol.atoms[b.begin].aromatic = mol.atoms[b.end].aromatic = true;
  for (size_t i = 0; i < mol.atoms.size(); ++i)
    mol.atoms[i].implicit_h = implicit_hydrogens(mol, adj, static_cast<int>(i));
  kekulize(mol, adj, what);
  assign_radicals(mol, adj);
  for (Atom& a : mol.atoms) a.aromatic = false;
  perceive_aromaticity(mol, adj);
}

// ---- features ------------------------------------------------------------------------
const std::vector<std::string> kFeatureElements = {"C",  "N",  "O",  "S",  "F",  "Si", "P",  "Cl", "Br", "Mg", "Na",
                                                   "Ca", "Fe", "As", "Al", "I",  "B",  "V",  "K",  "Tl", "Yb", "Sb",
                                                   "Sn", "Ag", "Pd", "Co", "Se", "Ti", "Zn", "H",  "Li", "Ge", "Cu",
                                                   "Au", "Ni", "Cd", "In", "Mn", "Zr", "Cr", "Pt", "Hg", "Pb"};

int64_t element_feature_index(int atomic_num) {
  static const std::vector<int64_t> table = [] {
    std::vector<int64_t> t(kMaxZ + 1, static_cast<int64_t>(kFeatureElements.size()));
    for (size_t k = 0; k < kFeatureElements.size(); ++k)
      t[atomic_number(kFeatureElements[k])] = static_cast<int64_t>(k);
    return t;
  }();
  if (atomic_num < 1 || atomic_num > kMaxZ) return static_cast<int64_t>(kFeatureElements.size());
  return table[atomic_num];
}

MolGraph mol_to_graph(const Molecule& mol) {
  static_assert(kAtomFeatureDim == 51, "update the feature layout comment in molecule.h");
  GALEN_CHECK(static_cast<int64_t>(kFeatureElements.size()) + 1 + 7 == kAtomFeatureDim,
              "mol_to_graph: element list and feature width disagree");
  const int64_t n = mol.num_atoms(), nb = mol.num_bonds();
  std::vector<float> x(static_cast<size_t>(n * kAtomFeatureDim), 0.0f);
  const int64_t off = static_cast<int64_t>(kFeatureElements.size()) + 1;
  for (int64_t i = 0; i < n; ++i) {
    const Atom& a = mol.atoms[i];
    float* row = x.data() + i * kAtomFeatureDim;
    row[element_feature_index(a.atomic_num)] = 1.0f;
    row[off + 0] = static_cast<float>(a.degree);
    row[off + 1] = static_cast<float>(a.charge);
    row[off + 2] = a.aromatic ? 1.0f : 0.0f;
    row[off + 3] = static_cast<float>(a.total_h());
    row[off + 4] = a.in_ring ? 1.0f : 0.0f;
    row[off + 5] = static_cast<float>(a.radicals);
    row[off + 6] = a.isotope != 0 ? 1.0f : 0.0f;
  }
  std::vector<int64_t> ei(static_cast<size_t>(2 * 2 * nb));
  std::vector<float> ea(static_cast<size_t>(2 * nb * kBondFeatureDim), 0.0f);
  for (int64_t b = 0; b < nb; ++b) {
    const Bond& bd = mol.bonds[b];
    ei[2 * b] = bd.begin;               // row 0 (source), column 2b
    ei[2 * b + 1] = bd.end;             // row 0, column 2b+1
    ei[2 * nb + 2 * b] = bd.end;        // row 1 (target), column 2b
    ei[2 * nb + 2 * b + 1] = bd.begin;  // row 1, column 2b+1
    const int type_col = bd.type == BondType::Single   ? 0
                         : bd.type == BondType::Double ? 1
                         : bd.type == BondType::Triple ? 2
                                                       : 3;
    for (int side = 0; side < 2; ++side) {
      float* row = ea.data() + (2 * b + side) * kBondFeatureDim;
      row[type_col] = 1.0f;
      row[4] = bd.in_ring ? 1.0f : 0.0f;
    }
  }
  MolGraph g;
  g.x = from_vector<float>(x, {n, kAtomFeatureDim});
  g.edge_index = from_vector<int64_t>(ei, {2, 2 * nb});
  g.edge_attr = from_vector<float>(ea, {2 * nb, kBondFeatureDim});
  return g;
}

}  // namespace galen::chem
