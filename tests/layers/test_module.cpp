// Module system: registration rules, traversal order, state_dict key names (equal to PyTorch's for the same nesting),
// strict / non-strict loading, in-place dtype moves that keep handles valid, modes, freezing, apply, zero_grad,
// parameter counts and PyTorch-style printing.
#include <string>
#include <vector>

#include "layers/parity_net.h"
#include "test_util.h"

using namespace galen;
using namespace galen::nn;

namespace {

using Net = galen::test::ParityNet;

// A module with a buffer and a parameter of its own, for buffer handling.
struct WithBuffer : Module {
  Tensor scale = register_parameter("scale", ones({3}));
  Tensor count = register_buffer("count", zeros({}, DType::i64));
  Tensor running = register_buffer("running", zeros({3}));
  std::string name() const override { return "WithBuffer"; }
};

std::vector<std::string> keys_of(const StateDict &d) {
  std::vector<std::string> k;
  for (const auto &[key, t] : d) k.push_back(key);
  return k;
}

std::string error_of(const std::function<void()> &f) {
  try {
    f();
  } catch (const Error &e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("state_dict keys of a nested module equal PyTorch's names", "[layers][module]") {
  Net net;
  const std::vector<std::string> expected = {
      "blocks.0.bias",     "blocks.0.weight", "blocks.1.bias",     "blocks.1.weight", "features.0.bias",
      "features.0.weight", "features.2.bias", "features.2.weight", "head.bias",       "head.weight"};
  CHECK(keys_of(net.state_dict()) == expected);
  // named_parameters: depth-first, registration order (PyTorch's order).
  std::vector<std::string> names;
  for (const auto &[k, t] : net.named_parameters()) names.push_back(k);
  CHECK(names == std::vector<std::string>{"features.0.weight", "features.0.bias", "features.2.weight",
                                          "features.2.bias", "blocks.0.weight", "blocks.0.bias", "blocks.1.weight",
                                          "blocks.1.bias", "head.weight", "head.bias"});
  // Non-recursive: only the module's own.
  CHECK(net.named_parameters(false).empty());
  CHECK(net.head->named_parameters(false).size() == 2);
}

TEST_CASE("named_modules is pre-order with '' for the root; named_children in order", "[layers][module]") {
  auto net = std::make_shared<Net>();
  std::vector<std::string> names;
  for (const auto &[k, m] : net->named_modules()) names.push_back(k + ":" + m->name());
  CHECK(names == std::vector<std::string>{":Net", "features:Sequential", "features.0:Linear", "features.1:ReLU",
                                          "features.2:LayerNorm", "features.3:Dropout", "blocks:ModuleList",
                                          "blocks.0:Linear", "blocks.1:Linear", "head:Linear"});
  CHECK(names.size() == 10);
  // A root that is not owned by a shared_ptr works too.
  Net local;
  CHECK(local.named_modules().size() == 10);
  CHECK(local.named_modules()[0].second.get() == &local);
  std::vector<std::string> ch;
  for (const auto &[k, m] : net->named_children()) ch.push_back(k);
  CHECK(ch == std::vector<std::string>{"features", "blocks", "head"});
  CHECK(net->child("head") == net->head);
  CHECK_THROWS_WITH(net->child("tail"), Catch::Contains("tail"));
}

TEST_CASE(
    "registration: names are dot-free and unique across parameters, "
    "buffers and children",
    "[layers][module]") {
  Module m;
  m.register_parameter("w", zeros({2}));
  CHECK_THROWS_WITH(m.register_parameter("a.b", zeros({2})), Catch::Contains("'.'"));
  CHECK_THROWS_WITH(m.register_parameter("", zeros({2})), Catch::Contains("empty"));
  CHECK_THROWS_WITH(m.register_buffer("w", zeros({2})), Catch::Contains("already used"));
  CHECK_THROWS_WITH(m.register_module("w", std::make_shared<ReLU>()), Catch::Contains("already used"));
  m.register_module("r", std::make_shared<ReLU>());
  CHECK_THROWS_WITH(m.register_parameter("r", zeros({2})), Catch::Contains("already used"));
  CHECK_THROWS_AS(m.register_parameter("undefined", Tensor()), Error);
  // The returned reference stays valid as more are registered.
  Tensor &first = m.register_parameter("p0", ones({1}));
  for (int i = 1; i < 100; ++i) m.register_parameter("p" + std::to_string(i), ones({1}));
  CHECK(first.is_same(m.find_tensor("p0")));
  // A parameter is a leaf requiring grad (history is cut); requires_grad=false is honoured.
  Tensor a = ones({2}).requires_grad_(true);
  Tensor &q = m.register_parameter("q", a * 2.0);
  CHECK(q.is_leaf());
  CHECK(q.requires_grad());
  CHECK_FALSE(m.register_parameter("frozen", ones({2}), false).requires_grad());
  // The default forward names the module.
  CHECK_THROWS_WITH(m.forward(ones({1})), Catch::Contains("Module"));
}

TEST_CASE(
    "buffers: in state_dict, not in parameters; integer buffers keep "
    "their dtype",
    "[layers][module]") {
  WithBuffer m;
  CHECK(keys_of(m.state_dict()) == std::vector<std::string>{"count", "running", "scale"});
  CHECK(m.parameters().size() == 1);
  CHECK(m.buffers().size() == 2);
  CHECK_FALSE(m.count.requires_grad());
  m.to(DType::f64);
  CHECK(m.count.dtype() == DType::i64);
  CHECK(m.running.dtype() == DType::f64);
  CHECK(m.scale.dtype() == DType::f64);
}

TEST_CASE("state_dict shares storage; load_state_dict copies values in place", "[layers][module]") {
  Net net;
  StateDict sd = net.state_dict();
  CHECK_FALSE(sd.at("head.weight").requires_grad());
  CHECK(sd.at("head.weight").data_ptr() == net.head->weight.data_ptr());

  Net other;
  Tensor handle = other.head->weight;
  void *before = handle.data_ptr();
  auto res = other.load_state_dict(sd);
  CHECK(res.missing.empty());
  CHECK(res.unexpected.empty());
  CHECK(handle.data_ptr() == before);  // copied into, not replaced
  CHECK(equal(other.head->weight, net.head->weight));
  CHECK(other.head->weight.requires_grad());
  Tensor x = randn({2, 6});
  net.eval();
  other.eval();
  CHECK(equal(net.forward(x), other.forward(x)));
  // Dtype is cast on load.
  StateDict sd64;
  for (const auto &[k, t] : sd) sd64[k] = t.to(DType::f64);
  Net third;
  third.load_state_dict(sd64);
  CHECK(third.head->weight.dtype() == DType::f32);
  CHECK(allclose(third.head->weight, net.head->weight));
}

TEST_CASE(
    "strict load_state_dict lists every missing, unexpected and "
    "wrong-shape key in one Error",
    "[layers][module]") {
  Net net;
  StateDict sd = net.state_dict();
  sd.erase("head.bias");
  sd.erase("features.2.weight");
  sd["head.extra"] = zeros({3});
  sd["features.9.weight"] = zeros({3});
  sd["blocks.1.weight"] = zeros({5, 8});
  sd["features.0.bias"] = zeros({8, 1});
  Tensor keep = net.blocks->operator[](0)->find_tensor("weight").clone();
  const std::string msg = error_of([&] { net.load_state_dict(sd); });
  INFO(msg);
  REQUIRE_FALSE(msg.empty());
  CHECK_THAT(msg, Catch::Contains("Net"));
  for (const char *k :
       {"\"head.bias\"", "\"features.2.weight\"", "\"head.extra\"", "\"features.9.weight\"", "\"blocks.1.weight\"",
        "\"features.0.bias\"", "missing", "unexpected", "[5, 8]", "[4, 8]", "[8, 1]"})
    CHECK_THAT(msg, Catch::Contains(k));
  // Nothing was copied by the failed load.
  CHECK(equal(net.blocks->operator[](0)->find_tensor("weight"), keep));
}

TEST_CASE(
    "non-strict load_state_dict reports missing / unexpected keys and "
    "loads the rest",
    "[layers][module]") {
  Net src, dst;
  StateDict sd = src.state_dict();
  sd.erase("head.bias");
  sd["extra"] = zeros({1});
  auto res = dst.load_state_dict(sd, /*strict=*/false);
  CHECK(res.missing == std::vector<std::string>{"head.bias"});
  CHECK(res.unexpected == std::vector<std::string>{"extra"});
  CHECK(equal(dst.head->weight, src.head->weight));
  CHECK_FALSE(equal(dst.head->bias, src.head->bias));
  // Wrong shapes are refused even when not strict.
  sd["head.weight"] = zeros({2, 2});
  CHECK_THROWS_WITH(dst.load_state_dict(sd, false), Catch::Contains("head.weight"));
}

TEST_CASE(
    "to(dtype) repoints the impl behind each handle: optimizer-held "
    "handles stay valid",
    "[layers][module]") {
  Net net;
  std::vector<Tensor> held = net.parameters();  // as an optimizer would hold them
  Tensor w = net.head->weight;
  const std::vector<float> before = w.to_vector<float>();
  // Give it a gradient first: to() drops it.
  net.eval();
  net.forward(randn({2, 6})).sum().backward();
  REQUIRE(w.grad().defined());
  net.to(DType::f64);
  CHECK(w.dtype() == DType::f64);
  CHECK(w.is_same(net.head->weight));
  CHECK(w.requires_grad());
  CHECK(w.is_leaf());
  CHECK_FALSE(w.grad().defined());
  for (const Tensor &p : held) CHECK(p.dtype() == DType::f64);
  const std::vector<double> after = w.to_vector<double>();
  for (size_t i = 0; i < before.size(); ++i) CHECK(after[i] == static_cast<double>(before[i]));
  // The moved module trains: gradients land on the held handles.
  Tensor y = net.forward(randn({2, 6}, DType::f64));
  CHECK(y.dtype() == DType::f64);
  y.sum().backward();
  for (const Tensor &p : held) {
    REQUIRE(p.grad().defined());
    CHECK(p.grad().dtype() == DType::f64);
  }
  // Same device: a no-op that keeps data.
  void *ptr = w.data_ptr();
  net.to(Device{DeviceType::CPU});
  CHECK(w.data_ptr() == ptr);
  CHECK_THROWS_AS(net.to(DType::i64), Error);
}

TEST_CASE("to(Device::CUDA) moves parameters in place", "[layers][module][cuda]") {
  GALEN_REQUIRE_CUDA();
  Net net;
  Tensor w = net.head->weight;
  const Tensor host = w.detach().clone();
  net.to(Device{DeviceType::CUDA});
  CHECK(w.device().is_cuda());
  CHECK(equal(w.cpu(), host));
  net.eval();
  Tensor y = net.forward(randn({2, 6}).cuda());
  CHECK(y.device().is_cuda());
  y.sum().backward();
  CHECK(w.grad().device().is_cuda());
  net.to(Device{DeviceType::CPU});
  CHECK(w.device().is_cpu());
}

TEST_CASE("train / eval recurse; Dropout follows the mode", "[layers][module]") {
  Net net;
  for (const auto &[k, m] : net.named_modules()) CHECK(m->is_training());
  net.eval();
  for (const auto &[k, m] : net.named_modules()) CHECK_FALSE(m->is_training());
  Tensor x = randn({4, 6});
  CHECK(equal(net.forward(x), net.forward(x)));  // dropout off: deterministic
  net.train();
  for (const auto &[k, m] : net.named_modules()) CHECK(m->is_training());
}

TEST_CASE("requires_grad_(false) freezes; zero_grad drops gradients", "[layers][module]") {
  Net net;
  net.eval();
  net.features->requires_grad_(false);
  net.forward(randn({3, 6})).sum().backward();
  for (const auto &[k, p] : net.named_parameters()) {
    INFO(k);
    if (k.rfind("features.", 0) == 0) {
      CHECK_FALSE(p.requires_grad());
      CHECK_FALSE(p.grad().defined());
    } else {
      CHECK(p.grad().defined());
    }
  }
  net.zero_grad();
  for (const Tensor &p : net.parameters()) CHECK_FALSE(p.grad().defined());
  net.requires_grad_(true);
  for (const Tensor &p : net.parameters()) CHECK(p.requires_grad());
}

TEST_CASE("apply visits children before parents; num_parameters", "[layers][module]") {
  Net net;
  std::vector<std::string> order;
  net.apply([&](Module &m) { order.push_back(m.name()); });
  CHECK(order == std::vector<std::string>{"Linear", "ReLU", "LayerNorm", "Dropout", "Sequential", "Linear", "Linear",
                                          "ModuleList", "Linear", "Net"});
  // Re-initialise every Linear's bias through apply.
  net.apply([](Module &m) {
    if (auto *l = dynamic_cast<Linear *>(&m)) init::zeros_(l->bias);
  });
  CHECK(net.head->bias.abs().sum().item() == 0.0);
  // 6*8+8 + 8+8 + 8*8+8 + 8*4+4 + 4*3+3
  CHECK(net.num_parameters() == 56 + 16 + 72 + 36 + 15);
  // The MNIST MLP: Flatten -> Linear(784,128) -> ReLU -> Linear(128,10).
  Sequential mlp(Sequential::List{std::make_shared<Flatten>(), std::make_shared<Linear>(784, 128),
                                  std::make_shared<ReLU>(), std::make_shared<Linear>(128, 10)});
  CHECK(mlp.num_parameters() == 101770);
  CHECK(mlp.forward(rand({2, 1, 28, 28})).sizes() == Shape{2, 10});
}

TEST_CASE(
    "a tensor shared by two modules: once in parameters(), under both "
    "keys in state_dict",
    "[layers][module]") {
  Module m;
  auto a = m.register_module("a", std::make_shared<Linear>(3, 3));
  auto b = m.register_module("b", std::make_shared<Module>());
  b->register_parameter("tied", a->weight);
  CHECK(m.parameters().size() == 2);  // a.weight (= b.tied), a.bias
  CHECK(m.num_parameters() == 12);
  CHECK(keys_of(m.state_dict()) == std::vector<std::string>{"a.bias", "a.weight", "b.tied"});
  // A module shared twice is visited once.
  Module n;
  auto l = std::make_shared<Linear>(2, 2);
  n.register_module("x", l);
  n.register_module("y", l);
  CHECK(n.named_modules().size() == 2);
  CHECK(n.parameters().size() == 2);
}

TEST_CASE("find_tensor, replace_module, Sequential / ModuleList indexing", "[layers][module]") {
  Net net;
  CHECK(net.find_tensor("features.0.weight").is_same(std::dynamic_pointer_cast<Linear>((*net.features)[0])->weight));
  CHECK(net.find_tensor("head.bias").sizes() == Shape{3});
  CHECK_THROWS_WITH(net.find_tensor("features.7.weight"), Catch::Contains("features.7.weight"));
  CHECK_THROWS_WITH(net.find_tensor("head.gamma"), Catch::Contains("head.gamma"));
  CHECK_THROWS_AS((*net.features)[4], Error);
  CHECK_THROWS_AS((*net.blocks)[2], Error);
  // Replacing a Sequential's member changes what forward runs.
  Sequential seq(Sequential::List{std::make_shared<ReLU>(), std::make_shared<Identity>()});
  Tensor x = tensor<float>({-1.0f, 2.0f});
  CHECK(seq.forward(x).to_vector<float>() == std::vector<float>{0.0f, 2.0f});
  seq.replace_module("0", std::make_shared<Identity>());
  CHECK(seq.forward(x).to_vector<float>() == std::vector<float>{-1.0f, 2.0f});
  CHECK(seq[0]->name() == "Identity");
  CHECK_THROWS_AS(seq.replace_module("5", std::make_shared<Identity>()), Error);
  ModuleList ml(std::vector<std::shared_ptr<Module>>{std::make_shared<ReLU>()});
  ml.replace_module("0", std::make_shared<Tanh>());
  CHECK((*ml.begin())->name() == "Tanh");
  CHECK(ml[0]->name() == "Tanh");
  CHECK_THROWS_WITH(ml.forward(x), Catch::Contains("ModuleList"));
}

TEST_CASE("repr prints the tree like PyTorch", "[layers][module]") {
  Net net;
  const std::string expected =
      "Net(\n"
      "  (features): Sequential(\n"
      "    (0): Linear(in_features=6, out_features=8, bias=True)\n"
      "    (1): ReLU()\n"
      "    (2): LayerNorm((8,), eps=1e-05, elementwise_affine=True)\n"
      "    (3): Dropout(p=0.5, inplace=False)\n"
      "  )\n"
      "  (blocks): ModuleList(\n"
      "    (0): Linear(in_features=8, out_features=8, bias=True)\n"
      "    (1): Linear(in_features=8, out_features=4, bias=True)\n"
      "  )\n"
      "  (head): Linear(in_features=4, out_features=3, bias=True)\n"
      ")";
  CHECK(net.repr() == expected);
  CHECK(Linear(3, 2, false).repr() == "Linear(in_features=3, out_features=2, bias=False)");
  CHECK(LeakyReLU().repr() == "LeakyReLU(negative_slope=0.01)");
  CHECK(ELU().repr() == "ELU(alpha=1.0)");
  CHECK(GELU().repr() == "GELU(approximate='none')");
  CHECK(Softmax(1).repr() == "Softmax(dim=1)");
  CHECK(LogSoftmax(-1).repr() == "LogSoftmax(dim=-1)");
  CHECK(Flatten().repr() == "Flatten(start_dim=1, end_dim=-1)");
  CHECK(Embedding(10, 3).repr() == "Embedding(10, 3)");
  CHECK(LayerNorm(Shape{3, 4}, 1e-3, false).repr() == "LayerNorm((3, 4), eps=0.001, elementwise_affine=False)");
  CHECK(Sequential().repr() == "Sequential()");
  CHECK(Identity().repr() == "Identity()");
}

TEST_CASE("py_float formats like Python's repr", "[layers][module]") {
  CHECK(py_float(0.01) == "0.01");
  CHECK(py_float(1.0) == "1.0");
  CHECK(py_float(1e-5) == "1e-05");
  CHECK(py_float(0.0001) == "0.0001");
  CHECK(py_float(0.5) == "0.5");
  CHECK(py_float(-2.5) == "-2.5");
  CHECK(py_float(0.1) == "0.1");
  CHECK(py_float(100.0) == "100.0");
  CHECK(py_float(1e16) == "1e+16");
  CHECK(py_float(123456.789) == "123456.789");
  CHECK(py_float(0.0) == "0.0");
}
