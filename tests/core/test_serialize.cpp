// safetensors reading/writing and the JSON reader/writer under it: round trips
// of every dtype and layout, byte-exact compatibility with the reference
// layout, one malformed file per validation rule, and atomic saves.
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>

#include "galen/core/json.h"
#include "test_util.h"

using namespace galen;
using Catch::Matchers::Contains;

namespace {

std::string le64(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((n >> (8 * i)) & 0xFF);
  return s;
}

// A file with the given header text (unpadded) and data bytes.
std::string make_file(const std::string& header, const std::string& data = "") {
  return le64(header.size()) + header + data;
}

std::string f32_bytes(std::initializer_list<float> v) {
  std::string s;
  for (float f : v) s.append(reinterpret_cast<const char*>(&f), sizeof f);
  return s;
}

// Same dtype, shape and bytes.
void require_same(const Tensor& got, const Tensor& want) {
  REQUIRE(got.defined());
  REQUIRE(got.dtype() == want.dtype());
  REQUIRE(got.sizes() == want.sizes());
  REQUIRE(got.device().is_cpu());
  Tensor a = got.contiguous(), b = want.cpu().contiguous();
  const size_t n = static_cast<size_t>(b.numel()) * b.element_size();
  if (n) REQUIRE(std::memcmp(a.data_ptr(), b.data_ptr(), n) == 0);
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> names;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      const std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(n);
    }
    closedir(d);
  }
  std::sort(names.begin(), names.end());
  return names;
}

// A fresh directory under $TMPDIR (or /tmp), removed with its files at scope exit.
struct TempDir {
  std::string path;
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/galen_ser_XXXXXX";
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    for (const auto& n : list_dir(path)) {
      const std::string p = path + "/" + n;
      if (::unlink(p.c_str()) != 0) ::rmdir(p.c_str());
    }
    ::rmdir(path.c_str());
  }
};

SafetensorsFile roundtrip(const std::map<std::string, Tensor>& ts,
                          const std::map<std::string, std::string>& md = {}) {
  return parse_safetensors(serialize_safetensors(ts, md), "roundtrip");
}

}  // namespace

// ---- JSON --------------------------------------------------------------------------

TEST_CASE("json parses the value types", "[serialize][json]") {
  const json::Value v = json::parse(R"( {"a": [1, -2, 3.5, 1e3, -0.0], "b": true, "c": null,
                                        "d": "x", "e": {}, "f": [], "g": false} )");
  REQUIRE(v.is_object());
  REQUIRE(v.size() == 7);
  const auto& a = v.find("a")->as_array();
  REQUIRE(a.size() == 5);
  REQUIRE(a[0].is_integer());
  REQUIRE(a[0].as_int() == 1);
  REQUIRE(a[1].as_int() == -2);
  REQUIRE_FALSE(a[2].is_integer());
  REQUIRE(a[2].as_double() == 3.5);
  REQUIRE_FALSE(a[3].is_integer());
  REQUIRE(a[3].as_double() == 1000.0);
  REQUIRE(v.find("b")->as_bool());
  REQUIRE(v.find("c")->is_null());
  REQUIRE(v.find("d")->as_string() == "x");
  REQUIRE(v.find("e")->is_object());
  REQUIRE(v.find("f")->is_array());
  REQUIRE_FALSE(v.find("g")->as_bool());
  REQUIRE(v.find("zz") == nullptr);
  REQUIRE_THROWS_AS(v.find("d")->as_int(), Error);
  REQUIRE_THROWS_AS(a[2].as_int(), Error);
  REQUIRE_THROWS_AS(v.as_array(), Error);
}

TEST_CASE("json keeps large integers exact", "[serialize][json]") {
  REQUIRE(json::parse("9007199254740993").as_int() == 9007199254740993LL);
  REQUIRE(json::parse("9223372036854775807").as_int() == INT64_MAX);
  REQUIRE(json::parse("-9223372036854775808").as_int() == INT64_MIN);
  // Beyond int64: still a number, no longer an integer.
  const json::Value big = json::parse("18446744073709551616");
  REQUIRE(big.is_number());
  REQUIRE_FALSE(big.is_integer());
  REQUIRE(json::parse("1e-400").as_double() == 0.0);
  REQUIRE_THROWS_WITH(json::parse("1e400"), Contains("out of range"));
  REQUIRE_THROWS_WITH(json::parse("-1e+999"), Contains("out of range"));
}

TEST_CASE("json string escapes and UTF-8", "[serialize][json]") {
  REQUIRE(json::parse(R"("a\"b\\c\/d\b\f\n\r\t")").as_string() == "a\"b\\c/d\b\f\n\r\t");
  REQUIRE(json::parse(R"("\u0041\u00e9\u20AC")").as_string() == "A\xC3\xA9\xE2\x82\xAC");
  REQUIRE(json::parse(R"("\ud83d\ude00")").as_string() == "\xF0\x9F\x98\x80");
  REQUIRE(json::parse(R"("\u0000x")").as_string() == std::string("\0x", 2));
  REQUIRE(json::parse("\"caf\xC3\xA9\"").as_string() == "caf\xC3\xA9");  // raw UTF-8 passes
  REQUIRE_THROWS_WITH(json::parse(R"("\ud83d")"), Contains("surrogate"));
  REQUIRE_THROWS_WITH(json::parse(R"("\ude00")"), Contains("surrogate"));
  REQUIRE_THROWS_WITH(json::parse(R"("\ud83d\u0041")"), Contains("surrogate"));
  REQUIRE_THROWS_WITH(json::parse(R"("\u12G4")"), Contains("hex digit"));
  REQUIRE_THROWS_WITH(json::parse(R"("\x")"), Contains("invalid escape"));
  REQUIRE_THROWS_WITH(json::parse("\"a\nb\""), Contains("control character"));
  REQUIRE_THROWS_WITH(json::parse("\"\xC3\""), Contains("UTF-8"));       // truncated sequence
  REQUIRE_THROWS_WITH(json::parse("\"\xC0\xAF\""), Contains("UTF-8"));   // overlong
  REQUIRE_THROWS_WITH(json::parse("\"\xED\xA0\x80\""), Contains("UTF-8"));  // raw surrogate
  REQUIRE_THROWS_WITH(json::parse("\"\xFF\""), Contains("UTF-8"));
}

TEST_CASE("json errors name the problem and the byte", "[serialize][json]") {
  REQUIRE_THROWS_WITH(json::parse(""), Contains("json: unexpected end of input at byte 0"));
  REQUIRE_THROWS_WITH(json::parse("[1,]"), Contains("at byte 3"));
  REQUIRE_THROWS_WITH(json::parse("{\"a\":1,}"), Contains("at byte 7"));
  REQUIRE_THROWS_WITH(json::parse("[1 2]"), Contains("expected ',' or ']'"));
  REQUIRE_THROWS_WITH(json::parse("{\"a\" 1}"), Contains("expected ':'"));
  REQUIRE_THROWS_WITH(json::parse("{1:2}"), Contains("string key"));
  REQUIRE_THROWS_WITH(json::parse("01"), Contains("trailing"));
  REQUIRE_THROWS_WITH(json::parse("1."), Contains("digits after '.'"));
  REQUIRE_THROWS_WITH(json::parse("-"), Contains("number"));
  REQUIRE_THROWS_WITH(json::parse("1e"), Contains("exponent"));
  REQUIRE_THROWS_WITH(json::parse("tru"), Contains("invalid literal"));
  REQUIRE_THROWS_WITH(json::parse("NaN"), Contains("unexpected character 'N'"));
  REQUIRE_THROWS_WITH(json::parse("[1] x"), Contains("trailing characters at byte 4"));
  REQUIRE_THROWS_WITH(json::parse("\"abc"), Contains("unterminated string"));
  REQUIRE_THROWS_WITH(json::parse("{\"a\":1,\"a\":2}"), Contains("duplicate key \"a\" at byte 7"));
  json::ParseOptions lax;
  lax.allow_duplicate_keys = true;
  REQUIRE(json::parse("{\"a\":1,\"a\":2}", lax).find("a")->as_int() == 2);
}

TEST_CASE("json depth limit", "[serialize][json]") {
  REQUIRE_NOTHROW(json::parse(std::string(64, '[') + std::string(64, ']')));
  REQUIRE_THROWS_WITH(json::parse(std::string(65, '[') + std::string(65, ']')),
                      Contains("nesting deeper than 64"));
  // A hostile header of a million brackets is an error, not a stack overflow.
  REQUIRE_THROWS_AS(json::parse(std::string(1000000, '[')), Error);
  json::ParseOptions deep;
  deep.max_depth = 200;
  REQUIRE_NOTHROW(json::parse(std::string(200, '[') + std::string(200, ']'), deep));
}

TEST_CASE("json write escapes and round-trips", "[serialize][json]") {
  json::Value v;
  v["s"] = std::string("q\"b\\n\n\x01\x1f caf\xC3\xA9");
  v["i"] = int64_t{-9007199254740993LL};
  v["d"] = 0.1;
  v["b"] = false;
  v["n"] = nullptr;
  v["a"].push_back(1);
  v["a"].push_back(json::Array{});
  const std::string text = json::write(v);
  REQUIRE(text ==
          "{\"s\":\"q\\\"b\\\\n\\n\\u0001\\u001f caf\xC3\xA9\",\"i\":-9007199254740993,\"d\":0.1,"
          "\"b\":false,\"n\":null,\"a\":[1,[]]}");
  const json::Value back = json::parse(text);
  REQUIRE(back.find("s")->as_string() == v.find("s")->as_string());
  REQUIRE(back.find("i")->as_int() == -9007199254740993LL);
  REQUIRE(back.find("d")->as_double() == 0.1);
  REQUIRE(json::write(back) == text);
  REQUIRE_THROWS_AS(json::write(json::Value(std::numeric_limits<double>::infinity())), Error);
}

// ---- safetensors round trips --------------------------------------------------------------

TEST_CASE("safetensors round-trips every dtype", "[serialize]") {
  std::map<std::string, Tensor> ts;
  ts["f32"] = from_vector<float>({1.5f, -2.25f, 3e-38f, 1e38f, 0.0f, -0.0f}, {2, 3});
  ts["f64"] = from_vector<double>({3.141592653589793, -1e-300, 1e300, 2.0}, {4});
  ts["i32"] = from_vector<int32_t>({INT32_MIN, -1, 0, INT32_MAX}, {2, 2});
  ts["i64"] = from_vector<int64_t>({INT64_MIN, -7, 0, INT64_MAX, 42}, {5});
  ts["u8"] = from_vector<uint8_t>({0, 1, 127, 128, 255, 9}, {3, 2});
  ts["bool"] = from_vector<bool>({true, false, false, true}, {1, 4});
  const auto back = roundtrip(ts);
  REQUIRE(back.tensors.size() == ts.size());
  REQUIRE(back.metadata.empty());
  for (const auto& [name, t] : ts) {
    INFO(name);
    REQUIRE(back.tensors.count(name));
    require_same(back.tensors.at(name), t);
  }
}

TEST_CASE("safetensors round-trips scalars, empty and non-contiguous tensors", "[serialize]") {
  std::map<std::string, Tensor> ts;
  ts["scalar_f64"] = scalar_tensor(2.5, DType::f64);
  ts["scalar_i64"] = scalar_tensor(-3, DType::i64);
  ts["empty_0x3"] = zeros({0, 3});
  ts["empty_2x0x4"] = zeros({2, 0, 4}, DType::i64);
  ts["empty_1d"] = zeros({0}, DType::u8);
  Tensor base = arange(0, 20, 1, DType::f32).reshape({4, 5});
  ts["transposed"] = base.t();
  ts["strided"] = base.slice(1, 0, 5, 2);
  ts["expanded"] = from_vector<double>({1.0, 2.0, 3.0}, {3, 1}).expand({3, 4});
  ts["offset_view"] = base.select(0, 2);
  REQUIRE_FALSE(ts["transposed"].is_contiguous());
  const auto back = roundtrip(ts);
  for (const auto& [name, t] : ts) {
    INFO(name);
    require_same(back.tensors.at(name), t);
    REQUIRE(back.tensors.at(name).is_contiguous());
  }
  REQUIRE(back.tensors.at("scalar_f64").dim() == 0);
  REQUIRE(back.tensors.at("scalar_f64").item() == 2.5);
  REQUIRE(back.tensors.at("transposed").to_vector<float>()[1] == 5.0f);
}

TEST_CASE("safetensors round-trips metadata and preserves no autograd state", "[serialize]") {
  std::map<std::string, std::string> md = {
      {"format", "pt"}, {"empty", ""}, {"quote\"key", "line\nbreak \xE2\x82\xAC \\ /"}};
  Tensor w = randn({2, 2}, TensorOptions(DType::f32).with_requires_grad());
  const auto back = roundtrip({{"w", w}}, md);
  REQUIRE(back.metadata == md);
  require_same(back.tensors.at("w"), w.detach());
  REQUIRE_FALSE(back.tensors.at("w").requires_grad());
  // Metadata alone, and nothing at all.
  REQUIRE(roundtrip({}, md).metadata == md);
  const auto nothing = roundtrip({});
  REQUIRE(nothing.tensors.empty());
  REQUIRE(nothing.metadata.empty());
}

TEST_CASE("safetensors writer output is byte-exact", "[serialize]") {
  const std::string bytes = serialize_safetensors(
      {{"x", from_vector<float>({1.0f}, {1})}, {"a", from_vector<int64_t>({-1}, {})}});
  // Names sorted, data packed in that order, header padded with spaces so the
  // data buffer starts at a multiple of 8.
  const std::string header =
      R"({"a":{"dtype":"I64","shape":[],"data_offsets":[0,8]},"x":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})";
  std::string padded = header + std::string((8 - header.size() % 8) % 8, ' ');
  REQUIRE(padded.size() % 8 == 0);
  const std::string want = le64(padded.size()) + padded + std::string(8, '\xFF') + f32_bytes({1.0f});
  REQUIRE(bytes == want);
}

TEST_CASE("safetensors reads the layout Python's safetensors writes", "[serialize]") {
  // What safetensors.torch.save_file({"a": tensor([1., 2.]), "b": tensor([7, -1])},
  // metadata={"format": "pt"}) produces: compact JSON, larger dtypes first in
  // the data buffer (so "b" precedes "a"), header space-padded to 8 bytes.
  const std::string header =
      R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[16,24]},)"
      R"("b":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}})";
  std::string padded = header + std::string((8 - header.size() % 8) % 8, ' ');
  const unsigned char data[] = {
      0x07, 0, 0, 0, 0, 0, 0, 0,                            // b[0] = 7
      0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,       // b[1] = -1
      0x00, 0x00, 0x80, 0x3F,                               // a[0] = 1.0f
      0x00, 0x00, 0x00, 0x40};                              // a[1] = 2.0f
  const std::string file =
      le64(padded.size()) + padded + std::string(reinterpret_cast<const char*>(data), sizeof data);
  TempDir dir;
  const std::string path = dir.path + "/model.safetensors";
  write_file(path, file);
  for (const SafetensorsFile& f : {parse_safetensors(file), load_safetensors(path)}) {
    REQUIRE(f.metadata == std::map<std::string, std::string>{{"format", "pt"}});
    REQUIRE(f.tensors.size() == 2);
    REQUIRE(f.tensors.at("a").dtype() == DType::f32);
    REQUIRE(f.tensors.at("a").to_vector<float>() == std::vector<float>{1.0f, 2.0f});
    REQUIRE(f.tensors.at("b").dtype() == DType::i64);
    REQUIRE(f.tensors.at("b").to_vector<int64_t>() == std::vector<int64_t>{7, -1});
  }
  // A header with whitespace and a different key order is fine too.
  const std::string spaced = make_file(
      " { \"b\" : { \"shape\" : [ 2 ] , \"data_offsets\" : [ 0 , 16 ] , \"dtype\" : \"I64\" } , "
      "\"a\" : { \"data_offsets\" : [16,24], \"dtype\":\"F32\", \"shape\":[2] } } ",
      std::string(reinterpret_cast<const char*>(data), sizeof data));
  REQUIRE(parse_safetensors(spaced).tensors.at("a").to_vector<float>()[1] == 2.0f);
}

TEST_CASE("safetensors file save and load", "[serialize]") {
  TempDir dir;
  const std::string path = dir.path + "/w.safetensors";
  std::map<std::string, Tensor> ts = {{"layer.weight", randn({3, 4})},
                                      {"layer.bias", randn({4}, DType::f64)},
                                      {"steps", scalar_tensor(7, DType::i64)}};
  save_safetensors(path, ts, {{"epoch", "3"}});
  REQUIRE(list_dir(dir.path) == std::vector<std::string>{"w.safetensors"});
  REQUIRE(read_file(path) == serialize_safetensors(ts, {{"epoch", "3"}}));
  const auto back = load_safetensors(path);
  REQUIRE(back.metadata.at("epoch") == "3");
  for (const auto& [name, t] : ts) require_same(back.tensors.at(name), t);
}

// ---- malformed files ----------------------------------------------------------------------

namespace {
// A valid two-tensor file used as the base for corruption.
std::string good_file() {
  return serialize_safetensors({{"a", from_vector<float>({1, 2, 3}, {3})},
                                {"b", from_vector<int32_t>({4, 5}, {1, 2})}},
                               {{"k", "v"}});
}
const std::string kTwoF32 = f32_bytes({1.0f, 2.0f});
}  // namespace

TEST_CASE("safetensors rejects short and truncated files", "[serialize]") {
  REQUIRE_THROWS_WITH(parse_safetensors("", "m.st"), Contains("m.st") && Contains("too short"));
  REQUIRE_THROWS_WITH(parse_safetensors("abc"), Contains("too short"));
  REQUIRE_THROWS_WITH(parse_safetensors(std::string(7, '\0')), Contains("too short"));
  // Every proper prefix of a valid file is an error, never a crash.
  const std::string good = good_file();
  REQUIRE_NOTHROW(parse_safetensors(good));
  for (size_t n = 0; n < good.size(); ++n) {
    INFO("truncated to " << n << " of " << good.size() << " bytes");
    REQUIRE_THROWS_AS(parse_safetensors(good.substr(0, n)), Error);
  }
  // Trailing bytes nobody owns are refused as well.
  REQUIRE_THROWS_WITH(parse_safetensors(good + "x"), Contains("not covered"));
}

TEST_CASE("safetensors rejects hostile header lengths", "[serialize]") {
  REQUIRE_THROWS_WITH(parse_safetensors(le64(100) + "{}"), Contains("header length 100 exceeds"));
  REQUIRE_THROWS_WITH(parse_safetensors(le64(~0ull) + "{}"), Contains("implausible"));
  REQUIRE_THROWS_WITH(parse_safetensors(le64(1ull << 63) + "{}"), Contains("implausible"));
  REQUIRE_THROWS_WITH(parse_safetensors(le64(200ull << 20) + "{}"), Contains("implausible"));
  // Zero-length header: empty JSON text.
  REQUIRE_THROWS_WITH(parse_safetensors(le64(0)), Contains("invalid header JSON"));
  REQUIRE_NOTHROW(parse_safetensors(make_file("{}")));
}

TEST_CASE("safetensors rejects bad JSON and bad structure", "[serialize]") {
  auto bad = [](const std::string& header, const std::string& data, const std::string& msg) {
    INFO(header);
    REQUIRE_THROWS_WITH(parse_safetensors(make_file(header, data), "bad.st"),
                        Contains("bad.st") && Contains(msg));
  };
  bad("{\"a\":", "", "invalid header JSON");
  bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}", f32_bytes({1}),
      "invalid header JSON");
  bad("[1,2]", "", "must be a JSON object");
  bad("\"str\"", "", "must be a JSON object");
  bad("{\"a\":3}", "", "entry must be an object");
  bad("{\"a\":[0,4]}", "", "entry must be an object");
  // Duplicate tensor names.
  bad(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
      kTwoF32, "duplicate key \"a\"");
  // Unknown member in an entry.
  bad(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":1}})", kTwoF32,
      "unexpected field \"extra\"");
  // Metadata.
  bad(R"({"__metadata__":{"k":1}})", "", "must be a string");
  bad(R"({"__metadata__":{"k":null}})", "", "must be a string");
  bad(R"({"__metadata__":["k"]})", "", "__metadata__ must be an object");
  bad(R"({"__metadata__":{"k":"v","k":"w"}})", "", "duplicate key");
}

TEST_CASE("safetensors rejects bad dtypes and shapes", "[serialize]") {
  auto bad = [](const std::string& entry, const std::string& data, const std::string& msg) {
    INFO(entry);
    REQUIRE_THROWS_WITH(parse_safetensors(make_file("{\"t\":" + entry + "}", data), "bad.st"),
                        Contains("bad.st") && Contains("tensor \"t\"") && Contains(msg));
  };
  bad(R"({"shape":[2],"data_offsets":[0,8]})", kTwoF32, "missing \"dtype\"");
  bad(R"({"dtype":7,"shape":[2],"data_offsets":[0,8]})", kTwoF32, "\"dtype\" must be a string");
  bad(R"({"dtype":"F31","shape":[2],"data_offsets":[0,8]})", kTwoF32, "unknown dtype \"F31\"");
  bad(R"({"dtype":"f32","shape":[2],"data_offsets":[0,8]})", kTwoF32, "unknown dtype");
  bad(R"({"dtype":"F16","shape":[4],"data_offsets":[0,8]})", kTwoF32, "F16 is not supported");
  bad(R"({"dtype":"BF16","shape":[4],"data_offsets":[0,8]})", kTwoF32, "BF16 is not supported");
  bad(R"({"dtype":"I8","shape":[8],"data_offsets":[0,8]})", kTwoF32, "I8 is not supported");
  bad(R"({"dtype":"F32","data_offsets":[0,8]})", kTwoF32, "missing \"shape\"");
  bad(R"({"dtype":"F32","shape":2,"data_offsets":[0,8]})", kTwoF32, "\"shape\" must be an array");
  bad(R"({"dtype":"F32","shape":[-2],"data_offsets":[0,8]})", kTwoF32, "non-negative integers");
  bad(R"({"dtype":"F32","shape":[2.0],"data_offsets":[0,8]})", kTwoF32, "non-negative integers");
  bad(R"({"dtype":"F32","shape":["2"],"data_offsets":[0,8]})", kTwoF32, "non-negative integers");
  bad(R"({"dtype":"F32","shape":[[2]],"data_offsets":[0,8]})", kTwoF32, "non-negative integers");
  // Element count times element size overflows 64 bits.
  bad(R"({"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]})", kTwoF32,
      "too large");
  bad(R"({"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,8]})", kTwoF32,
      "too large");
  bad(R"({"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,8]})", kTwoF32,
      "non-negative integers");
}

TEST_CASE("safetensors rejects bad data offsets", "[serialize]") {
  auto bad = [](const std::string& header, const std::string& data, const std::string& msg) {
    INFO(header);
    REQUIRE_THROWS_WITH(parse_safetensors(make_file(header, data), "bad.st"),
                        Contains("bad.st") && Contains(msg));
  };
  const std::string pre = R"({"t":{"dtype":"F32","shape":[2],"data_offsets":)";
  bad(R"({"t":{"dtype":"F32","shape":[2]}})", kTwoF32, "missing \"data_offsets\"");
  bad(pre + "8}}", kTwoF32, "two non-negative integers");
  bad(pre + "[0]}}", kTwoF32, "two non-negative integers");
  bad(pre + "[0,4,8]}}", kTwoF32, "two non-negative integers");
  bad(pre + "[0,8.5]}}", kTwoF32, "two non-negative integers");
  bad(pre + "[-8,0]}}", kTwoF32, "two non-negative integers");
  bad(pre + "[\"0\",\"8\"]}}", kTwoF32, "two non-negative integers");
  bad(pre + "[8,0]}}", kTwoF32, "begin 8 > end 0");
  bad(pre + "[0,16]}}", kTwoF32, "past the data buffer");
  bad(pre + "[0,9223372036854775807]}}", kTwoF32, "past the data buffer");
  bad(pre + "[0,4]}}", kTwoF32, "need 8");       // span smaller than the shape needs
  bad(pre + "[0,8]}}", kTwoF32 + kTwoF32, "not covered");  // trailing uncovered bytes
  // Overlap, gap, and overlap with an empty tensor placed inside another.
  bad(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
      kTwoF32 + f32_bytes({3}), "overlaps");
  bad(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
      kTwoF32 + f32_bytes({3}), "not covered");
  bad(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
      kTwoF32, "overlaps");
  bad(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}})",
      kTwoF32, "overlaps");
  // Empty tensors at the end or between others are fine.
  REQUIRE_NOTHROW(parse_safetensors(make_file(
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"e":{"dtype":"U8","shape":[0,5],"data_offsets":[8,8]}})",
      kTwoF32)));
}

TEST_CASE("safetensors survives random corruption", "[serialize]") {
  // Flipping header bytes must give either a valid file or a galen::Error.
  const std::string good = good_file();
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; --i) hlen = (hlen << 8) | static_cast<unsigned char>(good[i]);
  REQUIRE(hlen == good.size() - 8 - 20);  // 3 f32 + 2 i32 of data
  std::mt19937 rng(1234);
  const char alphabet[] = "{}[]\":,0123456789-.eE \\u\x00\xff";
  for (size_t pos = 0; pos < 8 + hlen; ++pos) {
    for (int k = 0; k < 4; ++k) {
      std::string bad = good;
      bad[pos] = alphabet[rng() % (sizeof alphabet - 1)];
      try {
        parse_safetensors(bad);
      } catch (const Error&) {
      }
    }
  }
  SUCCEED();
}

// ---- atomic saves --------------------------------------------------------------------------

TEST_CASE("save_safetensors failures leave nothing behind", "[serialize]") {
  TempDir dir;
  const std::map<std::string, Tensor> ts = {{"x", ones({4})}};
  // Missing directory: the temp file cannot even be created.
  const std::string missing = dir.path + "/no_such_dir/out.safetensors";
  REQUIRE_THROWS_WITH(save_safetensors(missing, ts),
                      Contains(missing) && Contains("No such file or directory"));
  REQUIRE(list_dir(dir.path).empty());
  // The target is a directory: the data is written, the rename fails, and the
  // temp file must be removed.
  const std::string target = dir.path + "/target";
  REQUIRE(::mkdir(target.c_str(), 0755) == 0);
  write_file(target + "/keep", "k");
  REQUIRE_THROWS_WITH(save_safetensors(target, ts), Contains(target) && Contains("rename"));
  REQUIRE(list_dir(dir.path) == std::vector<std::string>{"target"});
  REQUIRE(list_dir(target) == std::vector<std::string>{"keep"});
  // Refused before any file is created: a reserved name, an undefined tensor.
  REQUIRE_THROWS_WITH(save_safetensors(dir.path + "/r.st", {{"__metadata__", ones({1})}}),
                      Contains("reserved"));
  REQUIRE_THROWS_WITH(save_safetensors(dir.path + "/u.st", {{"u", Tensor()}}),
                      Contains("undefined"));
  REQUIRE(list_dir(dir.path) == std::vector<std::string>{"target"});
  ::unlink((target + "/keep").c_str());
  ::rmdir(target.c_str());
}

TEST_CASE("save_safetensors replaces an existing file whole", "[serialize]") {
  TempDir dir;
  const std::string path = dir.path + "/ckpt.safetensors";
  save_safetensors(path, {{"big", randn({1000})}, {"other", zeros({3}, DType::i64)}},
                   {{"v", "1"}});
  const std::map<std::string, Tensor> small = {{"x", from_vector<float>({9.0f}, {1})}};
  save_safetensors(path, small, {{"v", "2"}});
  REQUIRE(read_file(path) == serialize_safetensors(small, {{"v", "2"}}));
  const auto back = load_safetensors(path);
  REQUIRE(back.tensors.size() == 1);
  REQUIRE(back.metadata.at("v") == "2");
  REQUIRE(list_dir(dir.path) == std::vector<std::string>{"ckpt.safetensors"});
  // A path with no directory part goes to the working directory; a missing
  // file is reported with its name.
  REQUIRE_THROWS_WITH(load_safetensors(dir.path + "/absent.safetensors"),
                      Contains("absent.safetensors") && Contains("No such file"));
  REQUIRE_THROWS_WITH(load_safetensors(dir.path), Contains("not a regular file"));
}

TEST_CASE("load_safetensors validates against the file size", "[serialize]") {
  TempDir dir;
  const std::string path = dir.path + "/t.safetensors";
  const std::string good = good_file();
  write_file(path, good.substr(0, good.size() - 1));
  REQUIRE_THROWS_WITH(load_safetensors(path), Contains(path) && Contains("past the data buffer"));
  write_file(path, le64(1ull << 40) + "{}");
  REQUIRE_THROWS_WITH(load_safetensors(path), Contains(path) && Contains("implausible"));
  write_file(path, "1234");
  REQUIRE_THROWS_WITH(load_safetensors(path), Contains(path) && Contains("too short"));
  write_file(path, good);
  REQUIRE(load_safetensors(path).tensors.at("b").to_vector<int32_t>() == std::vector<int32_t>{4, 5});
}

TEST_CASE("safetensors writes CUDA tensors as CPU data", "[serialize][cuda]") {
  GALEN_REQUIRE_CUDA();
  Tensor host = randn({3, 5}, DType::f64);
  Tensor dev = host.cuda().t();  // non-contiguous, on the GPU
  const auto back = roundtrip({{"d", dev}});
  REQUIRE(back.tensors.at("d").device().is_cpu());
  require_same(back.tensors.at("d"), host.t());
}
