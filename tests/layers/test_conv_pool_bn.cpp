// Conv2d, pooling layers and BatchNorm1d/2d: parameter / buffer names and
// shapes as PyTorch's, default initialisation bounds, forward equal to the ops,
// running-statistics rules (momentum, cumulative average, no tracking), train /
// eval switching, and errors. The ops' numerics are tested against PyTorch in
// tests/kernels/test_kernels_nn.cpp.
#include <cmath>
#include <string>
#include <vector>

#include "test_util.h"

#include "galen/layers/batchnorm.h"
#include "galen/layers/conv.h"
#include "galen/layers/pooling.h"

using namespace galen;
using namespace galen::nn;

namespace {
std::vector<std::string> keys(const Module& m) {
  std::vector<std::string> k;
  for (const auto& [name, t] : m.state_dict()) k.push_back(name);
  return k;
}
}  // namespace

TEST_CASE("Conv2d: parameters, init bounds, forward", "[layers]") {
  manual_seed(5);
  Conv2d conv(4, 6, 3, 1, 1);
  REQUIRE(conv.weight.sizes() == Shape{6, 4, 3, 3});
  REQUIRE(conv.bias.sizes() == Shape{6});
  REQUIRE(keys(conv) == std::vector<std::string>{"bias", "weight"});
  REQUIRE(conv.num_parameters() == 6 * 4 * 9 + 6);
  const double bound = 1.0 / std::sqrt(4.0 * 9.0);
  REQUIRE(max(abs(conv.weight)).item() <= bound + 1e-7);
  REQUIRE(max(abs(conv.bias)).item() <= bound + 1e-7);
  // Not degenerate: uses most of the range.
  REQUIRE(max(abs(conv.weight)).item() > 0.8 * bound);
  Tensor x = randn({2, 4, 7, 5});
  Tensor y = conv.forward(x);
  REQUIRE(y.sizes() == Shape{2, 6, 7, 5});
  REQUIRE_CLOSE(y, conv2d(x, conv.weight, conv.bias, 1, 1), 0, 0);
  // Gradients reach the parameters.
  sum(y).backward();
  REQUIRE(conv.weight.grad().defined());
  REQUIRE(conv.bias.grad().defined());
  REQUIRE_CLOSE(conv.bias.grad(), full({6}, 2.0 * 7 * 5), 1e-4, 1e-5);
}

TEST_CASE("Conv2d: groups, depthwise, no bias, same padding, stride", "[layers]") {
  Conv2d dw(8, 8, 3, 1, "same", 1, 8, false);
  REQUIRE(dw.weight.sizes() == Shape{8, 1, 3, 3});
  REQUIRE_FALSE(dw.bias.defined());
  REQUIRE(keys(dw) == std::vector<std::string>{"weight"});
  REQUIRE(dw.forward(randn({1, 8, 6, 9})).sizes() == Shape{1, 8, 6, 9});
  Conv2d even(2, 3, {2, 4}, 1, "same");
  REQUIRE(even.forward(randn({2, 5, 6})).sizes() == Shape{3, 5, 6});  // unbatched
  Conv2d strided(3, 4, {3, 5}, {2, 3}, {1, 2}, {1, 2});
  REQUIRE(strided.forward(randn({1, 3, 9, 14})).sizes() == Shape{1, 4, 5, 4});
  Conv2d grouped(6, 4, 1, 1, 0, 1, 2);
  REQUIRE(grouped.weight.sizes() == Shape{4, 3, 1, 1});
  const double bound = 1.0 / std::sqrt(3.0);
  REQUIRE(max(abs(grouped.weight)).item() <= bound + 1e-7);
}

TEST_CASE("Conv2d: bad arguments", "[layers]") {
  REQUIRE_THROWS_AS(Conv2d(5, 4, 3, 1, 0, 1, 2), Error);   // in % groups
  REQUIRE_THROWS_AS(Conv2d(4, 5, 3, 1, 0, 1, 2), Error);   // out % groups
  REQUIRE_THROWS_AS(Conv2d(4, 4, 3, 2, "same"), Error);    // same needs stride 1
  REQUIRE_THROWS_AS(Conv2d(4, 4, 0), Error);
  Conv2d c(3, 2, 3);
  REQUIRE_THROWS_AS(c.forward(randn({1, 4, 5, 5})), Error);  // wrong channels
  REQUIRE_THROWS_AS(c.forward(randn({5, 5})), Error);
}

TEST_CASE("Pooling layers forward the ops", "[layers]") {
  Tensor x = randn({2, 3, 7, 6});
  MaxPool2d mp(3, 2, 1, 1, true);
  REQUIRE_CLOSE(mp.forward(x), max_pool2d(x, 3, 2, 1, 1, true), 0, 0);
  MaxPool2d mp_default(2);  // stride = kernel
  REQUIRE(mp_default.stride.h == 2);
  REQUIRE(mp_default.forward(x).sizes() == Shape{2, 3, 3, 3});
  AvgPool2d ap(3, 2, 1, false, false);
  REQUIRE_CLOSE(ap.forward(x), avg_pool2d(x, 3, 2, 1, false, false), 0, 0);
  REQUIRE(AvgPool2d(2).forward(x).sizes() == Shape{2, 3, 3, 3});
  AdaptiveAvgPool2d gap(1);
  REQUIRE(gap.forward(x).sizes() == Shape{2, 3, 1, 1});
  REQUIRE_CLOSE(gap.forward(x), mean(x, {2, 3}, true), 1e-6, 1e-5);
  REQUIRE(AdaptiveAvgPool2d({3, 4}).forward(x).sizes() == Shape{2, 3, 3, 4});
  REQUIRE(keys(mp).empty());
  REQUIRE_THROWS_AS(MaxPool2d(0), Error);
  REQUIRE_THROWS_AS(AdaptiveAvgPool2d(0), Error);
}

TEST_CASE("BatchNorm2d: names, running statistics, train / eval", "[layers]") {
  BatchNorm2d bn(3);
  REQUIRE(keys(bn) ==
          std::vector<std::string>{"bias", "num_batches_tracked", "running_mean", "running_var", "weight"});
  REQUIRE(bn.num_batches_tracked.dtype() == DType::i64);
  REQUIRE(bn.num_batches_tracked.dim() == 0);
  REQUIRE(bn.parameters().size() == 2);
  REQUIRE_CLOSE(bn.weight, ones({3}), 0, 0);
  REQUIRE_CLOSE(bn.bias, zeros({3}), 0, 0);

  Tensor x1 = add(mul(randn({4, 3, 5, 5}), 2.0), 1.0), x2 = randn({4, 3, 5, 5});
  Tensor y = bn.forward(x1);
  REQUIRE(bn.num_batches_tracked.item() == 1);
  Tensor m1 = mean(x1, {0, 2, 3}), v1 = var(x1, {0, 2, 3}, true);
  REQUIRE_CLOSE(bn.running_mean, mul(m1, 0.1), 1e-5, 1e-5);
  REQUIRE_CLOSE(bn.running_var, add(mul(v1, 0.1), 0.9), 1e-5, 1e-5);
  // training output: zero mean, unit (biased) variance per channel
  REQUIRE_CLOSE(mean(y, {0, 2, 3}), zeros({3}), 1e-5, 0);
  REQUIRE_CLOSE(var(y, {0, 2, 3}, false), ones({3}), 1e-3, 1e-3);
  bn.forward(x2);
  REQUIRE(bn.num_batches_tracked.item() == 2);

  bn.eval();
  Tensor rm = bn.running_mean.clone(), rv = bn.running_var.clone();
  Tensor ye = bn.forward(x2);
  REQUIRE(bn.num_batches_tracked.item() == 2);  // eval leaves the buffers alone
  REQUIRE_CLOSE(bn.running_mean, rm, 0, 0);
  Tensor expect = div(sub(x2, rm.view({1, 3, 1, 1})), sqrt(add(rv, 1e-5)).view({1, 3, 1, 1}));
  REQUIRE_CLOSE(ye, expect, 1e-5, 1e-5);

  REQUIRE_THROWS_AS(bn.forward(randn({4, 3, 5})), Error);     // BatchNorm2d wants 4-D
  REQUIRE_THROWS_AS(bn.forward(randn({4, 2, 5, 5})), Error);  // channels
}

TEST_CASE("BatchNorm: momentum None, no tracking, no affine, BatchNorm1d", "[layers]") {
  BatchNorm1d cum(2, 1e-5, std::nullopt);
  Tensor a = randn({6, 2}), b = add(randn({6, 2}), 3.0);
  cum.forward(a);
  cum.forward(b);
  // cumulative average of the two batch means
  REQUIRE_CLOSE(cum.running_mean, mul(add(mean(a, {0}), mean(b, {0})), 0.5), 1e-5, 1e-5);

  BatchNorm1d free(4, 1e-5, 0.1, false, false);
  REQUIRE(keys(free).empty());
  Tensor x = randn({5, 4, 3});
  free.eval();  // no running stats: batch statistics even in eval
  REQUIRE_CLOSE(free.forward(x), batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), true), 1e-6, 1e-6);
  REQUIRE_THROWS_AS(free.forward(randn({5, 4, 3, 2})), Error);

  BatchNorm1d bn1(3);
  Tensor x3 = randn({8, 3});
  Tensor y = bn1.forward(x3);
  REQUIRE(y.sizes() == Shape{8, 3});
  sum(mul(y, randn({8, 3}))).backward();
  REQUIRE(bn1.weight.grad().defined());
  REQUIRE(bn1.bias.grad().defined());
  REQUIRE_THROWS_AS(bn1.forward(randn({1, 3})), Error);  // one value per channel in training
}
