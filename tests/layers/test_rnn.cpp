// Recurrent layers and cells: PyTorch parity (outputs, final states, input /
// state / parameter gradients of sum(out*w) + sum(h_n*w) + sum(c_n*w), from
// tests/fixtures/rnn_parity.safetensors made by tools/make_rnn_fixtures.py),
// state_dict names loaded strictly, f64 gradchecks (incl. variable lengths),
// padding invariance, dropout between layers, truncated-BPTT detach, errors.
#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "galen/core/json.h"
#include "test_util.h"

using namespace galen;
using namespace galen::nn;

GALEN_COVERS_GRADCHECK(rnn_tanh);
GALEN_COVERS_GRADCHECK(rnn_relu);
GALEN_COVERS_GRADCHECK(lstm);
GALEN_COVERS_GRADCHECK(gru);
GALEN_COVERS_GRADCHECK(rnn_tanh_cell);
GALEN_COVERS_GRADCHECK(rnn_relu_cell);
GALEN_COVERS_GRADCHECK(lstm_cell);
GALEN_COVERS_GRADCHECK(gru_cell);
GALEN_COVERS_PARITY(rnn_tanh);
GALEN_COVERS_PARITY(rnn_relu);
GALEN_COVERS_PARITY(lstm);
GALEN_COVERS_PARITY(gru);
GALEN_COVERS_PARITY(rnn_tanh_cell);
GALEN_COVERS_PARITY(rnn_relu_cell);
GALEN_COVERS_PARITY(lstm_cell);
GALEN_COVERS_PARITY(gru_cell);

namespace {

const SafetensorsFile& rnn_fixture() {
  static const SafetensorsFile f = load_safetensors(std::string(GALEN_FIXTURES_DIR) + "/rnn_parity.safetensors");
  return f;
}

bool has(const std::string& key) { return rnn_fixture().tensors.count(key) > 0; }
const Tensor& fx(const std::string& key) {
  auto it = rnn_fixture().tensors.find(key);
  if (it == rnn_fixture().tensors.end()) FAIL("fixture tensor missing: " << key);
  return it->second;
}

RnnMode mode_of(const std::string& m) {
  if (m == "lstm") return RnnMode::Lstm;
  if (m == "gru") return RnnMode::Gru;
  if (m == "rnn_relu") return RnnMode::RnnRelu;
  return RnnMode::RnnTanh;
}

std::shared_ptr<Module> build(const json::Value& meta) {
  const std::string kind = meta.find("kind")->as_string(), mode = meta.find("mode")->as_string();
  const int64_t I = meta.find("I")->as_int(), H = meta.find("H")->as_int();
  const bool bias = meta.find("bias")->as_bool();
  if (kind == "cell") {
    if (mode == "lstm") return std::make_shared<LSTMCell>(I, H, bias);
    if (mode == "gru") return std::make_shared<GRUCell>(I, H, bias);
    return std::make_shared<RNNCell>(I, H, bias, mode == "rnn_tanh" ? "tanh" : "relu");
  }
  RnnOptions o;
  o.num_layers = meta.find("layers")->as_int();
  o.bias = bias;
  o.batch_first = meta.find("batch_first")->as_bool();
  o.bidirectional = meta.find("bidirectional")->as_bool();
  o.nonlinearity = mode == "rnn_relu" ? "relu" : "tanh";
  if (mode == "lstm") return std::make_shared<LSTM>(I, H, o);
  if (mode == "gru") return std::make_shared<GRU>(I, H, o);
  return std::make_shared<RNN>(I, H, o);
}

// Forward of any of the modules: {out (cells: undefined), h_n, c_n}.
RnnOutput run(Module& m, const std::string& kind, const std::string& mode, const Tensor& x, const Tensor& h0,
              const Tensor& c0, const Tensor& lengths) {
  if (kind == "cell") {
    RnnOutput r;
    if (mode == "lstm") std::tie(r.h_n, r.c_n) = dynamic_cast<LSTMCell&>(m).forward(x, h0, c0);
    else if (mode == "gru") r.h_n = dynamic_cast<GRUCell&>(m).forward(x, h0);
    else r.h_n = dynamic_cast<RNNCell&>(m).forward(x, h0);
    return r;
  }
  if (mode == "lstm") return dynamic_cast<LSTM&>(m).forward(x, h0, c0, lengths);
  if (mode == "gru") return dynamic_cast<GRU&>(m).forward(x, h0, lengths);
  return dynamic_cast<RNN&>(m).forward(x, h0, lengths);
}

// Replays one fixture case in dtype dt on device dev and compares with PyTorch's f64 values.
void replay(const std::string& c, const json::Value& meta, DType dt, Device dev, double atol, double rtol) {
  INFO("case " << c << " dtype " << dtype_name(dt) << " on " << dev.str());
  const std::string kind = meta.find("kind")->as_string(), mode = meta.find("mode")->as_string();
  auto m = build(meta);
  StateDict sd;
  const std::string pp = c + ".p.";
  for (const auto& [k, t] : rnn_fixture().tensors)
    if (k.rfind(pp, 0) == 0) sd[k.substr(pp.size())] = t;
  m->load_state_dict(sd);  // strict: every key must equal PyTorch's
  m->to(dt);
  m->to(dev);
  auto leaf = [&](const std::string& key) {
    return has(key) ? fx(key).to(dt).to(dev).detach().requires_grad_(true) : Tensor();
  };
  Tensor x = leaf(c + ".x"), h0 = leaf(c + ".h0"), c0 = leaf(c + ".c0");
  Tensor lengths = has(c + ".lengths") ? fx(c + ".lengths") : Tensor();
  RnnOutput r = run(*m, kind, mode, x, h0, c0, lengths);
  Tensor loss = (r.h_n * fx(c + ".w_hn").to(dt).to(dev)).sum();
  REQUIRE_CLOSE(r.h_n, fx(c + ".hn"), atol, rtol);
  if (kind == "layer") {
    REQUIRE(r.output.dtype() == dt);
    REQUIRE_CLOSE(r.output, fx(c + ".out"), atol, rtol);
    loss = loss + (r.output * fx(c + ".w_out").to(dt).to(dev)).sum();
  }
  if (mode == "lstm") {
    REQUIRE_CLOSE(r.c_n, fx(c + ".cn"), atol, rtol);
    loss = loss + (r.c_n * fx(c + ".w_cn").to(dt).to(dev)).sum();
  }
  loss.backward();
  REQUIRE(x.grad().defined());
  REQUIRE_CLOSE(x.grad(), fx(c + ".gx"), atol, rtol);
  if (h0.defined()) REQUIRE_CLOSE(h0.grad(), fx(c + ".gh0"), atol, rtol);
  if (c0.defined()) REQUIRE_CLOSE(c0.grad(), fx(c + ".gc0"), atol, rtol);
  for (const auto& [name, p] : m->named_parameters()) {
    INFO("parameter " << name);
    REQUIRE(p.grad().defined());
    REQUIRE_CLOSE(p.grad(), fx(c + ".g." + name), atol, rtol);
  }
}

Tensor rand_f64(const Shape& s, uint64_t seed, double scale = 1.0) {
  std::mt19937_64 g(seed);
  std::uniform_real_distribution<double> d(-scale, scale);
  int64_t n = 1;
  for (int64_t v : s) n *= v;
  std::vector<double> v(static_cast<size_t>(n));
  for (double& e : v) e = d(g);
  return from_vector<double>(v, s, DType::f64);
}

}  // namespace

TEST_CASE("RNN / LSTM / GRU and cells match PyTorch (f64)", "[rnn][parity]") {
  int n = 0;
  for (const auto& [c, text] : rnn_fixture().metadata) {
    if (c.rfind("__", 0) == 0) continue;
    replay(c, json::parse(text), DType::f64, Device{}, 1e-10, 1e-9);
    ++n;
  }
  REQUIRE(n >= 50);
}

TEST_CASE("RNN / LSTM / GRU match PyTorch in f32", "[rnn][parity]") {
  // f32 against f64 references through a few steps: 1e-5 relative plus an absolute floor for values near 0.
  for (const char* c : {"lstm_len_bi_l2", "gru_l3_bi_bf", "rnn_tanh_len", "rnn_relu_bi", "lstm_cell", "gru_cell"})
    replay(c, json::parse(rnn_fixture().metadata.at(c)), DType::f32, Device{}, 2e-5, 1e-5);
}

TEST_CASE("RNN state_dict keys and shapes equal PyTorch's", "[rnn]") {
  LSTM m(4, 3, {.num_layers = 2, .bias = true, .bidirectional = true});
  std::vector<std::string> keys;
  for (const auto& [k, p] : m.named_parameters()) keys.push_back(k);
  const std::vector<std::string> expect = {
      "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_ih_l0_reverse", "weight_hh_l0_reverse",
      "bias_ih_l0_reverse", "bias_hh_l0_reverse", "weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1",
      "weight_ih_l1_reverse", "weight_hh_l1_reverse", "bias_ih_l1_reverse", "bias_hh_l1_reverse"};
  REQUIRE(keys == expect);
  REQUIRE(m.find_tensor("weight_ih_l0").sizes() == Shape{12, 4});
  REQUIRE(m.find_tensor("weight_ih_l1").sizes() == Shape{12, 6});  // input = 2 directions x H
  REQUIRE(m.find_tensor("weight_hh_l1_reverse").sizes() == Shape{12, 3});
  REQUIRE(m.find_tensor("bias_hh_l0").sizes() == Shape{12});
  GRU g(5, 2, {.bias = false});
  REQUIRE(g.state_dict().size() == 2);
  REQUIRE(g.find_tensor("weight_ih_l0").sizes() == Shape{6, 5});
  GRUCell gc(5, 2);
  REQUIRE(gc.find_tensor("weight_hh").sizes() == Shape{6, 2});
  REQUIRE(gc.find_tensor("bias_ih").sizes() == Shape{6});
  // PyTorch's init: every parameter in U(-1/sqrt(H), 1/sqrt(H)), and not all equal.
  for (const auto& [k, p] : m.named_parameters()) {
    INFO(k);
    REQUIRE(amax(abs(p)).item() <= 1.0 / std::sqrt(3.0));
    REQUIRE(amax(p).item() > amin(p).item());
  }
  REQUIRE(m.repr() == "LSTM(4, 3, num_layers=2, bidirectional=True)");
}

TEST_CASE("RNN layers and cells pass f64 gradchecks", "[rnn][gradcheck]") {
  const Tensor lengths = from_vector<int64_t>({3, 1, 2}, {3});
  for (RnnMode mode : {RnnMode::RnnTanh, RnnMode::RnnRelu, RnnMode::Lstm, RnnMode::Gru}) {
    INFO(rnn_mode_name(mode));
    const bool lstm = mode == RnnMode::Lstm;
    const int64_t G = mode == RnnMode::Lstm ? 4 : mode == RnnMode::Gru ? 3 : 1, H = 2, I = 3, T = 3, B = 3;
    for (bool with_len : {false, true}) {
      INFO("lengths " << with_len);
      // 2 layers, bidirectional: inputs x, h0, c0 and the 16 parameters.
      std::vector<Tensor> in = {rand_f64({T, B, I}, 1), rand_f64({4, B, H}, 2, 0.5), rand_f64({4, B, H}, 3, 0.5)};
      uint64_t seed = 10;
      for (int64_t l = 0; l < 2; ++l)
        for (int d = 0; d < 2; ++d) {
          in.push_back(rand_f64({G * H, l == 0 ? I : 2 * H}, seed++, 0.7));
          in.push_back(rand_f64({G * H, H}, seed++, 0.7));
          in.push_back(rand_f64({G * H}, seed++, 0.3));
          in.push_back(rand_f64({G * H}, seed++, 0.3));
        }
      for (auto& t : in) t.requires_grad_(true);
      auto f = [&](const std::vector<Tensor>& a) {
        std::vector<Tensor> params(a.begin() + 3, a.end());
        RnnOutput r = rnn(mode, a[0], a[1], lstm ? a[2] : Tensor(), params, true, 2, 0.0, false, true, false,
                          with_len ? lengths : Tensor());
        std::vector<Tensor> parts = {r.output.reshape({-1}), r.h_n.reshape({-1})};
        if (lstm) parts.push_back(r.c_n.reshape({-1}));
        else parts.push_back(a[2].sum().reshape({1}) * 0.0);  // keeps c0's (zero) gradient defined
        return cat(parts, 0);
      };
      auto res = gradcheck(f, in);
      INFO(res.message);
      REQUIRE(res.ok);
    }
    // The cell.
    std::vector<Tensor> in = {rand_f64({2, I}, 5), rand_f64({2, H}, 6), rand_f64({2, H}, 7),
                              rand_f64({G * H, I}, 8), rand_f64({G * H, H}, 9), rand_f64({G * H}, 11),
                              rand_f64({G * H}, 12)};
    for (auto& t : in) t.requires_grad_(true);
    auto fc = [&](const std::vector<Tensor>& a) {
      switch (mode) {
        case RnnMode::Lstm: {
          auto [h, c] = lstm_cell(a[0], a[1], a[2], a[3], a[4], a[5], a[6]);
          return cat({h.reshape({-1}), c.reshape({-1})}, 0);
        }
        case RnnMode::Gru: return gru_cell(a[0], a[1], a[3], a[4], a[5], a[6]) + a[2].sum() * 0.0;
        case RnnMode::RnnRelu: return rnn_relu_cell(a[0], a[1], a[3], a[4], a[5], a[6]) + a[2].sum() * 0.0;
        default: return rnn_tanh_cell(a[0], a[1], a[3], a[4], a[5], a[6]) + a[2].sum() * 0.0;
      }
    };
    auto res = gradcheck(fc, in);
    INFO(res.message);
    REQUIRE(res.ok);
  }
}

TEST_CASE("RNN padded steps change nothing", "[rnn]") {
  // Two inputs that differ only at padded positions give identical outputs, states and gradients.
  manual_seed(7);
  GRU m(3, 4, {.num_layers = 2, .batch_first = true, .bidirectional = true});
  m.to(DType::f64);
  const Tensor lengths = from_vector<int64_t>({2, 5, 1}, {3});
  Tensor xa = rand_f64({3, 5, 3}, 21), xb = xa.clone();
  auto mask = from_vector<double>({1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0}, {3, 5, 1});
  xb = xb * mask + rand_f64({3, 5, 3}, 22) * (1.0 - mask);
  std::vector<Tensor> grads[2];
  RnnOutput res[2];
  for (int k = 0; k < 2; ++k) {
    Tensor x = (k == 0 ? xa : xb).detach().requires_grad_(true);
    m.zero_grad();
    res[k] = m.forward(x, Tensor(), lengths);
    (res[k].output.sum() + square(res[k].h_n).sum()).backward();
    grads[k].push_back(x.grad() * mask);
    for (auto& p : m.parameters()) grads[k].push_back(p.grad());
    // Padded outputs are exactly zero, and padded inputs get a zero gradient.
    REQUIRE(equal(res[k].output * (1.0 - mask), zeros_like(res[k].output)));
    REQUIRE(equal(x.grad() * (1.0 - mask), zeros_like(x)));
  }
  REQUIRE_CLOSE(res[0].output, res[1].output, 0.0, 0.0);
  REQUIRE_CLOSE(res[0].h_n, res[1].h_n, 0.0, 0.0);
  for (size_t i = 0; i < grads[0].size(); ++i) REQUIRE_CLOSE(grads[0][i], grads[1][i], 1e-14, 0.0);
  // And a sequence's final state equals running that sequence alone, unpadded.
  RnnOutput alone = m.forward(xa.narrow(0, 0, 1).narrow(1, 0, 2), Tensor());
  REQUIRE_CLOSE(alone.h_n, res[0].h_n.narrow(1, 0, 1), 1e-13, 1e-12);
}

TEST_CASE("RNN dropout between layers follows galen's RNG and train/eval", "[rnn]") {
  LSTM m(3, 4, {.num_layers = 3, .dropout = 0.5});
  Tensor x = rand_f64({5, 2, 3}, 31).to(DType::f32);
  m.eval();
  Tensor e1 = m.forward(x), e2 = m.forward(x);
  REQUIRE(equal(e1, e2));
  m.train();
  manual_seed(3);
  Tensor t1 = m.forward(x);
  manual_seed(3);
  Tensor t2 = m.forward(x);
  REQUIRE(equal(t1, t2));     // reproducible
  REQUIRE(!allclose(t1, e1));  // dropout active in training
  LSTM one(3, 4, {.num_layers = 1, .dropout = 0.5});  // a single layer has no dropout (as PyTorch)
  one.train();
  REQUIRE(equal(one.forward(x), one.forward(x)));
}

TEST_CASE("RNN truncated BPTT: detached states cut the graph between chunks", "[rnn]") {
  LSTM m(2, 3);
  m.to(DType::f64);
  Tensor x = rand_f64({6, 2, 2}, 41);
  // Two chunks of 3 with detach == the second chunk seeing the first chunk's final state as a constant.
  RnnOutput a = m.forward(x.narrow(0, 0, 3), Tensor(), Tensor());
  Tensor h = a.h_n.detach(), c = a.c_n.detach();
  REQUIRE(!h.requires_grad());
  m.zero_grad();
  RnnOutput b = m.forward(x.narrow(0, 3, 3), h, c);
  b.output.sum().backward();
  std::vector<Tensor> g1;
  for (auto& p : m.parameters()) g1.push_back(p.grad().clone());
  // The full sequence's output over the last 3 steps is the same values...
  RnnOutput full = m.forward(x, Tensor(), Tensor());
  REQUIRE_CLOSE(full.output.narrow(0, 3, 3), b.output, 1e-13, 1e-12);
  // ...but its gradient flows into the first chunk, so it differs from the truncated one.
  m.zero_grad();
  full.output.narrow(0, 3, 3).sum().backward();
  REQUIRE(!allclose(m.parameters()[0].grad(), g1[0]));
}

TEST_CASE("RNN errors name the problem", "[rnn][errors]") {
  LSTM m(4, 3, {.num_layers = 2});
  Tensor x = zeros({5, 2, 4});
  REQUIRE_THROWS_WITH(m.forward(zeros({5, 2, 7})), Catch::Contains("input has 7 features") &&
                                                       Catch::Contains("weight_ih_l0 expects 4"));
  REQUIRE(m.forward(zeros({5, 4})).sizes() == Shape{5, 3});  // unbatched (T, I) is fine
  REQUIRE_THROWS_WITH(m.forward(zeros({2, 3, 5, 4})), Catch::Contains("must be 3-D"));
  REQUIRE_THROWS_WITH(m.forward(x, zeros({2, 3, 3}), Tensor()), Catch::Contains("h0 must have shape"));
  REQUIRE_THROWS_WITH(m.forward(x, zeros({2, 2, 3}), zeros({1, 2, 3})), Catch::Contains("c0 must have shape"));
  REQUIRE_THROWS_WITH(m.forward(x, zeros({2, 2, 3}, DType::f64), Tensor()), Catch::Contains("h0 has dtype f64"));
  REQUIRE_THROWS_WITH(m.forward(x.to(DType::i64)), Catch::Contains("must be f32 or f64"));
  auto len = [](std::vector<int64_t> v) { return from_vector<int64_t>(v, {static_cast<int64_t>(v.size())}); };
  REQUIRE_THROWS_WITH(m.forward(x, Tensor(), Tensor(), len({5, 0})), Catch::Contains("lengths[1] = 0 is outside 1..5"));
  REQUIRE_THROWS_WITH(m.forward(x, Tensor(), Tensor(), len({6, 1})), Catch::Contains("lengths[0] = 6 is outside"));
  REQUIRE_THROWS_WITH(m.forward(x, Tensor(), Tensor(), len({5, 1, 1})), Catch::Contains("lengths must have shape (2)"));
  REQUIRE_THROWS_WITH(m.forward(x, Tensor(), Tensor(), zeros({2})), Catch::Contains("integer tensor"));
  REQUIRE_THROWS_WITH(m.forward(zeros({0, 2, 4})), Catch::Contains("at least one time step"));
  REQUIRE_THROWS_WITH(rnn(RnnMode::Gru, x, Tensor(), Tensor(), m.flat_weights(), true, 2, 0.0, false, false, false),
                      Catch::Contains("weight_ih_l0 must have shape"));
  REQUIRE_THROWS_WITH(rnn(RnnMode::Gru, x, Tensor(), zeros({2, 2, 3}), {}, true, 1, 0.0, false, false, false),
                      Catch::Contains("only LSTM takes a cell state"));
  REQUIRE_THROWS_WITH(rnn(RnnMode::Lstm, x, Tensor(), Tensor(), m.flat_weights(), true, 1, 0.0, false, false, false),
                      Catch::Contains("expected 4 parameter tensors"));
  REQUIRE_THROWS_WITH(LSTM(4, 0), Catch::Contains("must be >= 1"));
  REQUIRE_THROWS_WITH(RNN(4, 3, {.nonlinearity = "sigmoid"}), Catch::Contains("'tanh' or 'relu'"));
  LSTMCell cell(4, 3);
  REQUIRE_THROWS_WITH(cell.forward(zeros({2, 5}), Tensor(), Tensor()), Catch::Contains("input has 5 features"));
  REQUIRE_THROWS_WITH(cell.forward(zeros({2, 4}), zeros({3, 3}), Tensor()), Catch::Contains("hx must have shape"));
  REQUIRE_THROWS_WITH(cell.forward(zeros({2, 4}), Tensor(), zeros({2, 4})), Catch::Contains("cx must have shape"));
}
