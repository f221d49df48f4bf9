// CSV reader (see csv.h): a one-pass RFC 4180 tokenizer into records of
// fields, then per-column typing.
#include "galen/data/csv.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <set>

#include "galen/core/error.h"
#include "galen/data/idx.h"

namespace galen::data {

namespace {

struct Record {
  int64_t line = 0;  // 1-based physical line where the record starts
  std::vector<std::string> fields;
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// A whole cell as a number (surrounding spaces allowed, a leading '+' too).
bool parse_number(std::string_view s, double& out) {
  s = trim(s);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return false;
  const char* b = s.data();
  const char* e = s.data() + s.size();
  auto [p, ec] = std::from_chars(b, e, out);
  if (ec == std::errc::result_out_of_range) {
    // Denormal underflow or overflow: fall back to strtod's rounding.
    out = std::strtod(std::string(s).c_str(), nullptr);
    return true;
  }
  return ec == std::errc() && p == e;
}

std::vector<Record> tokenize(const std::string& text, const CsvOptions& o, const std::string& what) {
  std::vector<Record> records;
  const size_t n = text.size();
  size_t i = 0;
  int64_t line = 1;
  // UTF-8 byte order mark.
  if (n >= 3 && std::memcmp(text.data(), "\xEF\xBB\xBF", 3) == 0) i = 3;
  for (int64_t k = 0; k < o.skip_rows && i < n; ++k) {
    while (i < n && text[i] != '\n') ++i;
    if (i < n) ++i;
    ++line;
  }
  const char d = o.delimiter, q = o.quote;
  while (i < n) {
    Record rec;
    rec.line = line;
    // A completely empty line is skipped (also a trailing one).
    if (text[i] == '\n' || (text[i] == '\r' && i + 1 < n && text[i + 1] == '\n')) {
      i += text[i] == '\r' ? 2 : 1;
      ++line;
      continue;
    }
    bool end_of_record = false;
    while (!end_of_record) {
      std::string field;
      const int64_t field_line = line;
      if (i < n && text[i] == q) {
        ++i;
        bool closed = false;
        while (i < n) {
          const char c = text[i];
          if (c == q) {
            if (i + 1 < n && text[i + 1] == q) {
              field.push_back(q);
              i += 2;
              continue;
            }
            ++i;
            closed = true;
            break;
          }
          if (c == '\n') ++line;
          field.push_back(c);
          ++i;
        }
        GALEN_CHECK(closed, "read_csv: '", what, "' line ", field_line, ", column ", rec.fields.size() + 1,
                    ": unterminated quoted field (the file ends inside it)");
        // After the closing quote: a delimiter, a line end or the end of the file.
        if (i < n && text[i] != d && text[i] != '\n' && !(text[i] == '\r' && (i + 1 == n || text[i + 1] == '\n')))
          GALEN_FAIL("read_csv: '", what, "' line ", line, ", column ", rec.fields.size() + 1,
                     ": unexpected character '", text[i], "' after a closing quote");
      } else {
        // Up to a delimiter or a line end; a lone '\r' inside a line is data.
        while (i < n) {
          const char c = text[i];
          if (c == d || c == '\n' || (c == '\r' && (i + 1 == n || text[i + 1] == '\n'))) break;
          field.push_back(c);
          ++i;
        }
      }
      rec.fields.push_back(std::move(field));
      if (i >= n) {
        end_of_record = true;
      } else if (text[i] == d) {
        ++i;
      } else {  // '\n', "\r\n", or a final '\r'
        if (text[i] == '\r') ++i;
        if (i < n && text[i] == '\n') ++i;
        ++line;
        end_of_record = true;
      }
    }
    records.push_back(std::move(rec));
  }
  return records;
}

}  // namespace

CsvTable parse_csv(const std::string& text, const CsvOptions& o, const std::string& what) {
  GALEN_CHECK(o.delimiter != o.quote && o.delimiter != '\n' && o.delimiter != '\r',
              "read_csv: delimiter must differ from the quote and line-end characters");
  std::vector<Record> recs = tokenize(text, o, what);
  CsvTable t;
  t.source_ = what;
  size_t ncols = 0;
  size_t first = 0;
  std::vector<std::string> names;
  if (o.header) {
    GALEN_CHECK(!recs.empty(), "read_csv: '", what, "' has no header row");
    names = recs[0].fields;
    first = 1;
    std::set<std::string> seen;
    for (size_t c = 0; c < names.size(); ++c)
      GALEN_CHECK(seen.insert(names[c]).second, "read_csv: '", what, "' line ", recs[0].line,
                  ": duplicate column name '", names[c], "' (columns ", names.size(), ")");
    ncols = names.size();
  } else if (!recs.empty()) {
    ncols = recs[0].fields.size();
    for (size_t c = 0; c < ncols; ++c) names.push_back(std::to_string(c));
  }
  for (const auto& [name, type] : o.types) {
    bool found = false;
    for (const auto& nm : names) found = found || nm == name;
    GALEN_CHECK(found, "read_csv: '", what, "': a type is declared for column '", name, "', which the file lacks");
  }
  for (size_t r = first; r < recs.size(); ++r)
    GALEN_CHECK(recs[r].fields.size() == ncols, "read_csv: '", what, "' line ", recs[r].line, ": ",
                recs[r].fields.size(), " fields, expected ", ncols, o.header ? " (as in the header)" : " (as in the first row)");
  const int64_t rows = static_cast<int64_t>(recs.size() - first);
  t.rows_ = rows;
  for (int64_t r = 0; r < rows; ++r) t.lines_.push_back(recs[first + r].line);
  const std::set<std::string> na(o.na_values.begin(), o.na_values.end());
  for (size_t c = 0; c < ncols; ++c) {
    CsvTable::Column col;
    col.name = names[c];
    ColumnType want = ColumnType::Auto;
    if (auto it = o.types.find(col.name); it != o.types.end()) want = it->second;
    col.missing.resize(static_cast<size_t>(rows));
    std::vector<double> nums(static_cast<size_t>(rows));
    bool numeric = want != ColumnType::String;
    for (int64_t r = 0; r < rows; ++r) {
      const std::string& cell = recs[first + r].fields[c];
      const bool miss = na.count(std::string(trim(cell))) > 0 || na.count(cell) > 0;
      col.missing[r] = miss;
      if (miss) {
        nums[r] = std::numeric_limits<double>::quiet_NaN();
        continue;
      }
      if (!numeric) continue;
      double v;
      if (!parse_number(cell, v)) {
        GALEN_CHECK(want != ColumnType::Numeric, "read_csv: '", what, "' line ", recs[first + r].line, ", column ",
                    c + 1, " ('", col.name, "'): '", cell, "' is not a number (the column is declared numeric)");
        numeric = false;
        continue;
      }
      nums[r] = v;
    }
    if (numeric) {
      col.type = ColumnType::Numeric;
      col.numbers = std::move(nums);
    } else {
      col.type = ColumnType::String;
      col.strings.reserve(static_cast<size_t>(rows));
      for (int64_t r = 0; r < rows; ++r) col.strings.push_back(std::move(recs[first + r].fields[c]));
    }
    t.index_[col.name] = static_cast<int64_t>(c);
    t.columns_.push_back(std::move(col));
  }
  return t;
}

CsvTable read_csv(const std::string& path, const CsvOptions& options) {
  return parse_csv(read_file_maybe_gz(path), options, path);  // gzip or plain
}

// ---- access --------------------------------------------------------------------

std::vector<std::string> CsvTable::column_names() const {
  std::vector<std::string> v;
  for (const auto& c : columns_) v.push_back(c.name);
  return v;
}

int64_t CsvTable::line(int64_t row) const {
  GALEN_CHECK(row >= 0 && row < rows_, "CsvTable: row ", row, " out of range [0, ", rows_, ") in '", source_, "'");
  return lines_[static_cast<size_t>(row)];
}

bool CsvTable::has_column(const std::string& name) const { return index_.count(name) > 0; }

int64_t CsvTable::column_index(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end()) {
    std::string all;
    for (const auto& c : columns_) {
      if (!all.empty()) all += ", ";
      all += c.name;
    }
    GALEN_FAIL("CsvTable: '", source_, "' has no column '", name, "' (columns: ", all, ")");
  }
  return it->second;
}

const CsvTable::Column& CsvTable::column(const std::string& name) const { return columns_[column_index(name)]; }

const CsvTable::Column& CsvTable::column(int64_t index) const {
  GALEN_CHECK(index >= 0 && index < cols(), "CsvTable: column index ", index, " out of range [0, ", cols(), ")");
  return columns_[static_cast<size_t>(index)];
}

const std::vector<double>& CsvTable::numeric(const std::string& name) const {
  const Column& c = column(name);
  GALEN_CHECK(c.type == ColumnType::Numeric, "CsvTable: column '", name, "' of '", source_, "' is not numeric");
  return c.numbers;
}

const std::vector<std::string>& CsvTable::strings(const std::string& name) const {
  const Column& c = column(name);
  GALEN_CHECK(c.type == ColumnType::String, "CsvTable: column '", name, "' of '", source_,
              "' is numeric (use numeric())");
  return c.strings;
}

const std::vector<uint8_t>& CsvTable::missing(const std::string& name) const { return column(name).missing; }

std::vector<std::string> CsvTable::numeric_names() const {
  std::vector<std::string> v;
  for (const auto& c : columns_)
    if (c.type == ColumnType::Numeric) v.push_back(c.name);
  return v;
}

Tensor CsvTable::to_tensor(const std::vector<std::string>& names_in, DType dtype) const {
  GALEN_CHECK(dtype == DType::f32 || dtype == DType::f64, "CsvTable::to_tensor: dtype must be f32 or f64, got ",
              dtype_name(dtype));
  const std::vector<std::string> names = names_in.empty() ? numeric_names() : names_in;
  const int64_t k = static_cast<int64_t>(names.size());
  std::vector<double> v(static_cast<size_t>(rows_ * k));
  for (int64_t j = 0; j < k; ++j) {
    const auto& col = numeric(names[j]);
    for (int64_t r = 0; r < rows_; ++r) v[r * k + j] = col[r];
  }
  return from_vector<double>(v, {rows_, k}).to(dtype);
}

Tensor CsvTable::missing_mask(const std::vector<std::string>& names_in) const {
  const std::vector<std::string> names = names_in.empty() ? numeric_names() : names_in;
  const int64_t k = static_cast<int64_t>(names.size());
  std::vector<uint8_t> v(static_cast<size_t>(rows_ * k));
  for (int64_t j = 0; j < k; ++j) {
    const auto& m = missing(names[j]);
    for (int64_t r = 0; r < rows_; ++r) v[r * k + j] = m[r];
  }
  return from_vector<uint8_t>(v, {rows_, k}).to(DType::boolean);
}

}  // namespace galen::data
