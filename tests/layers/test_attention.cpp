// Attention layers: PyTorch parity (outputs, attention weights, input and parameter gradients, from
// tests/fixtures/attention_parity.safetensors made by tools/make_attention_fixtures.py) for
// scaled_dot_product_attention, MultiheadAttention, TransformerEncoderLayer / TransformerEncoder and
// AttentionPooling, with PyTorch state_dicts loaded strictly; f64 finite-difference gradchecks (inputs and
// parameters); fully masked rows (NaN, as PyTorch); dropout off in eval; default init; errors.
#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "galen/core/json.h"
#include "test_util.h"

using namespace galen;
using namespace galen::nn;

GALEN_COVERS_GRADCHECK(scaled_dot_product_attention);
GALEN_COVERS_PARITY(scaled_dot_product_attention);

namespace {

const SafetensorsFile &fixture() {
  static const SafetensorsFile f = load_safetensors(std::string(GALEN_FIXTURES_DIR) + "/attention_parity.safetensors");
  return f;
}

bool has(const std::string &key) { return fixture().tensors.count(key) > 0; }

const Tensor &fx(const std::string &key) {
  auto it = fixture().tensors.find(key);
  if (it == fixture().tensors.end()) FAIL("fixture tensor missing: " << key);
  return it->second;
}

// Floating fixture tensors in dt (as fresh leaves when grad is asked for); masks and lengths as stored.
Tensor input(const std::string &c, const std::string &name, DType dt, bool grad = false) {
  const std::string key = c + ".in." + name;
  if (!has(key)) return Tensor();
  Tensor t = fx(key);
  if (!is_floating(t.dtype())) return t;
  t = t.to(dt).detach().clone();
  if (grad) t.requires_grad_(true);
  return t;
}

StateDict params_of(const std::string &c) {
  StateDict sd;
  const std::string pp = c + ".p.";
  for (const auto &[k, t] : fixture().tensors)
    if (k.rfind(pp, 0) == 0) sd[k.substr(pp.size())] = t;
  return sd;
}

std::shared_ptr<Module> build(const json::Value &m) {
  const std::string kind = m.find("kind")->as_string();
  auto num = [&](const char *k) { return m.find(k)->as_double(); };
  auto integer = [&](const char *k) { return m.find(k)->as_int(); };
  auto flag = [&](const char *k) { return m.find(k)->as_bool(); };
  if (kind == "mha")
    return std::make_shared<MultiheadAttention>(integer("embed_dim"), integer("num_heads"), num("dropout"),
                                                flag("bias"), flag("add_zero_attn"), integer("kdim"), integer("vdim"),
                                                flag("batch_first"));
  if (kind == "encoder_layer")
    return std::make_shared<TransformerEncoderLayer>(integer("d_model"), integer("nhead"), integer("dim_feedforward"),
                                                     num("dropout"), m.find("activation")->as_string(),
                                                     num("layer_norm_eps"), flag("batch_first"), flag("norm_first"));
  if (kind == "encoder") {
    const int64_t d = integer("d_model"), h = integer("nhead"), ff = integer("dim_feedforward");
    const bool bf = flag("batch_first");
    return std::make_shared<TransformerEncoder>(
        [=] { return std::make_shared<TransformerEncoderLayer>(d, h, ff, 0.1, "relu", 1e-5, bf, false); },
        integer("num_layers"), std::make_shared<LayerNorm>(d));
  }
  if (kind == "pool") return std::make_shared<AttentionPooling>(integer("hidden"), integer("attn_hidden"));
  return nullptr;
}

// Runs one fixture case in dt and compares with PyTorch's f64 values.
void replay(const std::string &c, const json::Value &meta, DType dt, double atol, double rtol) {
  const std::string kind = meta.find("kind")->as_string();
  const bool grads = has(c + ".w");
  std::map<std::string, Tensor> in;
  for (const char *n : {"q", "k", "v", "query", "key", "value", "src", "h"}) {
    Tensor t = input(c, n, dt, grads);
    if (t.defined()) in[n] = t;
  }
  auto mask = [&](const char *n) { return input(c, n, dt); };
  Tensor out, attw;
  std::shared_ptr<Module> mod;
  if (kind == "sdpa") {
    std::optional<double> scale;
    if (const auto *s = meta.find("scale")) scale = s->as_double();
    out = scaled_dot_product_attention(in["q"], in["k"], in["v"], mask("mask"), 0.0, meta.find("is_causal")->as_bool(),
                                       scale);
  } else {
    mod = build(meta);
    REQUIRE(mod != nullptr);
    mod->to(dt);
    const auto res = mod->load_state_dict(params_of(c), true);  // strict: PyTorch's keys
    CHECK(res.missing.empty());
    mod->eval();
    if (kind == "mha") {
      auto *mha = dynamic_cast<MultiheadAttention *>(mod.get());
      const bool self = meta.find("self_attn")->as_bool();
      const Tensor &q = in["query"];
      const Tensor k = self ? q : in["key"], v = self ? q : in["value"];
      auto r = mha->forward(q, k, v, mask("key_padding_mask"), meta.find("need_weights")->as_bool(), mask("attn_mask"),
                            meta.find("average_attn_weights")->as_bool());
      out = r.first;
      attw = r.second;
      CHECK(attw.defined() == has(c + ".attw"));
    } else if (kind == "encoder_layer") {
      out = dynamic_cast<TransformerEncoderLayer *>(mod.get())->forward(in["src"], mask("src_mask"),
                                                                        mask("src_key_padding_mask"));
    } else if (kind == "encoder") {
      out = dynamic_cast<TransformerEncoder *>(mod.get())->forward(in["src"], Tensor(), mask("src_key_padding_mask"));
    } else if (kind == "pool") {
      auto *pool = dynamic_cast<AttentionPooling *>(mod.get());
      std::tie(out, attw) = pool->forward(in["h"], mask("lengths"));
      if (mask("padding_mask").defined()) {  // the padding-mask form gives the same
        NoGradGuard ng;
        auto [o2, w2] = pool->forward_with_padding_mask(in["h"].detach(), mask("padding_mask"));
        CHECK(equal(o2, out.detach()));
        CHECK(equal(w2, attw.detach()));
      }
    }
  }
  REQUIRE(out.dtype() == dt);
  REQUIRE_CLOSE(out, fx(c + ".out"), atol, rtol);
  if (attw.defined()) REQUIRE_CLOSE(attw, fx(c + ".attw"), atol, rtol);
  if (!grads) return;
  Tensor loss = (out * fx(c + ".w").to(dt)).sum();
  if (attw.defined()) loss = loss + (attw * fx(c + ".ww").to(dt)).sum();
  loss.backward();
  for (const auto &[n, t] : in) {
    INFO("gradient of input " << n);
    REQUIRE(t.grad().defined());
    REQUIRE_CLOSE(t.grad(), fx(c + ".g." + n), atol, rtol);
  }
  if (mod) {
    for (const auto &[n, p] : mod->named_parameters()) {
      INFO("gradient of parameter " << n);
      REQUIRE(p.grad().defined());
      REQUIRE_CLOSE(p.grad(), fx(c + ".gp." + n), atol, rtol);
    }
  }
}

using Args = std::vector<Tensor>;

Tensor leaf_f64(const Shape &s, uint64_t seed, double scale = 1.0) {
  std::mt19937_64 g(seed);
  std::normal_distribution<double> d(0.0, scale);
  int64_t n = 1;
  for (int64_t v : s) n *= v;
  std::vector<double> v(static_cast<size_t>(n));
  for (double &e : v) e = d(g);
  return from_vector<double>(v, s, DType::f64).requires_grad_(true);
}

void require_gradcheck(const std::function<Tensor(const Args &)> &f, const Args &in) {
  auto r = gradcheck(f, in);
  INFO(r.message);
  REQUIRE(r.ok);
}

Tensor bool_mask(const std::vector<int> &v, const Shape &s) {
  std::vector<uint8_t> b(v.begin(), v.end());
  return from_vector<uint8_t>(b, s, DType::u8).to(DType::boolean);
}

}  // namespace

TEST_CASE("attention layers match PyTorch: outputs, weights, input and parameter gradients (f64 and f32)",
          "[attention][parity]") {
  int n = 0;
  std::set<std::string> kinds;
  for (const auto &[c, text] : fixture().metadata) {
    if (c.rfind("__", 0) == 0) continue;
    const json::Value meta = json::parse(text);
    kinds.insert(meta.find("kind")->as_string());
    SECTION(c) {
      INFO("case " << c);
      {
        INFO("f64");
        replay(c, meta, DType::f64, 1e-10, 1e-8);
      }
      {
        INFO("f32");
        replay(c, meta, DType::f32, 5e-5, 5e-4);
      }
    }
    ++n;
  }
  CHECK(n == 23);
  CHECK(kinds == std::set<std::string>{"sdpa", "mha", "encoder_layer", "encoder", "pool"});
}

TEST_CASE("TransformerEncoder and MultiheadAttention use PyTorch's state_dict keys", "[attention]") {
  const json::Value meta = json::parse(fixture().metadata.at("encoder_2"));
  std::vector<std::string> torch_keys, ours;
  for (const auto &k : meta.find("keys")->as_array()) torch_keys.push_back(k.as_string());
  std::sort(torch_keys.begin(), torch_keys.end());
  auto enc = build(meta);
  for (const auto &[k, t] : enc->state_dict()) ours.push_back(k);
  CHECK(ours == torch_keys);
  CHECK(torch_keys.size() == 26);

  MultiheadAttention packed(8, 2);
  std::vector<std::string> names;
  for (const auto &[k, t] : packed.named_parameters()) names.push_back(k);
  CHECK(names == std::vector<std::string>{"in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"});
  MultiheadAttention separate(6, 3, 0.0, true, false, 5, 7);
  names.clear();
  for (const auto &[k, t] : separate.named_parameters()) names.push_back(k);
  CHECK(names == std::vector<std::string>{"q_proj_weight", "k_proj_weight", "v_proj_weight", "in_proj_bias",
                                          "out_proj.weight", "out_proj.bias"});
  CHECK(separate.k_proj_weight.sizes() == Shape{6, 5});
  CHECK(separate.v_proj_weight.sizes() == Shape{6, 7});
  MultiheadAttention nobias(4, 2, 0.0, false);
  CHECK(nobias.named_parameters().size() == 2);
}

TEST_CASE("MultiheadAttention default init: xavier-uniform projections, zero biases", "[attention]") {
  manual_seed(5);
  MultiheadAttention mha(16, 4);
  const double bound = std::sqrt(6.0 / (16 + 48));  // fan_in E, fan_out 3E
  const auto w = mha.in_proj_weight.to_vector<float>();
  double maxabs = 0, sumsq = 0;
  for (float e : w) {
    maxabs = std::max(maxabs, static_cast<double>(std::fabs(e)));
    sumsq += static_cast<double>(e) * e;
  }
  CHECK(maxabs <= bound);
  CHECK(maxabs > 0.9 * bound);
  // Variance of U(-a, a) is a^2 / 3; 768 draws: within ~20%.
  CHECK(std::fabs(sumsq / w.size() / (bound * bound / 3) - 1.0) < 0.2);
  CHECK(mha.in_proj_bias.abs().sum().item() == 0.0);
  CHECK(mha.out_proj->bias.abs().sum().item() == 0.0);
  const double lin_bound = 1.0 / std::sqrt(16.0);  // out_proj keeps Linear's init
  CHECK(galen::max(mha.out_proj->weight.abs()).item() <= lin_bound);
}

TEST_CASE("gradcheck: scaled_dot_product_attention", "[attention][gradcheck]") {
  SECTION("plain, L != S, Ev != E") {
    require_gradcheck([](const Args &a) { return scaled_dot_product_attention(a[0], a[1], a[2]); },
                      {leaf_f64({2, 3, 4}, 1), leaf_f64({2, 5, 4}, 2), leaf_f64({2, 5, 3}, 3)});
  }
  SECTION("bool mask broadcast, causal, scale") {
    const Tensor m = bool_mask({1, 0, 1, 1, 1, 1, 0, 1, 0, 1, 1, 0}, {3, 4});
    require_gradcheck([m](const Args &a) { return scaled_dot_product_attention(a[0], a[1], a[2], m); },
                      {leaf_f64({2, 3, 2}, 4), leaf_f64({2, 4, 2}, 5), leaf_f64({2, 4, 2}, 6)});
    require_gradcheck(
        [](const Args &a) { return scaled_dot_product_attention(a[0], a[1], a[2], Tensor(), 0.0, true, 0.7); },
        {leaf_f64({1, 2, 4, 3}, 7), leaf_f64({1, 2, 4, 3}, 8), leaf_f64({1, 2, 4, 3}, 9)});
  }
  SECTION("float mask (gradient flows into the mask too)") {
    require_gradcheck(
        [](const Args &a) { return scaled_dot_product_attention(a[0], a[1], a[2], a[3]); },
        {leaf_f64({2, 3, 2}, 10), leaf_f64({2, 3, 2}, 11), leaf_f64({2, 3, 2}, 12), leaf_f64({1, 3, 3}, 13)});
  }
  SECTION("dropout with a fixed seed: a fixed mask") {
    require_gradcheck(
        [](const Args &a) {
          manual_seed(99);
          return scaled_dot_product_attention(a[0], a[1], a[2], Tensor(), 0.3);
        },
        {leaf_f64({2, 3, 2}, 14), leaf_f64({2, 4, 2}, 15), leaf_f64({2, 4, 2}, 16)});
  }
}

TEST_CASE("gradcheck: MultiheadAttention, TransformerEncoderLayer, AttentionPooling (inputs and parameters)",
          "[attention][gradcheck]") {
  SECTION("MultiheadAttention, packed, cross, masks, weights per head") {
    auto mha = std::make_shared<MultiheadAttention>(4, 2, 0.0, true, false, -1, -1, true);
    mha->to(DType::f64);
    const Tensor kpm = bool_mask({0, 0, 1, 0, 0, 0}, {2, 3});
    const Tensor am = leaf_f64({2, 3}, 20).detach();
    require_gradcheck(
        [&](const Args &a) {
          mha->in_proj_weight = a[3];
          mha->in_proj_bias = a[4];
          mha->out_proj->weight = a[5];
          auto [o, w] = mha->forward(a[0], a[1], a[2], kpm, true, am, false);
          return cat({o.flatten(), w.flatten()});
        },
        {leaf_f64({2, 2, 4}, 21), leaf_f64({2, 3, 4}, 22), leaf_f64({2, 3, 4}, 23), leaf_f64({12, 4}, 24, 0.5),
         leaf_f64({12}, 25), leaf_f64({4, 4}, 26, 0.5)});
  }
  SECTION("MultiheadAttention, self-attention, separate kdim/vdim, add_zero_attn") {
    auto mha = std::make_shared<MultiheadAttention>(4, 2, 0.0, true, true, 3, 5);
    mha->to(DType::f64);
    require_gradcheck(
        [&](const Args &a) {
          mha->q_proj_weight = a[3];
          mha->k_proj_weight = a[4];
          mha->v_proj_weight = a[5];
          return mha->forward(a[0], a[1], a[2]).first;
        },
        {leaf_f64({3, 2, 4}, 27), leaf_f64({2, 2, 3}, 28), leaf_f64({2, 2, 5}, 29), leaf_f64({4, 4}, 30, 0.5),
         leaf_f64({4, 3}, 31, 0.5), leaf_f64({4, 5}, 32, 0.5)});
    auto self = std::make_shared<MultiheadAttention>(4, 1);
    self->to(DType::f64);
    require_gradcheck([&](const Args &a) { return self->forward(a[0]); }, {leaf_f64({3, 2, 4}, 33)});
  }
  SECTION("TransformerEncoderLayer, post-norm and pre-norm") {
    for (bool norm_first : {false, true}) {
      INFO("norm_first " << norm_first);
      manual_seed(3);
      auto layer = std::make_shared<TransformerEncoderLayer>(4, 2, 6, 0.1, "gelu", 1e-5, true, norm_first);
      layer->to(DType::f64);
      layer->eval();
      const Tensor kpm = bool_mask({0, 0, 1, 0, 0, 0}, {2, 3});
      require_gradcheck(
          [&](const Args &a) {
            layer->linear1->weight = a[1];
            layer->norm1->weight = a[2];
            return layer->forward(a[0], Tensor(), kpm);
          },
          {leaf_f64({2, 3, 4}, 40), leaf_f64({6, 4}, 41, 0.5), leaf_f64({4}, 42)});
    }
  }
  SECTION("AttentionPooling with lengths") {
    auto pool = std::make_shared<AttentionPooling>(3, 2);
    pool->to(DType::f64);
    const Tensor lengths = tensor<int64_t>({4, 1, 2});
    require_gradcheck(
        [&](const Args &a) {
          pool->proj->weight = a[1];
          pool->v->weight = a[2];
          auto [p, w] = pool->forward(a[0], lengths);
          return cat({p.flatten(), w.flatten()});
        },
        {leaf_f64({3, 4, 3}, 50), leaf_f64({2, 3}, 51), leaf_f64({1, 2}, 52)});
  }
}

TEST_CASE("fully masked rows give NaN as in PyTorch; other rows are unaffected", "[attention]") {
  // (Also replayed against PyTorch in the parity case "mha_fully_masked" / "sdpa_fully_masked".)
  manual_seed(1);
  MultiheadAttention mha(4, 2, 0.0, true, false, -1, -1, true);
  const Tensor x = randn({2, 3, 4});
  const Tensor kpm = bool_mask({0, 1, 0, 1, 1, 1}, {2, 3});
  auto [out, w] = mha.forward(x, x, x, kpm);
  const auto o = out.to_vector<float>();
  for (size_t i = 0; i < o.size(); ++i) CHECK(std::isnan(o[i]) == (i >= 12));
  // Batch 0's masked key gets exactly zero weight.
  CHECK(w.select(0, 0).select(1, 1).abs().sum().item() == 0.0);
  const Tensor all_false = bool_mask({0, 0, 0, 0, 0, 0}, {2, 3});
  const Tensor q = randn({2, 3, 2});
  CHECK(std::isnan(scaled_dot_product_attention(q, q, q, all_false.unsqueeze(1)).sum().item()));
}

TEST_CASE("attention dropout: off in eval, active and seeded in training", "[attention]") {
  manual_seed(2);
  MultiheadAttention mha(8, 2, 0.5);
  TransformerEncoderLayer layer(8, 2, 16, 0.5);
  const Tensor x = randn({5, 3, 8});
  mha.eval();
  layer.eval();
  const Tensor e1 = mha.forward(x), l1 = layer.forward(x);
  CHECK(equal(mha.forward(x), e1));
  CHECK(equal(layer.forward(x), l1));
  mha.train();
  layer.train();
  manual_seed(10);
  const Tensor t1 = mha.forward(x), lt1 = layer.forward(x);
  manual_seed(10);
  CHECK(equal(mha.forward(x), t1));
  CHECK(equal(layer.forward(x), lt1));
  CHECK_FALSE(allclose(t1, e1, 1e-3, 1e-3));
  CHECK_FALSE(allclose(lt1, l1, 1e-3, 1e-3));
  // Training with p = 0 equals eval.
  MultiheadAttention nodrop(8, 2, 0.0);
  nodrop.load_state_dict(mha.state_dict());
  nodrop.train();
  mha.eval();
  CHECK(allclose(nodrop.forward(x), mha.forward(x), 1e-6, 1e-7));
  // Weights returned in training are the dropped ones: some zero, survivors scaled by 2.
  manual_seed(11);
  MultiheadAttention drop(8, 1, 0.5);
  auto [o, w] = drop.forward(x, x, x, Tensor(), true, Tensor(), false);
  const auto wv = w.to_vector<float>();
  CHECK(std::count(wv.begin(), wv.end(), 0.0f) > 0);
}

TEST_CASE("attention errors: shapes, dtypes, heads, masks, lengths", "[attention][errors]") {
  CHECK_THROWS_AS(MultiheadAttention(10, 3), Error);
  CHECK_THROWS_WITH(MultiheadAttention(10, 3), Catch::Contains("divisible"));
  CHECK_THROWS_AS(MultiheadAttention(8, 0), Error);
  CHECK_THROWS_AS(MultiheadAttention(8, 2, 1.0), Error);
  CHECK_THROWS_AS(TransformerEncoderLayer(8, 2, 16, 0.1, "tanh"), Error);
  CHECK_THROWS_AS(TransformerEncoderLayer(8, 3), Error);

  MultiheadAttention mha(8, 2);
  const Tensor x = randn({5, 3, 8});
  CHECK_THROWS_WITH(mha.forward(randn({5, 3, 7})), Catch::Contains("embed_dim"));
  CHECK_THROWS_AS(mha.forward(randn({2, 5, 3, 8})), Error);
  CHECK_THROWS_AS(mha.forward(x, randn({4, 2, 8}), randn({4, 2, 8})), Error);  // batch mismatch
  CHECK_THROWS_AS(mha.forward(x, randn({4, 3, 8}), randn({6, 3, 8})), Error);  // S mismatch
  CHECK_THROWS_AS(mha.forward(x, x, x.to(DType::f64)), Error);
  CHECK_THROWS_WITH(mha.forward(x, x, x, zeros({3, 4}, DType::boolean)), Catch::Contains("key_padding_mask"));
  CHECK_THROWS_WITH(mha.forward(x, x, x, Tensor(), true, zeros({5, 4}, DType::boolean)), Catch::Contains("attn_mask"));
  CHECK_THROWS_AS(mha.forward(x, x, x, Tensor(), true, zeros({3, 5, 5}, DType::boolean)), Error);  // B*H = 6
  CHECK_THROWS_WITH(mha.forward(x, x, x, zeros({3, 5}, DType::i64)), Catch::Contains("bool or floating"));
  CHECK_NOTHROW(mha.forward(x, x, x, Tensor(), true, zeros({6, 5, 5}, DType::boolean)));

  const Tensor q = randn({2, 3, 4});
  CHECK_THROWS_AS(scaled_dot_product_attention(q, randn({2, 3, 5}), q), Error);                 // E
  CHECK_THROWS_AS(scaled_dot_product_attention(q, q, randn({2, 4, 4})), Error);                 // S
  CHECK_THROWS_AS(scaled_dot_product_attention(q, randn({3, 3, 4}), randn({3, 3, 4})), Error);  // batch
  CHECK_THROWS_AS(scaled_dot_product_attention(randn({4}), randn({4}), randn({4})), Error);
  CHECK_THROWS_AS(scaled_dot_product_attention(q, q, q, zeros({3, 4}, DType::boolean)), Error);  // mask shape
  CHECK_THROWS_WITH(scaled_dot_product_attention(q, q, q, ones({3, 3}, DType::boolean), 0.0, true),
                    Catch::Contains("not both"));
  CHECK_THROWS_AS(scaled_dot_product_attention(q, q, q, Tensor(), 1.0), Error);
  CHECK_THROWS_AS(scaled_dot_product_attention(q.to(DType::i64), q.to(DType::i64), q.to(DType::i64)), Error);

  AttentionPooling pool(4, 3);
  const Tensor h = randn({2, 5, 4});
  CHECK_THROWS_WITH(pool.forward(h, tensor<int64_t>({5, 0})), Catch::Contains("lengths[1]"));
  CHECK_THROWS_AS(pool.forward(h, tensor<int64_t>({6, 1})), Error);
  CHECK_THROWS_AS(pool.forward(h, tensor<int64_t>({5, 1, 1})), Error);
  CHECK_THROWS_AS(pool.forward(h, tensor<float>({5, 1})), Error);
  CHECK_THROWS_AS(pool.forward(randn({2, 5, 3})), Error);
  Tensor pm = zeros({2, 5}, DType::boolean);
  CHECK_NOTHROW(pool.forward_with_padding_mask(h, pm));
  CHECK_THROWS_WITH(pool.forward_with_padding_mask(h, ones({2, 5}, DType::boolean)), Catch::Contains("all padding"));
  CHECK_THROWS_AS(pool.forward_with_padding_mask(h, zeros({2, 4}, DType::boolean)), Error);
}

TEST_CASE("AttentionPooling: padded steps get zero weight and do not change the result", "[attention]") {
  manual_seed(4);
  AttentionPooling pool(3, 5);
  Tensor h = randn({2, 4, 3});
  auto [p1, w1] = pool.forward(h, tensor<int64_t>({2, 4}));
  // Changing padded values of sequence 0 leaves everything unchanged.
  Tensor h2 = h.clone();
  h2.select(0, 0).narrow(0, 2, 2).fill_(100.0);
  auto [p2, w2] = pool.forward(h2, tensor<int64_t>({2, 4}));
  CHECK(equal(p1, p2));
  CHECK(equal(w1, w2));
  CHECK(w1.select(0, 0).narrow(0, 2, 2).abs().sum().item() == 0.0);
  REQUIRE_CLOSE(sum(w1, {1}), ones({2}), 1e-6, 0);
  // Sequence 0 alone (truncated to its length) gives the same pooled vector.
  auto [p3, w3] = pool.forward(h.narrow(0, 0, 1).narrow(1, 0, 2), Tensor());
  REQUIRE_CLOSE(p3.select(0, 0), p1.select(0, 0), 1e-6, 1e-6);
}
