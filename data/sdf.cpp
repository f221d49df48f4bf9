// SDF / MOL V2000 reader: fixed-column fields read line by line, every error
// tagged with file:line.
#include "galen/data/sdf.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "galen/data/idx.h"

namespace galen::chem {

namespace {

class SdfReader {
 public:
  SdfReader(const std::string& text, const std::string& what) : what_(what) {
    size_t start = 0;
    while (start <= text.size()) {
      size_t end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      std::string line = text.substr(start, end - start);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      lines_.push_back(std::move(line));
      if (end == text.size()) break;
      start = end + 1;
    }
    // drop the empty string after a final newline
    if (!lines_.empty() && lines_.back().empty() && !text.empty() && text.back() == '\n') lines_.pop_back();
  }

  std::vector<Molecule> read_all() {
    std::vector<Molecule> out;
    while (true) {
      // skip blank lines between records / at the end
      size_t probe = pos_;
      while (probe < lines_.size() && trim(lines_[probe]).empty()) ++probe;
      if (probe >= lines_.size()) break;
      out.push_back(read_record());
    }
    return out;
  }

 private:
  template <typename... Args>
  [[noreturn]] void fail(size_t line_index, const Args&... args) {
    GALEN_FAIL("read_sdf: ", what_, ":", line_index + 1, ": ", detail::concat(args...));
  }

  static std::string trim(const std::string& s) {
    size_t b = 0, e = s.size();
    while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
    while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
    return s.substr(b, e - b);
  }

  const std::string& next_line(const char* expecting) {
    if (pos_ >= lines_.size()) fail(lines_.size() ? lines_.size() - 1 : 0, "file ends early, expected ", expecting);
    return lines_[pos_++];
  }

  // Integer in columns [begin, begin+width) of line `li`; empty -> `empty_value`.
  int field_int(size_t li, size_t begin, size_t width, const char* name, int empty_value = 0) {
    const std::string& line = lines_[li];
    if (begin >= line.size()) return empty_value;
    const std::string f = trim(line.substr(begin, width));
    if (f.empty()) return empty_value;
    char* end = nullptr;
    const long v = std::strtol(f.c_str(), &end, 10);
    if (*end != '\0') fail(li, "bad ", name, " '", f, "' in columns ", begin + 1, "-", begin + width);
    return static_cast<int>(v);
  }

  Molecule read_record() {
    Molecule mol;
    const size_t header = pos_;
    mol.name = trim(next_line("a molfile header"));
    next_line("the molfile header's program line");
    next_line("the molfile header's comment line");
    const size_t counts = pos_;
    const std::string& cl = next_line("the counts line");
    if (cl.find("V3000") != std::string::npos) fail(counts, "V3000 molfiles are not supported (V2000 only)");
    if (cl.size() < 6) fail(counts, "counts line too short: '", cl, "'");
    const int natoms = field_int(counts, 0, 3, "atom count", -1);
    const int nbonds = field_int(counts, 3, 3, "bond count", -1);
    if (natoms < 0 || nbonds < 0) fail(counts, "counts line without atom/bond counts: '", cl, "'");
    (void)header;
    std::vector<int> valence_field(natoms, 0);
    for (int i = 0; i < natoms; ++i) {
      if (pos_ >= lines_.size())
        fail(lines_.size() - 1, "truncated atom block: expected ", natoms, " atoms, file ends after ", i);
      const size_t li = pos_++;
      const std::string& line = lines_[li];
      if (line.size() < 34) fail(li, "atom line too short (", line.size(), " characters, need 34): '", line, "'");
      const std::string sym = trim(line.substr(31, 3));
      Atom a;
      a.atomic_num = atomic_number(sym);
      if (a.atomic_num == 0) {
        if (sym == "D" || sym == "T") {
          a.atomic_num = 1;
          a.isotope = sym == "D" ? 2 : 3;
        } else {
          fail(li, "unknown element '", sym, "' in the atom block");
        }
      }
      const int chg = field_int(li, 36, 3, "charge code");
      if (chg < 0 || chg > 7) fail(li, "bad charge code ", chg, " (0..7)");
      if (chg == 4)
        a.radicals = 1;
      else if (chg != 0)
        a.charge = 4 - chg;
      valence_field[i] = field_int(li, 48, 3, "valence");
      if (valence_field[i] < 0 || valence_field[i] > 15) fail(li, "bad valence field ", valence_field[i]);
      mol.atoms.push_back(a);
    }
    for (int i = 0; i < nbonds; ++i) {
      if (pos_ >= lines_.size())
        fail(lines_.size() - 1, "truncated bond block: expected ", nbonds, " bonds, file ends after ", i);
      const size_t li = pos_++;
      if (lines_[li].size() < 9) fail(li, "bond line too short: '", lines_[li], "'");
      Bond b;
      b.begin = field_int(li, 0, 3, "first atom") - 1;
      b.end = field_int(li, 3, 3, "second atom") - 1;
      if (b.begin < 0 || b.begin >= natoms || b.end < 0 || b.end >= natoms || b.begin == b.end)
        fail(li, "bond joins atoms ", b.begin + 1, " and ", b.end + 1, " (the molecule has ", natoms, " atoms)");
      const int type = field_int(li, 6, 3, "bond type");
      switch (type) {
        case 1:
          b.type = BondType::Single;
          break;
        case 2:
          b.type = BondType::Double;
          break;
        case 3:
          b.type = BondType::Triple;
          break;
        case 4:
          b.type = BondType::Aromatic;
          mol.atoms[b.begin].aromatic = mol.atoms[b.end].aromatic = true;
          break;
        default:
          fail(li, "unsupported bond type ", type, " (1, 2, 3 or 4 = aromatic)");
      }
      mol.bonds.push_back(b);
    }
    // properties block
    bool charges_reset = false;
    while (true) {
      if (pos_ >= lines_.size()) fail(lines_.size() - 1, "file ends before 'M  END'");
      const size_t li = pos_++;
      const std::string& line = lines_[li];
      if (line.rfind("M  END", 0) == 0) break;
      if (line.rfind("$$$$", 0) == 0) fail(li, "'$$$$' before 'M  END'");
      if (line.rfind("A  ", 0) == 0 || line.rfind("G  ", 0) == 0) {
        ++pos_;  // the alias / group text line
        continue;
      }
      const bool chg = line.rfind("M  CHG", 0) == 0, iso = line.rfind("M  ISO", 0) == 0,
                 rad = line.rfind("M  RAD", 0) == 0;
      if (!chg && !iso && !rad) continue;  // other properties are ignored
      if (chg && !charges_reset) {
        for (Atom& a : mol.atoms) a.charge = 0;  // M  CHG supersedes the atom block
        charges_reset = true;
      }
      const int n = field_int(li, 6, 3, "entry count");
      if (n < 1 || n > 8) fail(li, "bad entry count ", n, " (1..8)");
      if (line.size() < 9 + static_cast<size_t>(n) * 8) fail(li, "truncated line: ", n, " entries announced");
      for (int k = 0; k < n; ++k) {
        const int atom = field_int(li, 9 + 8 * k, 4, "atom number") - 1;
        const int value = field_int(li, 13 + 8 * k, 4, "value");
        if (atom < 0 || atom >= natoms) fail(li, "atom number ", atom + 1, " out of range 1..", natoms);
        if (chg) {
          if (value < -15 || value > 15) fail(li, "charge ", value, " out of range -15..15");
          mol.atoms[atom].charge = value;
        } else if (iso) {
          if (value < 0) fail(li, "negative isotope ", value);
          mol.atoms[atom].isotope = value;
        } else {
          if (value < 0 || value > 3) fail(li, "bad radical code ", value, " (0..3)");
          mol.atoms[atom].radicals = value == 2 ? 1 : value == 0 ? 0 : 2;
        }
      }
    }
    // data items
    while (pos_ < lines_.size()) {
      const size_t li = pos_++;
      const std::string& line = lines_[li];
      if (line.rfind("$$$$", 0) == 0) break;
      if (trim(line).empty()) continue;
      if (line[0] != '>') fail(li, "expected a data header '> <name>' or '$$$$', got '", line, "'");
      const size_t lt = line.find('<'), gt = line.find('>', lt == std::string::npos ? 1 : lt);
      if (lt == std::string::npos || gt == std::string::npos) fail(li, "data header without a <name>: '", line, "'");
      const std::string name = line.substr(lt + 1, gt - lt - 1);
      std::string value;
      bool first = true;
      while (pos_ < lines_.size() && !lines_[pos_].empty() && lines_[pos_].rfind("$$$$", 0) != 0) {
        if (!first) value += '\n';
        value += lines_[pos_++];
        first = false;
      }
      mol.properties[name] = value;
    }
    // explicit valence fields fix the H count (RDKit: valence minus bond orders)
    auto adj = mol.neighbours();
    for (int i = 0; i < natoms; ++i) {
      if (valence_field[i] == 0) continue;
      const int total = valence_field[i] == 15 ? 0 : valence_field[i];
      double bonds = 0;
      for (auto [nb, bi] : adj[i])
        bonds += mol.bonds[bi].type == BondType::Aromatic ? 1.5
                 : mol.bonds[bi].type == BondType::Double ? 2.0
                 : mol.bonds[bi].type == BondType::Triple ? 3.0
                                                          : 1.0;
      mol.atoms[i].no_implicit = true;
      mol.atoms[i].explicit_h = std::max(0, total - static_cast<int>(bonds + 0.5));
    }
    sanitize(mol, "read_sdf: " + what_ + ":" + std::to_string(counts + 1) + " (molecule '" + mol.name + "')");
    return mol;
  }

  std::string what_;
  std::vector<std::string> lines_;
  size_t pos_ = 0;
};

}  // namespace

std::vector<Molecule> parse_sdf(const std::string& text, const std::string& what) {
  return SdfReader(text, what).read_all();
}

std::vector<Molecule> read_sdf(const std::string& path) { return parse_sdf(data::read_file_maybe_gz(path), path); }

}  // namespace galen::chem
