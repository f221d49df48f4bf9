// Command-line parsing shared by the example programs. Each program declares
// its options once (name -> where the value goes); the loop, --help / -h,
// flags without a value, missing values, values that do not parse in full
// ("12x" is not 12) and unknown options are handled here, with the same
// messages in every program:
//
//   Args a;
//   examples::Cli cli([&] { usage(argv[0]); });
//   cli.text("--data", a.data).number("--epochs", a.epochs).flag("--resume", a.resume);
//   cli.custom("--planes", [&](const std::string& v) { a.planes = examples::split_commas(v); });
//   if (const int rc = cli.parse(argc, argv); rc >= 0) return rc;   // --help: 0, bad usage: 2
//   return examples::run_guarded([&] { return run(a); });          // galen::Error: "error: ...", 1
#pragma once

#include <galen/core/error.h>

#include <charconv>
#include <cstdio>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>
#include <vector>

namespace galen::examples {

// "a,b,,c" -> {"a", "b", "c"} (empty items dropped).
inline std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  size_t p = 0;
  while (p <= s.size()) {
    const size_t q = std::min(s.find(',', p), s.size());
    if (q > p) out.push_back(s.substr(p, q - p));
    p = q + 1;
  }
  return out;
}

// The whole of `s` as a T (integer or floating point); std::invalid_argument otherwise.
template <typename T>
T parse_number(const std::string& s) {
  static_assert(std::is_arithmetic_v<T>, "parse_number: arithmetic types only");
  T v{};
  const char* end = s.data() + s.size();
  const auto r = std::from_chars(s.data(), end, v);
  if (s.empty() || r.ec != std::errc() || r.ptr != end)
    throw std::invalid_argument(std::is_integral_v<T> ? "expected a whole number in range" : "expected a number");
  return v;
}

// "0.1,0.2" -> {0.1, 0.2}.
inline std::vector<double> parse_doubles(const std::string& s) {
  std::vector<double> out;
  for (const auto& x : split_commas(s)) out.push_back(parse_number<double>(x));
  return out;
}

class Cli {
 public:
  explicit Cli(std::function<void()> usage) : usage_(std::move(usage)) {}

  // An option without a value: sets `dst` to `value`.
  Cli& flag(const std::string& name, bool& dst, bool value = true) {
    flags_[name] = [&dst, value] { dst = value; };
    return *this;
  }
  Cli& text(const std::string& name, std::string& dst) {
    return custom(name, [&dst](const std::string& v) { dst = v; });
  }
  template <typename T>
  Cli& number(const std::string& name, T& dst) {
    return custom(name, [&dst](const std::string& v) { dst = parse_number<T>(v); });
  }
  // Any other value: `set` may throw std::exception (or galen::Error) to reject it.
  Cli& custom(const std::string& name, std::function<void(const std::string&)> set) {
    values_[name] = std::move(set);
    return *this;
  }

  // -1: go on; 0: --help was printed; 2: bad usage (said on stderr).
  int parse(int argc, char** argv) const {
    for (int i = 1; i < argc; ++i) {
      const std::string k = argv[i];
      if (k == "--help" || k == "-h") {
        usage_();
        return 0;
      }
      if (auto f = flags_.find(k); f != flags_.end()) {
        f->second();
        continue;
      }
      const auto it = values_.find(k);
      if (it == values_.end()) {
        std::fprintf(stderr, "error: unknown option %s (see --help)\n", k.c_str());
        return 2;
      }
      if (i + 1 >= argc) {
        std::fprintf(stderr, "error: missing value for %s (see --help)\n", k.c_str());
        return 2;
      }
      const std::string v = argv[++i];
      try {
        it->second(v);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "error: bad value \"%s\" for %s (%s)\n", v.c_str(), k.c_str(), e.what());
        return 2;
      }
    }
    return -1;
  }

 private:
  std::function<void()> usage_;
  std::map<std::string, std::function<void()>> flags_;
  std::map<std::string, std::function<void(const std::string&)>> values_;
};

// Runs a program's body: a galen::Error is printed as "error: <what>" and gives exit code 1.
inline int run_guarded(const std::function<int()>& body) {
  try {
    return body();
  } catch (const galen::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}

}  // namespace galen::examples
