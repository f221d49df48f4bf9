// Shared helpers for the test suite: tolerant comparison with a readable
// report, CUDA skipping, fixture paths.
#pragma once

#include <catch2/catch.hpp>

#include <cmath>
#include <iostream>
#include <set>
#include <sstream>
#include <string>

#include "galen/galen.h"

namespace galen::test {

struct CloseReport {
  bool ok = true;
  std::string message;
};

// Element-wise |out - ref| <= atol + rtol * |ref|; NaN must face NaN and
// infinities must match exactly. Shapes must be equal. Any dtype/device.
inline CloseReport compare_close(const Tensor& out, const Tensor& ref, double atol, double rtol) {
  CloseReport r;
  if (out.sizes() != ref.sizes()) {
    r.ok = false;
    r.message = "shape " + shape_str(out.sizes()) + " != expected " + shape_str(ref.sizes());
    return r;
  }
  const auto o = out.to(DType::f64).cpu().contiguous().to_vector<double>();
  const auto e = ref.to(DType::f64).cpu().contiguous().to_vector<double>();
  size_t bad = 0, worst = 0;
  double worst_excess = -1;
  for (size_t i = 0; i < o.size(); ++i) {
    const double a = o[i], b = e[i];
    bool fine;
    if (std::isnan(b)) fine = std::isnan(a);
    else if (std::isinf(b)) fine = a == b;
    else fine = std::fabs(a - b) <= atol + rtol * std::fabs(b);
    if (!fine) {
      ++bad;
      const double excess = std::isnan(a - b) ? 1e300 : std::fabs(a - b) - (atol + rtol * std::fabs(b));
      if (excess > worst_excess) { worst_excess = excess; worst = i; }
    }
  }
  if (bad) {
    std::ostringstream os;
    os << bad << " of " << o.size() << " elements differ; worst at flat index " << worst << ": got "
       << o[worst] << ", expected " << e[worst] << " (atol " << atol << ", rtol " << rtol << ")";
    r.ok = false;
    r.message = os.str();
  }
  return r;
}

}  // namespace galen::test

// REQUIRE_CLOSE(out, ref, atol, rtol): fails with the worst element reported.
#define REQUIRE_CLOSE(out, ref, atol, rtol)                                     \
  do {                                                                          \
    auto galen_cr_ = ::galen::test::compare_close((out), (ref), (atol), (rtol)); \
    INFO(galen_cr_.message);                                                    \
    REQUIRE(galen_cr_.ok);                                                      \
  } while (0)

// First line of every [cuda] test case: CTest reports the case as skipped
// (SKIP_REGULAR_EXPRESSION) when no GPU is present.
#define GALEN_REQUIRE_CUDA()                                                        \
  do {                                                                              \
    if (!::galen::cuda_is_available()) {                                            \
      std::cout << "SKIPPED: no CUDA GPU present (or CUDA backend not built)" << std::endl; \
      return;                                                                       \
    }                                                                               \
  } while (0)

// ---- coverage registries ---------------------------------------------------------
// Test files outside tests/core declare which differentiable ops they cover with
// a gradcheck / a PyTorch parity case; the coverage tests in
// tests/core/test_gradcheck.cpp and test_parity.cpp accept these names as well.
//   GALEN_COVERS_GRADCHECK(conv2d);   GALEN_COVERS_PARITY(conv2d);
namespace galen::test {
inline std::set<std::string>& gradcheck_covered() {
  static std::set<std::string> s;
  return s;
}
inline std::set<std::string>& parity_covered() {
  static std::set<std::string> s;
  return s;
}
struct CoverageRegistrar {
  CoverageRegistrar(std::set<std::string>& s, const char* name) { s.insert(name); }
};
}  // namespace galen::test
#define GALEN_COVERS_GRADCHECK(op) \
  static ::galen::test::CoverageRegistrar galen_gc_cover_##op(::galen::test::gradcheck_covered(), #op)
#define GALEN_COVERS_PARITY(op) \
  static ::galen::test::CoverageRegistrar galen_pa_cover_##op(::galen::test::parity_covered(), #op)
