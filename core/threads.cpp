// Thread control: one OpenMP pool shared by galen's CPU kernels and OpenBLAS
// (the OpenMP build of OpenBLAS runs on the same pool, so setting both keeps
// them from oversubscribing the cores).
#include <omp.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <string>

#include "galen/core/error.h"
#include "galen/core/tensor.h"

extern "C" void openblas_set_num_threads(int);

namespace galen {
namespace {

std::atomic<int> g_threads{0};

void apply(int n) {
  omp_set_num_threads(n);
  openblas_set_num_threads(n);
  g_threads.store(n);
}

}  // namespace

namespace detail {

// The default: GALEN_NUM_THREADS when set to a positive integer, otherwise
// OpenMP's own default (OMP_NUM_THREADS, else the number of cores). Runs once;
// called from a static initializer here and from the CPU backend's constructor
// (whichever static-init runs first).
void init_num_threads() {
  static std::once_flag once;
  std::call_once(once, [] {
    int n = 0;
    if (const char* env = std::getenv("GALEN_NUM_THREADS")) {
      char* end = nullptr;
      const long v = std::strtol(env, &end, 10);
      if (end != env && *end == '\0' && v >= 1 && v <= 4096) n = static_cast<int>(v);
    }
    if (n == 0) n = omp_get_max_threads();
    apply(n < 1 ? 1 : n);
  });
}

}  // namespace detail

namespace {
const bool g_init = (detail::init_num_threads(), true);
}  // namespace

void set_num_threads(int n) {
  GALEN_CHECK(n >= 1, "set_num_threads: need at least 1 thread, got ", n);
  detail::init_num_threads();  // so a later first-time init cannot override n
  apply(n);
}

int get_num_threads() {
  detail::init_num_threads();
  return g_threads.load();
}

}  // namespace galen
