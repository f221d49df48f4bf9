// Basic layers and their functional ops: PyTorch parity (outputs, input and parameter gradients of sum(out * w), from
// tests/fixtures/layers_parity.safetensors, made by tools/make_layer_fixtures.py), a PyTorch state_dict of a nested
// model loaded strictly, finite-difference gradchecks of the new ops, dropout's semantics (RNGs differ from
// PyTorch's, so the mask is checked by its law: exact inverted scaling, keep rate, reproducibility, eval identity)
// and errors.
#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "galen/core/json.h"
#include "layers/parity_net.h"
#include "test_util.h"

using namespace galen;
using namespace galen::nn;

GALEN_COVERS_GRADCHECK(leaky_relu);
GALEN_COVERS_GRADCHECK(elu);
GALEN_COVERS_GRADCHECK(dropout);
GALEN_COVERS_GRADCHECK(embedding);
GALEN_COVERS_GRADCHECK(layer_norm);
GALEN_COVERS_PARITY(leaky_relu);
GALEN_COVERS_PARITY(elu);
GALEN_COVERS_PARITY(dropout);  // eval identity against PyTorch + the mask's law below
GALEN_COVERS_PARITY(embedding);
GALEN_COVERS_PARITY(layer_norm);

namespace {

const SafetensorsFile &layer_fixture() {
  static const SafetensorsFile f = load_safetensors(std::string(GALEN_FIXTURES_DIR) + "/layers_parity.safetensors");
  return f;
}

const Tensor &fx(const std::string &key) {
  auto it = layer_fixture().tensors.find(key);
  if (it == layer_fixture().tensors.end()) FAIL("fixture tensor missing: " << key);
  return it->second;
}

Shape shape_of(const json::Value &v) {
  Shape s;
  for (const auto &d : v.as_array()) s.push_back(d.as_int());
  return s;
}

std::shared_ptr<Module> build_layer(const json::Value &m) {
  const std::string layer = m.find("layer")->as_string();
  auto num = [&](const char *k) { return m.find(k)->as_double(); };
  auto integer = [&](const char *k) { return m.find(k)->as_int(); };
  if (layer == "Linear")
    return std::make_shared<Linear>(integer("in_features"), integer("out_features"), m.find("bias")->as_bool());
  if (layer == "Identity") return std::make_shared<Identity>();
  if (layer == "Flatten") return std::make_shared<Flatten>(integer("start_dim"), integer("end_dim"));
  if (layer == "ReLU") return std::make_shared<ReLU>();
  if (layer == "LeakyReLU") return std::make_shared<LeakyReLU>(num("negative_slope"));
  if (layer == "ELU") return std::make_shared<ELU>(num("alpha"));
  if (layer == "GELU") return std::make_shared<GELU>();
  if (layer == "Sigmoid") return std::make_shared<Sigmoid>();
  if (layer == "Tanh") return std::make_shared<Tanh>();
  if (layer == "Softmax") return std::make_shared<Softmax>(integer("dim"));
  if (layer == "LogSoftmax") return std::make_shared<LogSoftmax>(integer("dim"));
  if (layer == "Dropout") return std::make_shared<Dropout>(num("p"));
  if (layer == "Embedding") return std::make_shared<Embedding>(integer("num_embeddings"), integer("embedding_dim"));
  if (layer == "LayerNorm")
    return std::make_shared<LayerNorm>(shape_of(*m.find("normalized_shape")), num("eps"),
                                       m.find("elementwise_affine")->as_bool());
  FAIL("unknown layer in fixture: " << layer);
  return nullptr;
}

// Runs one fixture case in `dt` and compares with PyTorch's f64 values.
void replay(const std::string &c, const json::Value &meta, DType dt, double atol, double rtol) {
  auto mod = build_layer(meta);
  mod->to(dt);
  StateDict sd;
  const std::string pp = c + ".p.";
  for (const auto &[k, t] : layer_fixture().tensors)
    if (k.rfind(pp, 0) == 0) sd[k.substr(pp.size())] = t;
  mod->load_state_dict(sd);  // strict: keys must equal PyTorch's
  mod->train(meta.find("mode")->as_string() == "train");
  Tensor x = fx(c + ".x");
  const bool float_in = is_floating(x.dtype());
  if (float_in) x = x.to(dt).detach().requires_grad_(true);
  Tensor out = mod->forward(x);
  REQUIRE(out.dtype() == dt);
  REQUIRE_CLOSE(out, fx(c + ".out"), atol, rtol);
  (out * fx(c + ".w").to(dt)).sum().backward();
  if (float_in) {
    REQUIRE(x.grad().defined());
    REQUIRE_CLOSE(x.grad(), fx(c + ".gx"), atol, rtol);
  }
  for (const auto &[name, p] : mod->named_parameters()) {
    INFO("parameter " << name);
    REQUIRE(p.grad().defined());
    REQUIRE_CLOSE(p.grad(), fx(c + ".g." + name), atol, rtol);
  }
}

using ParityNet = galen::test::ParityNet;

using Args = std::vector<Tensor>;

Tensor leaf_f64(const Shape &s, uint64_t seed, double lo = -1.0, double hi = 1.0, double margin = 0.0) {
  std::mt19937_64 g(seed);
  std::uniform_real_distribution<double> d(lo, hi);
  int64_t n = 1;
  for (int64_t v : s) n *= v;
  std::vector<double> v(static_cast<size_t>(n));
  for (double &e : v) {
    e = d(g);
    if (margin > 0 && std::fabs(e) < margin) e = e < 0 ? e - margin : e + margin;
  }
  return from_vector<double>(v, s, DType::f64).requires_grad_(true);
}

void require_gradcheck(const std::function<Tensor(const Args &)> &f, const Args &in) {
  auto r = gradcheck(f, in);
  INFO(r.message);
  REQUIRE(r.ok);
}

}  // namespace

TEST_CASE(
    "layers match PyTorch: outputs, input and parameter gradients (f64 "
    "and f32)",
    "[layers][parity]") {
  int n = 0;
  for (const auto &[c, text] : layer_fixture().metadata) {
    if (c.rfind("__", 0) == 0) continue;
    const json::Value meta = json::parse(text);
    SECTION(c) {
      INFO("case " << c);
      {
        INFO("f64");
        replay(c, meta, DType::f64, 1e-10, 1e-8);
      }
      {
        INFO("f32");
        replay(c, meta, DType::f32, 2e-5, 2e-4);
      }
    }
    ++n;
  }
  CHECK(n >= 20);
}

TEST_CASE(
    "a PyTorch state_dict of a nested model loads strictly and gives "
    "PyTorch's output",
    "[layers][parity]") {
  ParityNet net;
  const json::Value info = json::parse(layer_fixture().metadata.at("__nested__"));
  // Key names: galen's state_dict has exactly PyTorch's keys.
  std::vector<std::string> torch_keys, ours;
  for (const auto &k : info.find("keys")->as_array()) torch_keys.push_back(k.as_string());
  std::sort(torch_keys.begin(), torch_keys.end());
  for (const auto &[k, t] : net.state_dict()) ours.push_back(k);
  CHECK(ours == torch_keys);
  // Printing: the same text as PyTorch's repr(net).
  CHECK(net.repr() == info.find("repr")->as_string());

  StateDict sd;
  for (const auto &[k, t] : layer_fixture().tensors)
    if (k.rfind("nested.sd.", 0) == 0) sd[k.substr(10)] = t;
  auto res = net.load_state_dict(sd, true);
  CHECK(res.missing.empty());
  CHECK(res.unexpected.empty());
  net.eval();
  REQUIRE_CLOSE(net.forward(fx("nested.x")), fx("nested.out"), 1e-5, 1e-5);
  // The state_dict round-trips through galen's own safetensors writer.
  const SafetensorsFile back = parse_safetensors(serialize_safetensors(net.state_dict()));
  ParityNet again;
  again.load_state_dict(back.tensors);
  again.eval();
  CHECK(equal(again.forward(fx("nested.x")), net.forward(fx("nested.x"))));
}

TEST_CASE("gradcheck: leaky_relu, elu, dropout, embedding, layer_norm", "[layers][gradcheck]") {
  SECTION("leaky_relu") {
    require_gradcheck([](const Args &a) { return leaky_relu(a[0], 0.2); }, {leaf_f64({3, 4}, 1, -1, 1, 0.05)});
    require_gradcheck([](const Args &a) { return leaky_relu(a[0]); }, {leaf_f64({5}, 2, -1, 1, 0.05)});
  }
  SECTION("elu") {
    require_gradcheck([](const Args &a) { return elu(a[0], 0.7); }, {leaf_f64({2, 3, 2}, 3, -2, 2, 0.05)});
    require_gradcheck([](const Args &a) { return elu(a[0]); }, {leaf_f64({6}, 4, -2, 2, 0.05)});
  }
  SECTION("dropout (same seed on every evaluation: a fixed mask)") {
    require_gradcheck(
        [](const Args &a) {
          manual_seed(77);
          return dropout(a[0], 0.3, true);
        },
        {leaf_f64({4, 5}, 5)});
  }
  SECTION("embedding (repeated indices accumulate)") {
    const Tensor idx = from_vector<int64_t>({2, 0, 2, 2, 4, 0}, {2, 3}, DType::i64);
    require_gradcheck([idx](const Args &a) { return embedding(a[0], idx); }, {leaf_f64({5, 3}, 6)});
  }
  SECTION("layer_norm with and without affine") {
    require_gradcheck(
        [](const Args &a) {
          return layer_norm(a[0], {3, 4}, a[1], a[2], 1e-5);
        },
        {leaf_f64({2, 3, 4}, 7), leaf_f64({3, 4}, 8), leaf_f64({3, 4}, 9)});
    require_gradcheck([](const Args &a) { return layer_norm(a[0], {5}, Tensor(), Tensor(), 1e-3); },
                      {leaf_f64({4, 5}, 10)});
    // Non-contiguous input.
    require_gradcheck([](const Args &a) { return layer_norm(a[0].transpose(0, 1), {3}, a[1], Tensor(), 1e-5); },
                      {leaf_f64({3, 4}, 11), leaf_f64({3}, 12)});
  }
}

TEST_CASE("dropout: inverted scaling, keep rate, reproducible mask, eval identity", "[layers]") {
  const int64_t n = 200000;
  Tensor x = ones({n}).requires_grad_(true);
  manual_seed(123);
  Tensor y = dropout(x, 0.3, true);
  const auto v = y.to_vector<float>();
  const float kept = static_cast<float>(1.0 / 0.7);
  int64_t zeros_n = 0;
  for (float e : v) {
    if (e == 0.0f)
      ++zeros_n;
    else
      REQUIRE(e == kept);  // exact 1/(1-p) scaling
  }
  const double drop_rate = static_cast<double>(zeros_n) / static_cast<double>(n);
  CHECK(std::fabs(drop_rate - 0.3) < 0.005);  // ~5 sigma
  CHECK(std::fabs(y.mean().item() - 1.0) < 0.01);
  // The gradient is the mask itself.
  y.sum().backward();
  CHECK(equal(x.grad(), y.detach()));
  // Same seed, same mask; another seed, another mask.
  manual_seed(123);
  CHECK(equal(dropout(x.detach(), 0.3, true), y.detach()));
  manual_seed(124);
  CHECK_FALSE(equal(dropout(x.detach(), 0.3, true), y.detach()));
  // Eval and p = 0: the identity (the very same tensor).
  CHECK(dropout(x, 0.3, false).is_same(x));
  CHECK(dropout(x, 0.0, true).is_same(x));
  // p = 1: zeros, with a zero gradient.
  Tensor x2 = randn({3, 4}).requires_grad_(true);
  Tensor z = dropout(x2, 1.0, true);
  CHECK(z.abs().sum().item() == 0.0);
  z.sum().backward();
  CHECK(x2.grad().abs().sum().item() == 0.0);
  CHECK_THROWS_WITH(dropout(x2, 1.5, true), Catch::Contains("dropout"));
  CHECK_THROWS_AS(dropout(from_vector<int64_t>({1, 2}, {2}, DType::i64), 0.5, true), Error);
  // f64 and the module.
  Dropout d(0.5);
  Tensor x3 = ones({1000}, DType::f64);
  Tensor y3 = d.forward(x3);
  for (double e : y3.to_vector<double>()) REQUIRE((e == 0.0 || e == 2.0));
  d.eval();
  CHECK(equal(d.forward(x3), x3));
  CHECK_THROWS_AS(Dropout(-0.1), Error);
}

TEST_CASE("embedding: shapes, accumulated gradients of repeated indices, bad indices", "[layers]") {
  Embedding emb(6, 4);
  CHECK(emb.weight.sizes() == Shape{6, 4});
  const Tensor idx = from_vector<int64_t>({1, 1, 1, 5, 0, 1}, {2, 3}, DType::i64);
  Tensor out = emb.forward(idx);
  CHECK(out.sizes() == Shape{2, 3, 4});
  CHECK(equal(out.select(0, 0).select(0, 1), emb.weight.detach().select(0, 1)));
  out.sum().backward();
  const auto g = emb.weight.grad().to_vector<float>();
  const std::vector<float> counts = {1, 4, 0, 0, 0, 1};
  for (int r = 0; r < 6; ++r)
    for (int c = 0; c < 4; ++c) CHECK(g[static_cast<size_t>(r * 4 + c)] == counts[static_cast<size_t>(r)]);
  // i32 indices and a 0-d index.
  CHECK(emb.forward(from_vector<int32_t>({3, 2}, {2}, DType::i32)).sizes() == Shape{2, 4});
  CHECK(emb.forward(full({}, 2.0, DType::i64)).sizes() == Shape{4});
  CHECK_THROWS_WITH(emb.forward(from_vector<int64_t>({6}, {1}, DType::i64)), Catch::Contains("embedding"));
  CHECK_THROWS_AS(emb.forward(from_vector<int64_t>({-1}, {1}, DType::i64)), Error);
  CHECK_THROWS_WITH(emb.forward(ones({2})), Catch::Contains("embedding"));
  CHECK_THROWS_AS(embedding(ones({3}), from_vector<int64_t>({0}, {1}, DType::i64)), Error);
  // Default init N(0, 1).
  manual_seed(3);
  Embedding big(1000, 100);
  const double m = big.weight.mean().item(), s = galen::std(big.weight.detach()).item();
  CHECK(std::fabs(m) < 0.01);
  CHECK(std::fabs(s - 1.0) < 0.01);
}

TEST_CASE("layer shapes and argument errors", "[layers]") {
  Linear lin(4, 3);
  CHECK(lin.forward(ones({2, 5, 4})).sizes() == Shape{2, 5, 3});
  CHECK(lin.forward(ones({4})).sizes() == Shape{3});
  CHECK_THROWS_WITH(lin.forward(ones({2, 5})), Catch::Contains("Linear(4, 3)"));
  Linear nob(4, 3, false);
  CHECK_FALSE(nob.bias.defined());
  CHECK(nob.parameters().size() == 1);
  CHECK(nob.state_dict().count("bias") == 0);

  LayerNorm ln(Shape{3, 4});
  CHECK(equal(ln.weight, ones({3, 4})));
  CHECK(equal(ln.bias, zeros({3, 4})));
  Tensor y = ln.forward(randn({2, 3, 4}) * 5.0 + 3.0);
  REQUIRE_CLOSE(mean(y, {1, 2}), zeros({2}), 1e-5, 0);
  REQUIRE_CLOSE(var(y, {1, 2}, false), ones({2}), 1e-3, 0);
  CHECK_THROWS_WITH(ln.forward(ones({2, 4, 3})), Catch::Contains("layer_norm"));
  CHECK_THROWS_AS(layer_norm(ones({2, 3}), {3}, ones({2}), Tensor(), 1e-5), Error);
  CHECK_THROWS_AS(LayerNorm(Shape{}), Error);
  LayerNorm plain(5, 1e-5, false);
  CHECK(plain.parameters().empty());

  Flatten f;
  CHECK(f.forward(ones({2, 3, 4, 5})).sizes() == Shape{2, 60});
  CHECK(Flatten(0, 1).forward(ones({2, 3, 4})).sizes() == Shape{6, 4});
  Identity id;
  Tensor x = ones({2});
  CHECK(id.forward(x).is_same(x));
  CHECK(Softmax(-1).forward(ones({2, 4})).sum().item() == Approx(2.0));
  CHECK_THROWS_AS(leaky_relu(from_vector<int64_t>({1}, {1}, DType::i64)), Error);
  CHECK_THROWS_AS(elu(Tensor()), Error);
}

TEST_CASE("layers run on CUDA and match CPU", "[layers][cuda]") {
  GALEN_REQUIRE_CUDA();
  manual_seed(9);
  auto net = std::make_shared<ParityNet>();
  auto ref = std::make_shared<ParityNet>();
  ref->load_state_dict(net->state_dict());
  net->to(Device{DeviceType::CUDA});
  net->eval();
  ref->eval();
  Tensor x = randn({4, 6});
  Tensor yc = net->forward(x.cuda());
  REQUIRE_CLOSE(yc.cpu(), ref->forward(x), 1e-5, 1e-4);
  yc.sum().backward();
  ref->forward(x).sum().backward();
  for (const auto &[k, p] : ref->named_parameters()) {
    INFO(k);
    REQUIRE_CLOSE(net->find_tensor(k).grad().cpu(), p.grad(), 1e-5, 1e-4);
  }
  Embedding emb(5, 3);
  Tensor w = emb.weight.detach().clone();
  emb.to(Device{DeviceType::CUDA});
  Tensor idx = from_vector<int64_t>({4, 0, 4}, {3}, DType::i64);
  REQUIRE_CLOSE(emb.forward(idx.cuda()).cpu(), embedding(w, idx), 0, 0);
  // Dropout masks: the same numbers on both devices for the same RNG state.
  manual_seed(5);
  Tensor dc = dropout(ones({1000}).cuda(), 0.4, true);
  manual_seed(5);
  Tensor dh = dropout(ones({1000}), 0.4, true);
  CHECK(equal(dc.cpu(), dh));
  Tensor xl = randn({3, 5});
  REQUIRE_CLOSE(leaky_relu(xl.cuda(), 0.1).cpu(), leaky_relu(xl, 0.1), 1e-6, 1e-6);
  REQUIRE_CLOSE(elu(xl.cuda(), 0.5).cpu(), elu(xl, 0.5), 1e-6, 1e-6);
}
