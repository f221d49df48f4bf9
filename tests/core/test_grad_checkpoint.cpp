// Gradient checkpointing (core/checkpoint.h): gradients equal the plain
// function's (f64 gradcheck, PyTorch parity, bit-equal to no checkpoint),
// captured parameters receive their gradients, the RNG is replayed, and
// BatchNorm's running statistics are updated once, not again on the re-run.
#include <string>
#include <vector>

#include "test_util.h"

using namespace galen;

GALEN_COVERS_GRADCHECK(checkpoint);
GALEN_COVERS_PARITY(checkpoint);

namespace {

Tensor leaf(Tensor t) { return t.requires_grad_(true); }

const SafetensorsFile& fixture() {
  static const SafetensorsFile f =
      load_safetensors(std::string(GALEN_FIXTURES_DIR) + "/vision/checkpoint_parity.safetensors");
  return f;
}

}  // namespace

TEST_CASE("checkpoint: f64 gradcheck through a checkpointed conv / tanh / product", "[grad_checkpoint]") {
  manual_seed(3);
  Tensor x = leaf(randn({2, 3, 5, 4}, DType::f64));
  Tensor w = leaf(randn({2, 3, 3, 3}, DType::f64) * 0.3);
  Tensor b = randn({2}, DType::f64) * 0.1;  // captured, not differentiated here
  auto fn = [b](const std::vector<Tensor>& in) {
    return tanh(conv2d(in[0], in[1], b, 1, 1)) * mean(in[0]);
  };
  auto r = gradcheck([&](const std::vector<Tensor>& in) { return autograd::checkpoint(fn, in); }, {x, w}, 1e-6,
                     1e-7, 1e-6);
  INFO(r.message);
  CHECK(r.ok);
}

TEST_CASE("checkpoint: PyTorch parity (torch.utils.checkpoint), captured parameter included", "[grad_checkpoint]") {
  const auto& f = fixture().tensors;
  Tensor x = leaf(f.at("x").clone()), w = leaf(f.at("w").clone()), b = leaf(f.at("b").clone());
  Tensor out = autograd::checkpoint(
      [b](const std::vector<Tensor>& in) { return tanh(conv2d(in[0], in[1], b, 1, 1)) * mean(in[0]); }, {x, w});
  REQUIRE(out.grad_fn() != nullptr);
  CHECK(out.grad_fn()->name() == "checkpoint");
  REQUIRE_CLOSE(out, f.at("out"), 1e-12, 1e-10);
  sum(out * f.at("r")).backward();
  REQUIRE_CLOSE(x.grad(), f.at("gx"), 1e-12, 1e-10);
  REQUIRE_CLOSE(w.grad(), f.at("gw"), 1e-12, 1e-10);
  REQUIRE_CLOSE(b.grad(), f.at("gb"), 1e-12, 1e-10);
}

TEST_CASE("checkpoint: gradients equal the plain function's, dropout mask replayed", "[grad_checkpoint]") {
  auto run = [](bool ckpt, Tensor& gx, Tensor& gw, GeneratorState& after) {
    manual_seed(11);
    Tensor x = leaf(randn({3, 4}, DType::f64));
    Tensor w = leaf(randn({4, 5}, DType::f64));
    auto fn = [w](const std::vector<Tensor>& in) { return dropout(relu(matmul(in[0], w)), 0.5, true); };
    Tensor y = ckpt ? autograd::checkpoint(fn, {x}) : fn({x});
    sum(y * y).backward();
    gx = x.grad();
    gw = w.grad();
    after = get_rng_state();
  };
  Tensor gx0, gw0, gx1, gw1;
  GeneratorState s0, s1;
  run(false, gx0, gw0, s0);
  run(true, gx1, gw1, s1);
  CHECK(equal(gx0, gx1));
  CHECK(equal(gw0, gw1));
  // The re-run in backward restores the generator: no extra numbers are consumed.
  CHECK(s0.offset == s1.offset);
  CHECK(s0.seed == s1.seed);
}

TEST_CASE("checkpoint: BatchNorm running statistics are updated once", "[grad_checkpoint]") {
  auto run = [](bool ckpt) {
    manual_seed(5);
    auto bn = std::make_shared<nn::BatchNorm2d>(3);
    bn->to(DType::f64);
    bn->train();
    Tensor x = leaf(randn({4, 3, 2, 2}, DType::f64));
    auto fn = [bn](const std::vector<Tensor>& in) { return relu(bn->forward(in[0])); };
    Tensor y = ckpt ? autograd::checkpoint(fn, {x}) : fn({x});
    sum(y * y).backward();
    return std::vector<Tensor>{bn->running_mean.clone(), bn->running_var.clone(), bn->num_batches_tracked.clone(),
                               x.grad(), bn->weight.grad(), bn->bias.grad()};
  };
  auto plain = run(false), ck = run(true);
  CHECK(ck[2].item<int64_t>() == 1);
  for (size_t i = 0; i < plain.size(); ++i) {
    INFO("tensor " << i);
    CHECK(equal(plain[i], ck[i]));
  }
}

TEST_CASE("checkpoint: no grad needed -> plain call; bad arguments -> Error", "[grad_checkpoint]") {
  Tensor x = randn({2, 2});
  auto fn = [](const std::vector<Tensor>& in) { return in[0] * 2.0; };
  Tensor y = autograd::checkpoint(fn, {x});
  CHECK_FALSE(y.requires_grad());
  CHECK(equal(y, x * 2.0));
  {
    NoGradGuard ng;
    Tensor z = autograd::checkpoint(fn, {leaf(randn({2}))});
    CHECK(z.grad_fn() == nullptr);
  }
  CHECK_THROWS_WITH(autograd::checkpoint(autograd::CheckpointFn(), {x}), Catch::Contains("function is empty"));
  CHECK_THROWS_WITH(autograd::checkpoint(fn, {Tensor()}), Catch::Contains("input 0 is undefined"));
  // A function that changes its output shape on the re-run is reported in backward.
  int calls = 0;
  auto unstable = [&calls](const std::vector<Tensor>& in) { return ++calls == 1 ? in[0] * 2.0 : in[0].sum(); };
  Tensor l = leaf(randn({3}));
  Tensor out = autograd::checkpoint(unstable, {l});
  CHECK_THROWS_WITH(sum(out).backward(), Catch::Contains("deterministic"));
  CHECK_FALSE(autograd::is_checkpoint_recomputing());
}
