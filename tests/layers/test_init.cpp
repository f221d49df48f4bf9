// nn::init: gains, fans (as PyTorch's _calculate_fan_in_and_fan_out), and the bounds / statistics of each
// initialiser; Linear's default init bounds.
#include <cmath>

#include "test_util.h"

using namespace galen;
using namespace galen::nn;

namespace {

struct Stats {
  double mean, std, min, max;
};

Stats stats_of(const Tensor &t) {
  const auto v = t.to(DType::f64).contiguous().to_vector<double>();
  double s = 0, s2 = 0, mn = 1e300, mx = -1e300;
  for (double e : v) {
    s += e;
    s2 += e * e;
    mn = std::min(mn, e);
    mx = std::max(mx, e);
  }
  const double n = static_cast<double>(v.size());
  const double m = s / n;
  return {m, std::sqrt(s2 / n - m * m), mn, mx};
}

// Uniform on [-b, b]: every value inside, extremes close to the bound, std b/sqrt(3).
void check_uniform(const Tensor &t, double b) {
  const Stats s = stats_of(t);
  INFO("bound " << b << " min " << s.min << " max " << s.max << " std " << s.std);
  CHECK(s.min >= -b);
  CHECK(s.max <= b);
  CHECK(s.max > 0.98 * b);
  CHECK(s.min < -0.98 * b);
  CHECK(std::fabs(s.std - b / std::sqrt(3.0)) < 0.03 * b);
  CHECK(std::fabs(s.mean) < 0.03 * b);
}

void check_normal(const Tensor &t, double mean, double stdv) {
  const Stats s = stats_of(t);
  INFO("mean " << s.mean << " std " << s.std << " expected " << mean << ", " << stdv);
  CHECK(std::fabs(s.mean - mean) < 0.03 * stdv);
  CHECK(std::fabs(s.std - stdv) < 0.03 * stdv);
}

}  // namespace

TEST_CASE("init: calculate_gain and fans as PyTorch", "[layers][init]") {
  CHECK(init::calculate_gain("linear") == 1.0);
  CHECK(init::calculate_gain("conv2d") == 1.0);
  CHECK(init::calculate_gain("sigmoid") == 1.0);
  CHECK(init::calculate_gain("tanh") == Approx(5.0 / 3.0));
  CHECK(init::calculate_gain("relu") == Approx(std::sqrt(2.0)));
  CHECK(init::calculate_gain("leaky_relu") == Approx(std::sqrt(2.0 / (1.0 + 0.0001))));
  CHECK(init::calculate_gain("leaky_relu", 0.2) == Approx(std::sqrt(2.0 / 1.04)));
  CHECK(init::calculate_gain("leaky_relu", std::sqrt(5.0)) == Approx(std::sqrt(1.0 / 3.0)));
  CHECK(init::calculate_gain("selu") == 0.75);
  CHECK_THROWS_WITH(init::calculate_gain("swish"), Catch::Contains("swish"));

  CHECK(init::calculate_fan_in_and_fan_out(empty({128, 784})) == std::pair<int64_t, int64_t>{784, 128});
  // conv weight (OC, IC, KH, KW): fan_in = IC*KH*KW, fan_out = OC*KH*KW.
  CHECK(init::calculate_fan_in_and_fan_out(empty({64, 3, 7, 7})) == std::pair<int64_t, int64_t>{147, 3136});
  CHECK(init::calculate_fan_in_and_fan_out(empty({8, 4, 3})) == std::pair<int64_t, int64_t>{12, 24});
  CHECK_THROWS_WITH(init::calculate_fan_in_and_fan_out(empty({5})), Catch::Contains("fewer than 2"));
}

TEST_CASE("init: uniform_, normal_, constant_, zeros_, ones_ in place on parameters", "[layers][init]") {
  manual_seed(11);
  Tensor t = empty({400, 250}).requires_grad_(true);  // a parameter: grad mode stays on
  void *ptr = t.data_ptr();
  init::uniform_(t, -0.3, 0.7);
  CHECK(t.data_ptr() == ptr);
  const Stats u = stats_of(t.detach());
  CHECK(u.min >= -0.3);
  CHECK(u.max <= 0.7);
  CHECK(std::fabs(u.mean - 0.2) < 0.005);
  init::normal_(t, 2.0, 0.5);
  check_normal(t.detach(), 2.0, 0.5);
  init::constant_(t, 3.5);
  CHECK(stats_of(t.detach()).min == 3.5);
  CHECK(stats_of(t.detach()).max == 3.5);
  init::zeros_(t);
  CHECK(t.abs().sum().item() == 0.0);
  init::ones_(t);
  CHECK(t.sum().item() == 100000.0);
  CHECK(t.requires_grad());
  CHECK(t.is_leaf());
  // f64 works; integer tensors are refused by the random initialisers.
  Tensor d = empty({100000}, DType::f64);
  init::normal_(d);
  check_normal(d, 0.0, 1.0);
  Tensor i = zeros({3}, DType::i64);
  CHECK_THROWS_AS(init::uniform_(i), Error);
  // Seeded: the same seed gives the same values.
  Tensor a = empty({50}), b = empty({50});
  manual_seed(4);
  init::uniform_(a);
  manual_seed(4);
  init::uniform_(b);
  CHECK(equal(a, b));
}

TEST_CASE("init: xavier and kaiming bounds and standard deviations", "[layers][init]") {
  manual_seed(12);
  Tensor w = empty({300, 500});
  const double fi = 500, fo = 300;
  init::xavier_uniform_(w);
  check_uniform(w, std::sqrt(6.0 / (fi + fo)));
  init::xavier_uniform_(w, 2.0);
  check_uniform(w, 2.0 * std::sqrt(6.0 / (fi + fo)));
  init::xavier_normal_(w, 1.5);
  check_normal(w, 0.0, 1.5 * std::sqrt(2.0 / (fi + fo)));

  // kaiming_uniform bound = gain * sqrt(3 / fan).
  init::kaiming_uniform_(w, 0.0, "fan_in", "relu");
  check_uniform(w, std::sqrt(2.0) * std::sqrt(3.0 / fi));
  init::kaiming_uniform_(w, 0.0, "fan_out", "relu");
  check_uniform(w, std::sqrt(2.0) * std::sqrt(3.0 / fo));
  init::kaiming_uniform_(w, 0.1);  // leaky_relu, fan_in
  check_uniform(w, std::sqrt(2.0 / 1.01) * std::sqrt(3.0 / fi));
  // kaiming_normal std = gain / sqrt(fan); conv-shaped (torchvision's ResNet init).
  Tensor c = empty({64, 32, 3, 3});
  init::kaiming_normal_(c, 0.0, "fan_out", "relu");
  check_normal(c, 0.0, std::sqrt(2.0) / std::sqrt(64.0 * 9.0));
  init::kaiming_normal_(c);
  check_normal(c, 0.0, std::sqrt(2.0 / 1.0001) / std::sqrt(32.0 * 9.0));
  CHECK_THROWS_WITH(init::kaiming_uniform_(w, 0.0, "fan_avg"), Catch::Contains("fan_avg"));
  Tensor v = empty({10});
  CHECK_THROWS_AS(init::xavier_uniform_(v), Error);
  CHECK_THROWS_AS(init::kaiming_normal_(v), Error);
}

TEST_CASE("Linear's default init has PyTorch's bounds: U(-1/sqrt(in), 1/sqrt(in))", "[layers][init]") {
  manual_seed(13);
  Linear lin(400, 300);
  check_uniform(lin.weight.detach(), 1.0 / std::sqrt(400.0));
  // 300 bias values: all inside the bound, spread over it.
  const Stats b = stats_of(lin.bias.detach());
  CHECK(b.min >= -0.05);
  CHECK(b.max <= 0.05);
  CHECK(b.max > 0.04);
  CHECK(b.min < -0.04);
  CHECK(lin.weight.requires_grad());
  CHECK(lin.bias.requires_grad());
  // Seeded construction is reproducible.
  manual_seed(21);
  Linear a(7, 5);
  manual_seed(21);
  Linear c(7, 5);
  CHECK(equal(a.weight, c.weight));
  CHECK(equal(a.bias, c.bias));
}
