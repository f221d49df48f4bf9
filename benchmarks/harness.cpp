// The galen_bench harness: argument parsing, timing (warm-up, then repeats on
// std::chrono::steady_clock), statistics, and the table / JSON-lines output.
#include "harness.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <regex>
#include <string>

#include <cblas.h>

#include "galen/core/tensor.h"
#include "torch_peer.h"

namespace galen_bench {

const char* unit_name(Unit u) {
  switch (u) {
    case Unit::GFlops: return "GFLOP/s";
    case Unit::GBytes: return "GB/s";
    case Unit::Ms: return "ms";
  }
  return "?";
}

void note(const std::string& msg) {
  std::fflush(stdout);
  std::fprintf(stderr, "%s\n", msg.c_str());
  std::fflush(stderr);
}

void do_not_optimize(const void* p) { asm volatile("" : : "g"(p) : "memory"); }

void parallel_copy(void* dst, const void* src, size_t nbytes) {
#pragma omp parallel
  {
    const size_t nt = static_cast<size_t>(omp_get_num_threads());
    const size_t t = static_cast<size_t>(omp_get_thread_num());
    // Chunks rounded to cache lines so no two threads write the same line.
    size_t chunk = (nbytes + nt - 1) / nt;
    chunk = (chunk + 63) / 64 * 64;
    const size_t begin = std::min(nbytes, t * chunk);
    const size_t end = std::min(nbytes, begin + chunk);
    if (end > begin)
      std::memcpy(static_cast<char*>(dst) + begin, static_cast<const char*>(src) + begin,
                  end - begin);
  }
}

// ---- command line ---------------------------------------------------------------

namespace {

[[noreturn]] void usage(int code) {
  std::FILE* f = code == 0 ? stdout : stderr;
  std::fprintf(f,
               "usage: galen_bench [--filter REGEX] [--json] [--repeats N] [--warmup N]\n"
               "                   [--min-time-ms T] [--threads N] [--list]\n"
               "  --filter REGEX  run the cases whose \"bench/case\" matches (std::regex search)\n"
               "  --json          one JSON object per line per (case, impl) on stdout\n"
               "  --repeats N     timed samples per implementation (default 10)\n"
               "  --warmup N      untimed runs before timing (default 2)\n"
               "  --min-time-ms T a timed sample repeats the run until it lasts >= T ms\n"
               "                  (default 20; 0 = one run per sample)\n"
               "  --threads N     CPU threads for galen and its peers (default: galen's)\n"
               "  --list          list benches and cases, run nothing\n");
  std::exit(code);
}

int parse_int(const char* flag, const char* v, int lo) {
  char* end = nullptr;
  long x = std::strtol(v, &end, 10);
  if (end == v || *end != '\0' || x < lo || x > 1000000) {
    std::fprintf(stderr, "galen_bench: %s needs an integer >= %d, got '%s'\n", flag, lo, v);
    usage(2);
  }
  return static_cast<int>(x);
}

}  // namespace

Options parse_args(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "galen_bench: %s needs a value\n", a.c_str());
        usage(2);
      }
      return argv[++i];
    };
    if (a == "--json") o.json = true;
    else if (a == "--list") o.list = true;
    else if (a == "--filter") o.filter = value();
    else if (a == "--repeats") o.repeats = parse_int("--repeats", value(), 1);
    else if (a == "--warmup") o.warmup = parse_int("--warmup", value(), 0);
    else if (a == "--min-time-ms") o.min_time_ms = parse_int("--min-time-ms", value(), 0);
    else if (a == "--threads") o.threads = parse_int("--threads", value(), 1);
    else if (a == "--help" || a == "-h") usage(0);
    else {
      std::fprintf(stderr, "galen_bench: unknown argument '%s'\n", a.c_str());
      usage(2);
    }
  }
  return o;
}

// ---- statistics and output ----------------------------------------------------------

namespace {

struct Stats {
  double median = 0, min = 0, max = 0;
  int runs = 0;
};

// Each sample's per-run time is first turned into the unit (a rate for
// GFLOP/s and GB/s, milliseconds for ms), then summarised. So for throughput
// units the median is the median of the samples' rates, `min` is the slowest
// sample's rate and `max` the fastest's; for ms, `min` is the fastest sample
// and `max` the slowest.
Stats summarise(Unit unit, double work, const std::vector<double>& seconds) {
  std::vector<double> v;
  v.reserve(seconds.size());
  for (double s : seconds) {
    s = std::max(s, 1e-12);
    v.push_back(unit == Unit::Ms ? s * 1e3 : work / s / 1e9);
  }
  std::sort(v.begin(), v.end());
  Stats st;
  st.runs = static_cast<int>(v.size());
  if (v.empty()) return st;
  const size_t n = v.size();
  st.median = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
  st.min = v.front();
  st.max = v.back();
  return st;
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

std::string num(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", x);  // finite by construction: valid JSON
  return buf;
}

void print_json(const std::string& bench, const std::string& cs, const std::string& impl, Unit u,
                const Stats& s) {
  std::printf(
      "{\"bench\": \"%s\", \"case\": \"%s\", \"impl\": \"%s\", \"unit\": \"%s\", \"median\": %s, "
      "\"min\": %s, \"max\": %s, \"runs\": %d}\n",
      json_escape(bench).c_str(), json_escape(cs).c_str(), json_escape(impl).c_str(), unit_name(u),
      num(s.median).c_str(), num(s.min).c_str(), num(s.max).c_str(), s.runs);
  std::fflush(stdout);
}

constexpr const char* kRowFmt = "%-18s %-32s %-14s %-8s %10s %10s %10s %5s\n";

void print_header() {
  std::printf(kRowFmt, "bench", "case", "impl", "unit", "median", "min", "max", "runs");
  std::printf("%s\n", std::string(18 + 32 + 14 + 8 + 10 * 3 + 5 + 7, '-').c_str());
}

std::string fmt_value(double x) {
  char buf[32];
  if (x >= 100) std::snprintf(buf, sizeof buf, "%.1f", x);
  else if (x >= 1) std::snprintf(buf, sizeof buf, "%.2f", x);
  else std::snprintf(buf, sizeof buf, "%.4f", x);
  return buf;
}

void print_row(const std::string& bench, const std::string& cs, const std::string& impl, Unit u,
               const Stats& s) {
  std::printf(kRowFmt, bench.c_str(), cs.c_str(), impl.c_str(), unit_name(u),
              fmt_value(s.median).c_str(), fmt_value(s.min).c_str(), fmt_value(s.max).c_str(),
              std::to_string(s.runs).c_str());
  std::fflush(stdout);
}

// galen/peer of the medians. For rates >1 means galen is faster; for ms <1 does.
std::string ratio_text(const std::string& impl, const std::string& peer, Unit u, double r) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s/%s = %.3fx  (%s: %s)", impl.c_str(), peer.c_str(), r,
                unit_name(u),
                higher_is_better(u) ? "higher is better, >1 = galen faster"
                                    : "lower is better, <1 = galen faster");
  return buf;
}

struct RatioLine {
  std::string label, text;
};

}  // namespace

// ---- running ------------------------------------------------------------------------

int run_all(const std::vector<Bench>& benches, const Options& opts) {
  std::regex filter;
  const bool filtered = !opts.filter.empty();
  if (filtered) {
    try {
      filter = std::regex(opts.filter, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      std::fprintf(stderr, "galen_bench: bad --filter regex '%s': %s\n", opts.filter.c_str(),
                   e.what());
      return 1;
    }
  }
  auto selected = [&](const std::string& b, const std::string& c) {
    return !filtered || std::regex_search(b + "/" + c, filter);
  };

  if (opts.list) {
    for (const Bench& b : benches) {
      std::vector<std::string> names;
      std::vector<Case> cases = b.cases();
      for (const Case& c : cases)
        if (selected(b.name, c.name))
          names.push_back(b.name + "/" + c.name + "  (" + unit_name(c.unit) + ")");
      if (names.empty()) continue;
      std::string why = b.skip_reason ? b.skip_reason() : "";
      std::printf("%s: %s\n", b.name.c_str(), b.description.c_str());
      if (!why.empty()) std::printf("  [skipped here: %s]\n", why.c_str());
      for (const std::string& n : names) std::printf("  %s\n", n.c_str());
    }
    return 0;
  }

  if (opts.threads > 0) {
    galen::set_num_threads(opts.threads);
    // The same OpenMP pool serves galen, the copy loop and OpenBLAS (the
    // openmp flavour); setting each explicitly costs nothing.
    omp_set_num_threads(opts.threads);
    openblas_set_num_threads(opts.threads);
  }
  const int threads = galen::get_num_threads();
  torch_peer::set_num_threads(threads);  // no-op without LibTorch

  {
    std::string peer = torch_peer::kBuilt ? "LibTorch " + torch_peer::version() : "not built";
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "galen_bench: galen %s, threads %d, warmup %d, repeats %d, min sample %d ms, "
                  "LibTorch peer: %s",
                  galen::version(), threads, opts.warmup, opts.repeats, opts.min_time_ms,
                  peer.c_str());
    if (opts.json) note(buf);
    else std::printf("%s\n\n", buf);
  }
  if (!opts.json) print_header();

  int failures = 0;
  std::vector<RatioLine> summary;
  for (const Bench& b : benches) {
    std::vector<Case> cases = b.cases();
    bool any = false;
    for (const Case& c : cases) any = any || selected(b.name, c.name);
    if (!any) continue;
    std::string why = b.skip_reason ? b.skip_reason() : "";
    if (!why.empty()) {
      note(b.name + ": skipped: " + why);
      continue;
    }
    for (const Case& c : cases) {
      if (!selected(b.name, c.name)) continue;
      try {
        std::vector<Impl> impls = c.setup();
        // galen's implementations first, then the peers.
        std::stable_partition(impls.begin(), impls.end(), [](const Impl& i) { return !i.is_peer; });
        // Warm-up, then one more run to calibrate: a timed sample repeats the
        // run back to back `inner` times so that it lasts at least
        // --min-time-ms (short cases would otherwise time mostly the clock and
        // scheduler noise); its time is divided by `inner`.
        std::vector<int> inner(impls.size(), 1);
        for (size_t k = 0; k < impls.size(); ++k) {
          Impl& im = impls[k];
          for (int w = 0; w < opts.warmup; ++w) {
            if (im.prepare) im.prepare();
            im.run();
          }
          if (im.prepare) im.prepare();
          auto t0 = std::chrono::steady_clock::now();
          im.run();
          double one = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
          double want = opts.min_time_ms * 1e-3;
          if (one < want)
            inner[k] = static_cast<int>(std::min(1e6, std::ceil(want / std::max(one, 1e-9))));
        }
        // Samples interleave the implementations (galen, peer, galen, peer, ...)
        // so a burst of machine noise hits both sides rather than one.
        std::vector<std::vector<double>> secs(impls.size());
        for (int r = 0; r < opts.repeats; ++r)
          for (size_t k = 0; k < impls.size(); ++k) {
            if (impls[k].prepare) impls[k].prepare();
            auto t0 = std::chrono::steady_clock::now();
            for (int i = 0; i < inner[k]; ++i) impls[k].run();
            auto t1 = std::chrono::steady_clock::now();
            secs[k].push_back(std::chrono::duration<double>(t1 - t0).count() / inner[k]);
          }
        std::vector<Stats> stats;
        for (size_t k = 0; k < impls.size(); ++k) {
          stats.push_back(summarise(c.unit, c.work, secs[k]));
          if (opts.json) print_json(b.name, c.name, impls[k].name, c.unit, stats.back());
          else print_row(b.name, c.name, impls[k].name, c.unit, stats.back());
        }
        bool has_peer = false;
        for (size_t p = 0; p < impls.size(); ++p) {
          if (!impls[p].is_peer) continue;
          has_peer = true;
          for (size_t g = 0; g < impls.size(); ++g) {
            if (impls[g].is_peer || stats[p].median <= 0) continue;
            std::string t = ratio_text(impls[g].name, impls[p].name, c.unit,
                                       stats[g].median / stats[p].median);
            if (!opts.json) std::printf("  -> %s\n", t.c_str());
            summary.push_back({b.name + "/" + c.name, t});
          }
        }
        if (!has_peer && !opts.json) std::printf("  -> no peer for this case in this build\n");
      } catch (const std::exception& e) {
        ++failures;
        note(b.name + "/" + c.name + ": FAILED: " + e.what());
      }
    }
  }

  if (!opts.json && !summary.empty()) {
    std::printf("\nRatios of medians (galen / peer):\n");
    for (const RatioLine& l : summary) std::printf("  %-52s %s\n", l.label.c_str(), l.text.c_str());
  }
  return failures;
}


// ---- registry ----------------------------------------------------------------------
namespace {
struct Entry {
  int order;
  Bench (*factory)();
};
std::vector<Entry>& registry() {
  static std::vector<Entry> entries;  // function-local: safe from init-order issues
  return entries;
}
}  // namespace

Register::Register(int order, Bench (*factory)()) { registry().push_back({order, factory}); }

std::vector<Bench> registered_benches() {
  std::vector<std::pair<int, Bench>> built;
  for (const Entry& e : registry()) built.emplace_back(e.order, e.factory());
  std::stable_sort(built.begin(), built.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first < b.first : a.second.name < b.second.name;
  });
  std::vector<Bench> out;
  for (auto& [order, b] : built) out.push_back(std::move(b));
  return out;
}

}  // namespace galen_bench
