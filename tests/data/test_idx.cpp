// IDX reader: the real MNIST test labels, every element type, and malformed files.
#include <fstream>

#include "galen/data/idx.h"
#include "test_util.h"

using namespace galen;

namespace {
std::string header(uint8_t type, std::vector<uint32_t> dims) {
  std::string h = {0, 0, static_cast<char>(type), static_cast<char>(dims.size())};
  for (uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8) h.push_back(static_cast<char>((d >> s) & 0xff));
  return h;
}
std::string read_all(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}
}  // namespace

TEST_CASE("read_idx reads the real MNIST test labels (gzip)", "[data][idx]") {
  Tensor y = data::read_idx(std::string(GALEN_FIXTURES_DIR) + "/mnist/t10k-labels-idx1-ubyte.gz");
  REQUIRE(y.dtype() == DType::u8);
  REQUIRE(y.sizes() == Shape{10000});
  const auto v = y.to_vector<int64_t>();
  // The first test digits of MNIST are 7 2 1 0 4 1 4 9 5 9.
  REQUIRE(std::vector<int64_t>(v.begin(), v.begin() + 10) == std::vector<int64_t>{7, 2, 1, 0, 4, 1, 4, 9, 5, 9});
  REQUIRE(amax(y).item() == 9);
  // Class counts of the test set: 980 zeros, 1135 ones.
  REQUIRE(sum(eq(y.to(DType::i64), 0.0).to(DType::i64)).item() == 980);
  REQUIRE(sum(eq(y.to(DType::i64), 1.0).to(DType::i64)).item() == 1135);
}

TEST_CASE("parse_idx decodes every element type big-endian", "[data][idx]") {
  SECTION("i16") {
    std::string b = header(0x0B, {2}) + std::string("\xff\xfe\x01\x02", 4);
    REQUIRE(data::parse_idx(b, "t").to_vector<int64_t>() == std::vector<int64_t>{-2, 258});
  }
  SECTION("i32 2-D") {
    std::string b = header(0x0C, {1, 2}) + std::string("\x00\x00\x01\x00\xff\xff\xff\xff", 8);
    Tensor t = data::parse_idx(b, "t");
    REQUIRE(t.sizes() == Shape{1, 2});
    REQUIRE(t.to_vector<int64_t>() == std::vector<int64_t>{256, -1});
  }
  SECTION("i8") {
    std::string b = header(0x09, {2}) + std::string("\x80\x7f", 2);
    REQUIRE(data::parse_idx(b, "t").to_vector<int64_t>() == std::vector<int64_t>{-128, 127});
  }
  SECTION("f32 and f64") {
    std::string b = header(0x0D, {1}) + std::string("\x3f\xc0\x00\x00", 4);  // 1.5f
    REQUIRE(data::parse_idx(b, "t").item() == 1.5);
    std::string c = header(0x0E, {1}) + std::string("\xc0\x04\x00\x00\x00\x00\x00\x00", 8);  // -2.5
    REQUIRE(data::parse_idx(c, "t").item() == -2.5);
  }
}

TEST_CASE("malformed IDX files give galen::Error naming the file", "[data][idx][errors]") {
  const std::string ok = header(0x08, {2, 3}) + std::string(6, '\x01');
  REQUIRE(data::parse_idx(ok, "ok").sizes() == Shape{2, 3});
  REQUIRE_THROWS_WITH(data::parse_idx(ok.substr(0, 3), "short.idx"), Catch::Contains("short.idx") && Catch::Contains("too short"));
  REQUIRE_THROWS_WITH(data::parse_idx("\x01" + ok.substr(1), "magic.idx"), Catch::Contains("magic"));
  REQUIRE_THROWS_WITH(data::parse_idx(header(0x07, {1}) + "x", "type.idx"), Catch::Contains("data type"));
  REQUIRE_THROWS_WITH(data::parse_idx(ok.substr(0, 9), "hdr.idx"), Catch::Contains("header"));
  REQUIRE_THROWS_WITH(data::parse_idx(ok.substr(0, ok.size() - 1), "trunc.idx"),
                      Catch::Contains("truncated") && Catch::Contains("[2, 3]"));
  REQUIRE_THROWS_WITH(data::parse_idx(ok + "zz", "tail.idx"), Catch::Contains("trailing"));
  REQUIRE_THROWS_WITH(data::parse_idx(header(0x08, {0xffffffffu, 0xffffffffu, 0xffffffffu}), "huge.idx"),
                      Catch::Contains("absurd"));
  REQUIRE_THROWS_WITH(data::read_idx("/nonexistent/dir/x.idx"), Catch::Contains("cannot open"));
}

TEST_CASE("a truncated gzip file is an error, not garbage", "[data][idx][errors]") {
  const std::string gz = read_all(std::string(GALEN_FIXTURES_DIR) + "/mnist/t10k-labels-idx1-ubyte.gz");
  REQUIRE(gz.size() > 100);
  const std::string path = "truncated_labels.idx.gz";
  {
    std::ofstream f(path, std::ios::binary);
    f.write(gz.data(), static_cast<std::streamsize>(gz.size() / 2));
  }
  REQUIRE_THROWS_WITH(data::read_idx(path), Catch::Contains("truncated_labels.idx.gz") && Catch::Contains("gzip"));
  std::remove(path.c_str());
}
