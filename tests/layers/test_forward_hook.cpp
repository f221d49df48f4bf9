// Module forward hooks: run after forward through operator() (and inside
// Sequential), in registration order, removable (also from inside a hook),
// and not run by a direct forward() call.
#include "test_util.h"

using namespace galen;

TEST_CASE("forward hooks see input and output, in order, and can be removed", "[layers][module]") {
  manual_seed(3);
  auto fc = std::make_shared<nn::Linear>(4, 3);
  auto relu = std::make_shared<nn::ReLU>();
  nn::Sequential seq({fc, relu});
  Tensor x = randn({2, 4});

  std::vector<std::string> log;
  Tensor seen_in, seen_out;
  const int h1 = fc->register_forward_hook([&](nn::Module& m, const Tensor& in, const Tensor& out) {
    log.push_back("fc:" + m.name());
    seen_in = in;
    seen_out = out;
  });
  const int h2 = fc->register_forward_hook([&](nn::Module&, const Tensor&, const Tensor&) { log.push_back("fc2"); });
  Tensor relu_in;
  relu->register_forward_hook([&](nn::Module&, const Tensor& in, const Tensor&) {
    log.push_back("relu");
    relu_in = in;
  });

  Tensor y = seq(x);
  REQUIRE(log == std::vector<std::string>{"fc:Linear", "fc2", "relu"});
  REQUIRE(relu_in.is_same(seen_out));  // the Sequential hands fc's output on
  REQUIRE(seen_in.is_same(x));
  REQUIRE(equal(seen_out, fc->forward(x)));
  REQUIRE(equal(y, relu->forward(seen_out)));

  // A direct forward() call bypasses hooks.
  log.clear();
  fc->forward(x);
  REQUIRE(log.empty());
  (*fc)(x);
  REQUIRE(log == std::vector<std::string>{"fc:Linear", "fc2"});

  fc->remove_forward_hook(h1);
  fc->remove_forward_hook(12345);  // unknown: ignored
  log.clear();
  seq.forward(x);  // Sequential::forward itself calls children through operator()
  REQUIRE(log == std::vector<std::string>{"fc2", "relu"});
  fc->remove_forward_hook(h2);

  // A hook that removes itself runs once.
  int calls = 0, self = -1;
  self = fc->register_forward_hook([&](nn::Module& m, const Tensor&, const Tensor&) {
    ++calls;
    m.remove_forward_hook(self);
  });
  (*fc)(x);
  (*fc)(x);
  REQUIRE(calls == 1);
  REQUIRE_THROWS_AS(fc->register_forward_hook(nullptr), Error);
}
