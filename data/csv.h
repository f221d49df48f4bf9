// CSV files (RFC 4180): quoted fields with embedded delimiters, quotes ("")
// and newlines, LF or CRLF line ends, an optional header row, typed columns
// (numeric or string, inferred or declared) and missing cells (empty, "NA",
// "NaN", ...) that become NaN in numeric columns plus a missing mask.
//
//   auto t = data::read_csv("pbc.csv");
//   Tensor x = t.to_tensor({"bili", "albumin", "age"});   // (rows, 3) f32
//   Tensor m = t.missing_mask({"bili", "albumin", "age"}); // (rows, 3) bool
//
// Errors name the file, the line (where the record starts) and the column.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "galen/core/tensor.h"

namespace galen::data {

enum class ColumnType { Auto, Numeric, String };

struct CsvOptions {
  char delimiter = ',';
  char quote = '"';
  bool header = true;  // first record names the columns (else "0", "1", ...)
  int64_t skip_rows = 0;  // physical lines skipped before the header / data
  // Declared column types by name; other columns are Auto: numeric when every
  // non-missing cell parses as a number, string otherwise.
  std::map<std::string, ColumnType> types;
  // Cells (after trimming spaces) that mean "missing".
  std::vector<std::string> na_values = {"", "NA", "NaN", "nan", "N/A", "NULL", "null"};
};

class CsvTable {
 public:
  struct Column {
    std::string name;
    ColumnType type = ColumnType::String;  // Numeric or String once read
    std::vector<double> numbers;       // Numeric: value, NaN where missing
    std::vector<std::string> strings;  // String: the cell text (unquoted)
    std::vector<uint8_t> missing;      // 1 where the cell is a missing value
  };

  int64_t rows() const { return rows_; }
  int64_t cols() const { return static_cast<int64_t>(columns_.size()); }
  std::vector<std::string> column_names() const;
  bool has_column(const std::string& name) const;
  // Error naming the available columns when absent.
  const Column& column(const std::string& name) const;
  const Column& column(int64_t index) const;
  int64_t column_index(const std::string& name) const;

  const std::vector<double>& numeric(const std::string& name) const;      // Error for string columns
  const std::vector<std::string>& strings(const std::string& name) const;  // Error for numeric columns
  const std::vector<uint8_t>& missing(const std::string& name) const;

  // (rows, k) tensor of the named numeric columns (all numeric columns when
  // `names` is empty), missing cells NaN. dtype f32 or f64.
  Tensor to_tensor(const std::vector<std::string>& names = {}, DType dtype = DType::f32) const;
  // (rows, k) bool: true where the cell is missing.
  Tensor missing_mask(const std::vector<std::string>& names = {}) const;

  // Where the table came from (used in error messages).
  const std::string& source() const { return source_; }
  // The 1-based physical line where data row `row` starts (for error messages).
  int64_t line(int64_t row) const;

 private:
  friend CsvTable parse_csv(const std::string&, const CsvOptions&, const std::string&);
  std::vector<std::string> numeric_names() const;
  std::string source_;
  int64_t rows_ = 0;
  std::vector<int64_t> lines_;  // per data row
  std::vector<Column> columns_;
  std::map<std::string, int64_t> index_;
};

// Plain or gzip-compressed (detected from the magic bytes).
CsvTable read_csv(const std::string& path, const CsvOptions& options = {});
// From text in memory; `what` names it in errors.
CsvTable parse_csv(const std::string& text, const CsvOptions& options = {}, const std::string& what = "<memory>");

}  // namespace galen::data
