// CSV reader: RFC 4180 quoting, CRLF, NA cells, typing, errors with line and
// column, and the real Mayo PBC table.
#include <cmath>

#include "galen/data/csv.h"
#include "test_util.h"

using namespace galen;
using data::ColumnType;
using data::CsvOptions;
using data::parse_csv;

TEST_CASE("CSV: quoted fields with delimiters, quotes and newlines; CRLF", "[data][csv]") {
  const std::string text =
      "id,name,note,score\r\n"
      "1,\"Smith, J\",\"said \"\"hi\"\"\",3.5\r\n"
      "2,plain,\"two\r\nlines\",-1e3\r\n"
      "3,\"\",x,+7\r\n";
  auto t = parse_csv(text, {}, "mem.csv");
  REQUIRE(t.rows() == 3);
  REQUIRE(t.column_names() == std::vector<std::string>{"id", "name", "note", "score"});
  REQUIRE(t.column("id").type == ColumnType::Numeric);
  REQUIRE(t.column("name").type == ColumnType::String);
  REQUIRE(t.strings("name")[0] == "Smith, J");
  REQUIRE(t.strings("note")[0] == "said \"hi\"");
  REQUIRE(t.strings("note")[1] == "two\r\nlines");
  // An empty cell is missing (in a string column too) but keeps its text.
  REQUIRE(t.strings("name")[2].empty());
  REQUIRE(t.missing("name")[2] == 1);
  REQUIRE(t.numeric("score") == std::vector<double>{3.5, -1000.0, 7.0});
  Tensor x = t.to_tensor({"score", "id"}, DType::f64);
  REQUIRE(x.sizes() == Shape{3, 2});
  REQUIRE(x.to_vector<double>() == std::vector<double>{3.5, 1, -1000, 2, 7, 3});
  // The default selection is every numeric column, in file order.
  REQUIRE(t.to_tensor().sizes() == Shape{3, 2});
}

TEST_CASE("CSV: NA cells become NaN with a missing mask", "[data][csv]") {
  auto t = parse_csv("a,b,c\n1,NA,x\n,2.5,NA\nNaN,3, y\n", {}, "na.csv");
  REQUIRE(t.column("a").type == ColumnType::Numeric);
  REQUIRE(t.column("b").type == ColumnType::Numeric);
  REQUIRE(t.column("c").type == ColumnType::String);
  const auto& a = t.numeric("a");
  REQUIRE(a[0] == 1.0);
  REQUIRE(std::isnan(a[1]));
  REQUIRE(std::isnan(a[2]));
  REQUIRE(t.missing("a") == std::vector<uint8_t>{0, 1, 1});
  REQUIRE(t.missing("c") == std::vector<uint8_t>{0, 1, 0});
  REQUIRE(t.strings("c")[2] == " y");  // fields are not trimmed
  Tensor m = t.missing_mask({"a", "b"});
  REQUIRE(m.dtype() == DType::boolean);
  REQUIRE(m.to_vector<int64_t>() == std::vector<int64_t>{0, 1, 1, 0, 1, 0});
  Tensor x = t.to_tensor({"a", "b"});
  REQUIRE(x.dtype() == DType::f32);
  REQUIRE(std::isnan(x.to_vector<float>()[1]));
}

TEST_CASE("CSV: options (no header, delimiter, declared types, skip_rows, BOM)", "[data][csv]") {
  CsvOptions o;
  o.header = false;
  o.delimiter = ';';
  auto t = parse_csv("1;a\n2;b", o);
  REQUIRE(t.column_names() == std::vector<std::string>{"0", "1"});
  REQUIRE(t.numeric("0") == std::vector<double>{1, 2});

  CsvOptions s;
  s.types["zip"] = ColumnType::String;
  auto z = parse_csv("\xEF\xBB\xBFzip,v\n02139,1\n10001,2\n", s);
  REQUIRE(z.column_names().front() == "zip");
  REQUIRE(z.strings("zip")[0] == "02139");
  REQUIRE_THROWS_WITH(z.numeric("zip"), Catch::Contains("not numeric"));
  REQUIRE_THROWS_WITH(z.column("nope"), Catch::Contains("no column 'nope'") && Catch::Contains("zip, v"));

  CsvOptions k;
  k.skip_rows = 1;
  k.delimiter = '\t';
  auto sk = parse_csv("569\t2\nx\ty\n1\t2\n", k);
  REQUIRE(sk.rows() == 1);
  REQUIRE(sk.numeric("y")[0] == 2.0);

  // Blank lines and a missing final newline are fine.
  auto b = parse_csv("a\n1\n\n2", {});
  REQUIRE(b.numeric("a") == std::vector<double>{1, 2});
}

TEST_CASE("CSV: malformed input is an Error naming file, line and column", "[data][csv]") {
  // Ragged row: the line of the record.
  REQUIRE_THROWS_WITH(parse_csv("a,b\n1,2\n3\n", {}, "ragged.csv"),
                      Catch::Contains("'ragged.csv' line 3") && Catch::Contains("1 fields, expected 2"));
  // A quoted newline moves the line count on.
  REQUIRE_THROWS_WITH(parse_csv("a,b\n\"x\ny\",2\n3,4,5\n", {}, "q.csv"), Catch::Contains("line 4"));
  // Unterminated quote: the line where the field starts.
  REQUIRE_THROWS_WITH(parse_csv("a,b\n1,2\n3,\"open\n4,5\n", {}, "open.csv"),
                      Catch::Contains("'open.csv' line 3, column 2") && Catch::Contains("unterminated"));
  REQUIRE_THROWS_WITH(parse_csv("a,b\n\"x\"y,2\n", {}, "after.csv"), Catch::Contains("after a closing quote"));
  // Non-numeric in a declared numeric column.
  CsvOptions o;
  o.types["b"] = ColumnType::Numeric;
  REQUIRE_THROWS_WITH(parse_csv("a,b\n1,2\n2,3\n3,three\n", o, "typed.csv"),
                      Catch::Contains("'typed.csv' line 4, column 2 ('b')") && Catch::Contains("'three'"));
  o.types["c"] = ColumnType::Numeric;
  REQUIRE_THROWS_WITH(parse_csv("a,b\n1,2\n", o, "t.csv"), Catch::Contains("column 'c'"));
  REQUIRE_THROWS_WITH(parse_csv("a,a\n1,2\n", {}, "dup.csv"), Catch::Contains("duplicate column name 'a'"));
  REQUIRE_THROWS_WITH(data::read_csv("/nonexistent/x.csv"), Catch::Contains("/nonexistent/x.csv"));
}

TEST_CASE("CSV: the real Mayo PBC table (gzip)", "[data][csv]") {
  auto t = data::read_csv(std::string(GALEN_FIXTURES_DIR) + "/clinical/pbc.csv.gz");
  REQUIRE(t.rows() == 418);
  REQUIRE(t.cols() == 20);
  REQUIRE(t.column("sex").type == ColumnType::String);
  REQUIRE(t.strings("sex")[0] == "f");
  REQUIRE(t.strings("sex")[2] == "m");
  // Column sums and NA counts checked with Python's csv module.
  auto count = [](const std::vector<uint8_t>& m) { return std::count(m.begin(), m.end(), uint8_t{1}); };
  REQUIRE(count(t.missing("chol")) == 134);
  REQUIRE(count(t.missing("trig")) == 136);
  REQUIRE(count(t.missing("platelet")) == 11);
  REQUIRE(count(t.missing("bili")) == 0);
  Tensor x = t.to_tensor({"bili", "age", "chol"}, DType::f64);
  REQUIRE(x.sizes() == Shape{418, 3});
  Tensor mask = t.missing_mask({"bili", "age", "chol"});
  Tensor filled = where(mask, zeros_like(x), x);
  const auto s = sum(filled, {0}).to_vector<double>();
  REQUIRE(s[0] == Approx(1346.3).epsilon(1e-12));
  REQUIRE(s[1] == Approx(21209.96851471595).epsilon(1e-12));
  REQUIRE(s[2] == 104941.0);
}
