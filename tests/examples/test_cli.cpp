// The example programs' command-line parser (examples/cli.h): values go where
// they are declared, flags set their value, whole-value number parsing, and
// every kind of bad usage gives exit code 2 (--help 0) instead of a throw.
#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "../examples/cli.h"

using galen::examples::Cli;
using galen::examples::parse_number;

namespace {

struct Argv {
  std::vector<std::string> words;
  std::vector<char*> ptrs;
  explicit Argv(std::vector<std::string> w) : words(std::move(w)) {
    words.insert(words.begin(), "prog");
    for (auto& s : words) ptrs.push_back(s.data());
  }
  int argc() const { return static_cast<int>(ptrs.size()); }
  char** argv() { return ptrs.data(); }
};

struct Opts {
  std::string data = "default";
  int64_t epochs = 3;
  uint64_t seed = 0;
  double lr = 1e-3;
  bool resume = false, cosine = true;
  std::vector<std::string> planes;
};

int parse(Opts& o, std::vector<std::string> words, int* usage_calls = nullptr) {
  Cli cli([usage_calls] {
    if (usage_calls) ++*usage_calls;
  });
  cli.text("--data", o.data).number("--epochs", o.epochs).number("--seed", o.seed).number("--lr", o.lr);
  cli.flag("--resume", o.resume).flag("--constant-lr", o.cosine, false);
  cli.custom("--planes", [&o](const std::string& v) {
    o.planes = galen::examples::split_commas(v);
    if (o.planes.empty()) throw std::invalid_argument("no plane");
  });
  Argv a(std::move(words));
  return cli.parse(a.argc(), a.argv());
}

}  // namespace

TEST_CASE("cli: values and flags land where declared", "[examples][cli]") {
  Opts o;
  REQUIRE(parse(o, {"--epochs", "12", "--data", "/x y", "--resume", "--lr", "2.5e-4", "--seed", "18446744073709551615",
                    "--planes", "axial,,coronal", "--constant-lr"}) == -1);
  CHECK(o.epochs == 12);
  CHECK(o.data == "/x y");
  CHECK(o.resume);
  CHECK_FALSE(o.cosine);
  CHECK(o.lr == 2.5e-4);
  CHECK(o.seed == UINT64_MAX);
  CHECK(o.planes == std::vector<std::string>{"axial", "coronal"});
  Opts d;
  REQUIRE(parse(d, {}) == -1);  // nothing given: defaults kept
  CHECK(d.epochs == 3);
  CHECK(d.data == "default");
  CHECK(d.cosine);
}

TEST_CASE("cli: bad usage is exit code 2, --help is 0, and nothing throws", "[examples][cli]") {
  int usage = 0;
  Opts o;
  CHECK(parse(o, {"--help"}, &usage) == 0);
  CHECK(usage == 1);
  CHECK(parse(o, {"-h"}, &usage) == 0);
  CHECK(usage == 2);
  CHECK(parse(o, {"--bogus", "1"}) == 2);                      // unknown option
  CHECK(parse(o, {"--epochs"}) == 2);                          // missing value
  CHECK(parse(o, {"--epochs", "12x"}) == 2);                   // trailing garbage
  CHECK(parse(o, {"--epochs", "1.5"}) == 2);                   // not whole
  CHECK(parse(o, {"--epochs", ""}) == 2);                      // empty
  CHECK(parse(o, {"--seed", "-1"}) == 2);                      // negative into unsigned
  CHECK(parse(o, {"--epochs", "99999999999999999999"}) == 2);  // out of range
  CHECK(parse(o, {"--lr", "abc"}) == 2);
  CHECK(parse(o, {"--planes", ","}) == 2);       // the custom setter's own rejection
  CHECK(parse(o, {"--resume", "--data"}) == 2);  // a flag, then a value option without its value
}

TEST_CASE("cli: parse_number takes the whole text or nothing", "[examples][cli]") {
  CHECK(parse_number<int>("-42") == -42);
  CHECK(parse_number<double>("1e-3") == 1e-3);
  CHECK(parse_number<double>("-0.25") == -0.25);
  CHECK_THROWS_AS(parse_number<int>(" 4"), std::invalid_argument);
  CHECK_THROWS_AS(parse_number<int>("4 "), std::invalid_argument);
  CHECK_THROWS_AS(parse_number<int>("300000000000"), std::invalid_argument);
  CHECK_THROWS_AS(parse_number<double>("1.0.0"), std::invalid_argument);
}
