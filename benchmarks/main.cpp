// galen_bench: galen's kernels and autograd against their peers (OpenBLAS, a
// plain copy loop, LibTorch, cuBLAS) in one run. See benchmarks/README.md.
#include <cstdio>
#include <exception>

#include "benches.h"

int main(int argc, char** argv) {
  using namespace galen_bench;
  const Options opts = parse_args(argc, argv);
  // The table: every bench file registers itself (harness.h, Register).
  try {
    const std::vector<Bench> benches = registered_benches();
    return run_all(benches, opts) == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "galen_bench: %s\n", e.what());
    return 1;
  }
}
