// Fused optimizer kernels: the CPU backend against the reference, bit for bit.
#include <random>
#include <vector>

#include "galen/kernels/backend.h"
#include "test_util.h"

using namespace galen;
using namespace galen::kernels;

namespace {
template <typename T>
void check_adam(int64_t n, AdamParams a) {
  std::mt19937_64 rng(static_cast<uint64_t>(n) * 7 + (a.amsgrad ? 1 : 0) + (a.decoupled ? 2 : 0));
  std::normal_distribution<double> d(0.0, 1.0);
  std::vector<T> p(n), g(n), m(n), v(n), vm(n);
  for (int64_t i = 0; i < n; ++i) {
    p[i] = static_cast<T>(d(rng));
    g[i] = static_cast<T>(d(rng));
    m[i] = static_cast<T>(0.1 * d(rng));
    v[i] = static_cast<T>(std::abs(d(rng)));
    vm[i] = static_cast<T>(std::abs(d(rng)));
  }
  auto p2 = p, m2 = m, v2 = v, vm2 = vm;
  const DType dt = dtype_v<T>;
  ref_backend().adam_step(dt, p.data(), g.data(), m.data(), v.data(), vm.data(), n, a);
  backend(DeviceType::CPU).adam_step(dt, p2.data(), g.data(), m2.data(), v2.data(), vm2.data(), n, a);
  REQUIRE(p == p2);
  REQUIRE(m == m2);
  REQUIRE(v == v2);
  REQUIRE(vm == vm2);
}
}  // namespace

TEST_CASE("cpu adam_step matches the reference bit for bit", "[kernels][optim]") {
  for (int64_t n : {1, 7, 1031, 40000}) {
    for (bool amsgrad : {false, true}) {
      for (bool decoupled : {false, true}) {
        AdamParams a;
        a.lr = 3e-3;
        a.weight_decay = 0.05;
        a.bias_correction1 = 1 - std::pow(0.9, 3);
        a.bias_correction2_sqrt = std::sqrt(1 - std::pow(0.999, 3));
        a.amsgrad = amsgrad;
        a.decoupled = decoupled;
        INFO("n " << n << " amsgrad " << amsgrad << " decoupled " << decoupled);
        check_adam<float>(n, a);
        check_adam<double>(n, a);
      }
    }
  }
}

TEST_CASE("adam_step: one element by hand, and unsupported dtypes", "[kernels][optim]") {
  // p=1, g=0.5, m=v=0, step 1, lr 0.1: m=0.05, v=0.00025, denom=sqrt(v)/sqrt(0.001)+eps=0.5+1e-8,
  // p = 1 - 0.1/0.1 * 0.05/denom = 1 - 0.1 * (1 - 2e-8) (to first order).
  double p = 1, g = 0.5, m = 0, v = 0;
  AdamParams a;
  a.lr = 0.1;
  a.bias_correction1 = 1 - 0.9;
  a.bias_correction2_sqrt = std::sqrt(1 - 0.999);
  backend(DeviceType::CPU).adam_step(DType::f64, &p, &g, &m, &v, nullptr, 1, a);
  REQUIRE(m == Approx(0.05).epsilon(1e-15));
  REQUIRE(v == Approx(0.00025).epsilon(1e-15));
  REQUIRE(p == Approx(1.0 - 0.1 * 0.05 / 0.1 / (0.5 + 1e-8)).epsilon(1e-14));
  int32_t q = 0;
  REQUIRE_THROWS_WITH(backend(DeviceType::CPU).adam_step(DType::i32, &q, &q, &q, &q, nullptr, 1, a),
                      Catch::Contains("adam_step") && Catch::Contains("i32"));
}
