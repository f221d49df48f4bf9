// SMILES parser: a single left-to-right pass with a branch stack and a table
// of open ring closures, then the shared perception (molecule.cpp).
#include "galen/data/smiles.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <sstream>

#include "galen/data/idx.h"

namespace galen::chem {

namespace {

struct PendingBond {
  bool set = false;
  BondType type = BondType::Single;
  bool directional = false;  // '/' or '\' (single, direction ignored)
  size_t pos = 0;
};

struct OpenRing {
  int atom = -1;
  PendingBond bond;
  size_t pos = 0;
};

class SmilesParser {
 public:
  explicit SmilesParser(const std::string& s) : s_(s) {}

  Molecule parse() {
    int prev = -1;
    bool after_dot = false;
    PendingBond pending;
    std::vector<std::pair<int, size_t>> branches;  // (atom before '(', position of '(')
    std::map<int, OpenRing> rings;
    size_t i = 0;
    while (i < s_.size()) {
      const char c = s_[i];
      if (c == '[' || is_organic_start(i)) {
        const size_t atom_pos = i;
        const int a = c == '[' ? parse_bracket(i) : parse_organic(i);
        if (prev >= 0) {
          add_bond(prev, a, pending, atom_pos);
        } else if (pending.set) {
          fail(pending.pos, "bond symbol with no atom before it");
        }
        pending = PendingBond{};
        prev = a;
        after_dot = false;
      } else if (c == '-' || c == '=' || c == '#' || c == '$' || c == ':' || c == '/' || c == '\\') {
        if (prev < 0) fail(i, "bond symbol '", std::string(1, c), "' with no atom before it");
        if (pending.set) fail(i, "two bond symbols in a row");
        pending.set = true;
        pending.pos = i;
        pending.directional = c == '/' || c == '\\';
        pending.type = c == '='   ? BondType::Double
                       : c == '#' ? BondType::Triple
                       : c == ':' ? BondType::Aromatic
                                  : BondType::Single;
        GALEN_CHECK(c != '$', "parse_smiles: quadruple bond '$' at position ", i, " in '", s_, "' is not supported");
        ++i;
      } else if (std::isdigit(static_cast<unsigned char>(c)) || c == '%') {
        const size_t pos = i;
        int num;
        if (c == '%') {
          if (i + 2 >= s_.size() + 0 || !std::isdigit(static_cast<unsigned char>(s_[i + 1])) ||
              !std::isdigit(static_cast<unsigned char>(s_[i + 2])))
            fail(i, "'%' must be followed by two digits");
          num = (s_[i + 1] - '0') * 10 + (s_[i + 2] - '0');
          i += 3;
        } else {
          num = c - '0';
          ++i;
        }
        if (prev < 0) fail(pos, "ring-closure digit with no atom before it");
        auto it = rings.find(num);
        if (it == rings.end()) {
          rings[num] = OpenRing{prev, pending, pos};
        } else {
          const OpenRing open = it->second;
          rings.erase(it);
          if (open.atom == prev) fail(pos, "ring bond ", num, " joins an atom to itself");
          PendingBond b = open.bond.set ? open.bond : pending;
          if (open.bond.set && pending.set && open.bond.type != pending.type)
            fail(pos, "ring bond ", num, " has conflicting bond symbols (opened at position ", open.pos, ")");
          for (const Bond& bd : mol_.bonds)
            if ((bd.begin == prev && bd.end == open.atom) || (bd.begin == open.atom && bd.end == prev))
              fail(pos, "ring bond ", num, " duplicates an existing bond");
          for (const auto& cl : closures_)
            if ((cl.bond.begin == prev && cl.bond.end == open.atom) ||
                (cl.bond.begin == open.atom && cl.bond.end == prev))
              fail(pos, "ring bond ", num, " duplicates an existing bond");
          closures_.push_back({open.atom, num, make_bond(prev, open.atom, b)});
        }
        pending = PendingBond{};
      } else if (c == '(') {
        if (prev < 0) fail(i, "branch with no atom before it");
        if (pending.set) fail(pending.pos, "bond symbol before '('");
        if (i + 1 < s_.size() && s_[i + 1] == ')') fail(i, "empty branch '()'");
        branches.push_back({prev, i});
        ++i;
      } else if (c == ')') {
        if (branches.empty()) fail(i, "')' without a matching '('");
        if (pending.set) fail(pending.pos, "bond symbol with no atom after it");
        if (after_dot) fail(i, "'.' with no atom after it");
        prev = branches.back().first;
        branches.pop_back();
        ++i;
      } else if (c == '.') {
        if (pending.set) fail(pending.pos, "bond symbol with no atom after it");
        if (prev < 0 && after_dot) fail(i, "two '.' in a row");
        if (prev < 0 && mol_.atoms.empty()) fail(i, "'.' with no atom before it");
        prev = -1;
        after_dot = true;
        ++i;
      } else {
        if (std::isalpha(static_cast<unsigned char>(c)))
          fail(i, "unknown element '", std::string(1, c),
               "' (outside brackets only B C N O P S F Cl Br I b c n o p s)");
        fail(i, "unexpected character '", std::string(1, c), "'");
      }
    }
    if (pending.set) fail(pending.pos, "bond symbol with no atom after it");
    if (after_dot) fail(s_.size() - 1, "'.' with no atom after it");
    if (!branches.empty()) fail(branches.back().second, "unclosed branch '('");
    if (!rings.empty()) {
      const auto& [num, open] = *rings.begin();
      fail(open.pos, "unclosed ring bond ", num);
    }
    // RDKit appends ring-closure bonds after the chain bonds, ordered by the
    // opening atom and then the ring number; keep its bond numbering.
    std::stable_sort(closures_.begin(), closures_.end(), [](const Closure& a, const Closure& b) {
      return a.open_atom != b.open_atom ? a.open_atom < b.open_atom : a.number < b.number;
    });
    for (const auto& cl : closures_) mol_.bonds.push_back(cl.bond);
    return std::move(mol_);
  }

 private:
  template <typename... Args>
  [[noreturn]] void fail(size_t pos, const Args&... args) {
    GALEN_FAIL("parse_smiles: ", detail::concat(args...), " at position ", pos, " in '", s_, "'");
  }

  bool is_organic_start(size_t i) const {
    const char c = s_[i];
    return c == 'B' || c == 'C' || c == 'N' || c == 'O' || c == 'P' || c == 'S' || c == 'F' || c == 'I' || c == 'b' ||
           c == 'c' || c == 'n' || c == 'o' || c == 'p' || c == 's';
  }

  int add_atom(const Atom& a) {
    mol_.atoms.push_back(a);
    return static_cast<int>(mol_.atoms.size()) - 1;
  }

  void add_bond(int from, int to, const PendingBond& b, size_t pos) {
    (void)pos;
    mol_.bonds.push_back(make_bond(from, to, b));
  }

  Bond make_bond(int from, int to, const PendingBond& b) const {
    Bond bd;
    bd.begin = from;
    bd.end = to;
    if (b.set && !b.directional) {
      bd.type = b.type;
    } else {
      bd.type = mol_.atoms[from].aromatic && mol_.atoms[to].aromatic ? BondType::Aromatic : BondType::Single;
    }
    return bd;
  }

  int parse_organic(size_t& i) {
    Atom a;
    const char c = s_[i];
    if (c == 'C' && i + 1 < s_.size() && s_[i + 1] == 'l') {
      a.atomic_num = 17;
      i += 2;
    } else if (c == 'B' && i + 1 < s_.size() && s_[i + 1] == 'r') {
      a.atomic_num = 35;
      i += 2;
    } else {
      const char up = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      a.atomic_num = atomic_number(std::string(1, up));
      a.aromatic = std::islower(static_cast<unsigned char>(c)) != 0;
      ++i;
    }
    return add_atom(a);
  }

  int read_int(size_t& i, int max_digits) {
    int v = 0, n = 0;
    while (i < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i])) && n < max_digits) {
      v = v * 10 + (s_[i] - '0');
      ++i;
      ++n;
    }
    return v;
  }

  bool digit_at(size_t i) const { return i < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i])); }

  int parse_bracket(size_t& i) {
    const size_t open = i;
    ++i;  // '['
    Atom a;
    a.no_implicit = true;
    if (digit_at(i)) {
      a.isotope = read_int(i, 4);
      if (digit_at(i)) fail(i, "isotope has more than 4 digits");
    }
    // element symbol
    if (i >= s_.size() || s_[i] == ']') fail(i, "bracket atom without an element symbol");
    const char c = s_[i];
    if (std::isupper(static_cast<unsigned char>(c))) {
      int z = 0;
      if (i + 1 < s_.size() && std::islower(static_cast<unsigned char>(s_[i + 1]))) z = atomic_number(s_.substr(i, 2));
      if (z) {
        i += 2;
      } else {
        z = atomic_number(s_.substr(i, 1));
        if (!z) {
          size_t len = 1;
          if (i + 1 < s_.size() && std::islower(static_cast<unsigned char>(s_[i + 1]))) len = 2;
          fail(i, "unknown element '", s_.substr(i, len), "'");
        }
        ++i;
      }
      a.atomic_num = z;
    } else if (std::islower(static_cast<unsigned char>(c))) {
      static const char* const aromatic2[] = {"se", "as", "te"};
      int z = 0;
      for (const char* sym : aromatic2)
        if (s_.compare(i, 2, sym) == 0) {
          z = atomic_number(std::string(1, static_cast<char>(std::toupper(sym[0]))) + sym[1]);
          i += 2;
          break;
        }
      if (!z) {
        if (c == 'b' || c == 'c' || c == 'n' || c == 'o' || c == 'p' || c == 's') {
          z = atomic_number(std::string(1, static_cast<char>(std::toupper(static_cast<unsigned char>(c)))));
          ++i;
        } else {
          fail(i, "unknown aromatic element '", std::string(1, c), "'");
        }
      }
      a.atomic_num = z;
      a.aromatic = true;
    } else if (c == '*') {
      fail(i, "wildcard atom '*' is not supported");
    } else {
      fail(i, "bad bracket atom: expected an element symbol, got '", std::string(1, c), "'");
    }
    // chirality (parsed, ignored)
    if (i < s_.size() && s_[i] == '@') {
      ++i;
      if (i < s_.size() && s_[i] == '@') {
        ++i;
      } else if (i + 1 < s_.size() && std::isupper(static_cast<unsigned char>(s_[i])) &&
                 std::isupper(static_cast<unsigned char>(s_[i + 1]))) {
        const std::string cls = s_.substr(i, 2);
        if (cls != "TH" && cls != "AL" && cls != "SP" && cls != "TB" && cls != "OH")
          fail(i, "unknown chirality class '@", cls, "'");
        i += 2;
        if (!digit_at(i)) fail(i, "chirality class '@", cls, "' needs a number");
        read_int(i, 2);
      }
    }
    // hydrogen count
    if (i < s_.size() && s_[i] == 'H') {
      ++i;
      a.explicit_h = digit_at(i) ? read_int(i, 1) : 1;
    }
    // charge
    if (i < s_.size() && (s_[i] == '+' || s_[i] == '-')) {
      const char sign = s_[i];
      ++i;
      int mag = 1;
      if (digit_at(i)) {
        mag = read_int(i, 2);
      } else {
        while (i < s_.size() && s_[i] == sign) {
          ++mag;
          ++i;
        }
      }
      if (mag > 15) fail(i - 1, "charge magnitude ", mag, " is too large");
      a.charge = sign == '+' ? mag : -mag;
    }
    // atom class
    if (i < s_.size() && s_[i] == ':') {
      ++i;
      if (!digit_at(i)) fail(i, "atom class ':' needs a number");
      a.atom_class = read_int(i, 9);
    }
    if (i >= s_.size()) fail(open, "unterminated bracket atom '['");
    if (s_[i] != ']') fail(i, "bad bracket atom: unexpected '", std::string(1, s_[i]), "'");
    ++i;
    return add_atom(a);
  }

  struct Closure {
    int open_atom;
    int number;
    Bond bond;
  };
  const std::string& s_;
  Molecule mol_;
  std::vector<Closure> closures_;
};

}  // namespace

Molecule parse_smiles(const std::string& smiles) {
  Molecule m = SmilesParser(smiles).parse();
  sanitize(m, "parse_smiles('" + smiles + "')");
  return m;
}

std::vector<SmilesRecord> read_smiles_records(const std::string& path) {
  const std::string text = data::read_file_maybe_gz(path);
  std::vector<SmilesRecord> out;
  std::istringstream is(text);
  std::string line;
  int64_t lineno = 0;
  while (std::getline(is, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::istringstream ls(line);
    SmilesRecord r;
    if (!(ls >> r.smiles) || r.smiles[0] == '#') continue;
    ls >> r.name;
    std::string lower = r.smiles;
    for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (out.empty() && lower == "smiles") continue;
    r.line = lineno;
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<Molecule> read_smiles_file(const std::string& path) {
  std::vector<Molecule> out;
  for (const auto& r : read_smiles_records(path)) {
    try {
      out.push_back(parse_smiles(r.smiles));
    } catch (const Error& e) {
      GALEN_FAIL("read_smiles_file: ", path, " line ", r.line, ": ", e.what());
    }
    out.back().name = r.name;
  }
  return out;
}

}  // namespace galen::chem
