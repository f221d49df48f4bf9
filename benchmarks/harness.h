// The galen_bench harness: a table of benchmarks, each a list of cases, each
// case a set of implementations (galen's, then its peer) timed in the same run
// so every figure can be read as a ratio against the peer.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace galen_bench {

enum class Unit {
  GFlops,  // "GFLOP/s": work = floating-point operations per run; higher is better
  GBytes,  // "GB/s": work = bytes read + bytes written per run; higher is better
  Ms,      // "ms": wall time per run; work unused; lower is better
};
const char* unit_name(Unit u);
inline bool higher_is_better(Unit u) { return u != Unit::Ms; }

// One implementation of one case. `run` is one repetition of the work and must
// not return before the work is finished (CUDA: synchronize inside); it may be
// called several times back to back within one timed sample. `prepare`
// (optional) runs untimed before every warm-up run and every timed sample:
// selecting a kernel variant and the like.
struct Impl {
  std::string name;  // "galen", "galen-cublas", "openblas", "libtorch", ...
  bool is_peer = false;
  std::function<void()> run;
  std::function<void()> prepare;
};

// A case is described without touching memory; `setup` allocates its inputs
// and returns the implementations (which own them through their captures). It
// is called only when the case is selected, and everything is freed after it.
struct Case {
  std::string name;  // e.g. "1024x1024x1024"
  Unit unit = Unit::Ms;
  double work = 0;  // FLOPs or bytes per run (see Unit)
  std::function<std::vector<Impl>()> setup;
};

struct Bench {
  std::string name;         // e.g. "matmul"
  std::string description;  // one line for --list
  // Non-empty: why the bench cannot run here (printed, then it is skipped).
  std::function<std::string()> skip_reason;
  std::function<std::vector<Case>()> cases;
};

struct Options {
  int repeats = 10;
  int warmup = 2;
  int min_time_ms = 20;  // a timed sample lasts at least this long (see run_all)
  int threads = 0;  // 0: leave galen's default
  bool json = false;
  bool list = false;
  std::string filter;  // ECMAScript regex searched in "bench/case"; empty = all
};

// Parses argv; prints usage and exits the process on --help or a bad flag
// (this is the program's own command line, not library input).
Options parse_args(int argc, char** argv);

// Runs every selected case of every bench and prints the results. Returns the
// number of cases that failed (threw).
int run_all(const std::vector<Bench>& benches, const Options& opts);

// ---- the table ------------------------------------------------------------------
// Each bench file registers its factory at static-initialisation time:
//   static galen_bench::Register reg(40, bench_conv2d);
// `order` sorts the output (10 = matmul ... leave gaps); ties sort by name.
// The files are globbed by CMake, so adding a bench touches no shared file.
struct Register {
  Register(int order, Bench (*factory)());
};
// All registered benches, built and sorted by (order, name).
std::vector<Bench> registered_benches();

// ---- helpers shared by the bench files ----------------------------------------
// Copies nbytes from src to dst with the OpenMP pool (one contiguous chunk per
// thread): the bandwidth yardstick for memory-bound CPU kernels.
void parallel_copy(void* dst, const void* src, size_t nbytes);
// Keeps the compiler from discarding a result.
void do_not_optimize(const void* p);
// Notes printed on stderr (never on stdout, which --json keeps machine-readable).
void note(const std::string& msg);

}  // namespace galen_bench
