// scaled_dot_product_attention, MultiheadAttention, TransformerEncoderLayer / TransformerEncoder, AttentionPooling.
// Masks of either convention are turned into one additive float mask (0 / -inf / given values) so the core is a
// single "scores + mask -> softmax" path; PyTorch 2 does the same (1.13 refuses a float key_padding_mask together
// with a float attn_mask; here they add, as in PyTorch 2).
#include "galen/layers/attention.h"

#include <cmath>
#include <limits>
#include <vector>

#include "galen/core/ops.h"
#include "galen/layers/init.h"

namespace galen {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

bool shape_broadcasts_to(const Shape& from, const Shape& to) {
  if (from.size() > to.size()) return false;
  const size_t off = to.size() - from.size();
  for (size_t i = 0; i < from.size(); ++i)
    if (from[i] != 1 && from[i] != to[off + i]) return false;
  return true;
}

// A bool mask as an additive one in dtype dt: `true_means_masked` picks the convention (torch.nn: true = masked;
// scaled_dot_product_attention: true = may attend). Floating masks are cast to dt (autograd flows through).
Tensor to_additive(const char* op, const char* what, const Tensor& mask, DType dt, Device dev, bool true_means_masked) {
  if (mask.dtype() == DType::boolean) {
    const Tensor m = mask.to(dev);
    if (true_means_masked) return masked_fill(zeros(m.sizes(), TensorOptions(dt, dev)), m, -kInf);
    return masked_fill(full(m.sizes(), -kInf, TensorOptions(dt, dev)), m, 0.0);
  }
  GALEN_CHECK(is_floating(mask.dtype()), op, ": ", what, " must be bool or floating, got ", dtype_name(mask.dtype()));
  return mask.to(dev).to(dt);
}

// The shared core: q (..., L, E), k (..., S, E), v (..., S, Ev), additive mask broadcastable to (..., L, S).
std::pair<Tensor, Tensor> attend(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& additive,
                                 double dropout_p, double scale) {
  Tensor scores = matmul(mul(q, scale), k.transpose(-2, -1));
  if (additive.defined()) scores = add(scores, additive);
  Tensor w = softmax(scores, -1);
  if (dropout_p > 0.0) w = galen::dropout(w, dropout_p, true);
  return {matmul(w, v), w};
}

}  // namespace

std::pair<Tensor, Tensor> scaled_dot_product_attention_with_weights(const Tensor& q, const Tensor& k, const Tensor& v,
                                                                    const Tensor& attn_mask, double dropout_p,
                                                                    bool is_causal, std::optional<double> scale) {
  constexpr const char* op = "scaled_dot_product_attention";
  GALEN_CHECK(q.defined() && k.defined() && v.defined(), op, ": q, k and v must be defined");
  GALEN_CHECK(q.dim() >= 2 && k.dim() == q.dim() && v.dim() == q.dim(), op,
              ": q (..., L, E), k (..., S, E) and v (..., S, Ev) need the same number (>= 2) of dims, got q ",
              q.sizes(), ", k ", k.sizes(), ", v ", v.sizes());
  GALEN_CHECK(is_floating(q.dtype()) && k.dtype() == q.dtype() && v.dtype() == q.dtype(), op,
              ": q, k, v must share one floating dtype, got ", dtype_name(q.dtype()), ", ", dtype_name(k.dtype()), ", ",
              dtype_name(v.dtype()));
  GALEN_CHECK(k.device() == q.device() && v.device() == q.device(), op, ": q, k, v must be on one device");
  const int64_t nd = q.dim();
  const Shape batch(q.sizes().begin(), q.sizes().end() - 2);
  GALEN_CHECK(
      Shape(k.sizes().begin(), k.sizes().end() - 2) == batch && Shape(v.sizes().begin(), v.sizes().end() - 2) == batch,
      op, ": q, k, v must have equal batch dims, got q ", q.sizes(), ", k ", k.sizes(), ", v ", v.sizes());
  GALEN_CHECK(k.size(nd - 1) == q.size(nd - 1), op, ": q and k must have the same last dim (E), got q ", q.sizes(),
              ", k ", k.sizes());
  GALEN_CHECK(v.size(nd - 2) == k.size(nd - 2), op, ": k and v must have the same number of keys (S), got k ",
              k.sizes(), ", v ", v.sizes());
  GALEN_CHECK(dropout_p >= 0.0 && dropout_p < 1.0, op, ": dropout_p must be in [0, 1), got ", dropout_p);
  GALEN_CHECK(!(is_causal && attn_mask.defined()), op, ": give either attn_mask or is_causal, not both");
  const int64_t L = q.size(nd - 2), S = k.size(nd - 2);
  Shape score_shape = batch;
  score_shape.push_back(L);
  score_shape.push_back(S);
  Tensor additive;
  if (attn_mask.defined()) {
    GALEN_CHECK(shape_broadcasts_to(attn_mask.sizes(), score_shape), op, ": attn_mask of shape ", attn_mask.sizes(),
                " does not broadcast to the scores' shape ", score_shape);
    additive = to_additive(op, "attn_mask", attn_mask, q.dtype(), q.device(), /*true_means_masked=*/false);
  } else if (is_causal) {
    // key j is visible to query i when j <= i
    const Tensor allowed = le(arange(S, TensorOptions(DType::i64, q.device())).unsqueeze(0),
                              arange(L, TensorOptions(DType::i64, q.device())).unsqueeze(1));
    additive = to_additive(op, "causal mask", allowed, q.dtype(), q.device(), false);
  }
  const double s = scale.has_value() ? *scale : 1.0 / std::sqrt(static_cast<double>(q.size(nd - 1)));
  return attend(q, k, v, additive, dropout_p, s);
}

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& attn_mask,
                                    double dropout_p, bool is_causal, std::optional<double> scale) {
  return scaled_dot_product_attention_with_weights(q, k, v, attn_mask, dropout_p, is_causal, scale).first;
}

}  // namespace galen

namespace galen::nn {

// ---- MultiheadAttention ------------------------------------------------------------------------------------

MultiheadAttention::MultiheadAttention(int64_t embed_dim_, int64_t num_heads_, double dropout_, bool bias,
                                       bool add_zero_attn_, int64_t kdim_, int64_t vdim_, bool batch_first_)
    : embed_dim(embed_dim_),
      num_heads(num_heads_),
      kdim(kdim_ < 0 ? embed_dim_ : kdim_),
      vdim(vdim_ < 0 ? embed_dim_ : vdim_),
      dropout(dropout_),
      add_zero_attn(add_zero_attn_),
      batch_first(batch_first_) {
  GALEN_CHECK(embed_dim > 0 && num_heads > 0, "MultiheadAttention: embed_dim and num_heads must be > 0, got ",
              embed_dim, " and ", num_heads);
  GALEN_CHECK(embed_dim % num_heads == 0, "MultiheadAttention: embed_dim (", embed_dim,
              ") must be divisible by num_heads (", num_heads, ")");
  GALEN_CHECK(kdim > 0 && vdim > 0, "MultiheadAttention: kdim and vdim must be > 0, got ", kdim, " and ", vdim);
  GALEN_CHECK(dropout >= 0.0 && dropout < 1.0, "MultiheadAttention: dropout must be in [0, 1), got ", dropout);
  head_dim = embed_dim / num_heads;
  qkv_same_embed_dim = kdim == embed_dim && vdim == embed_dim;
  // Registration order = PyTorch's (named_parameters order).
  if (qkv_same_embed_dim) {
    in_proj_weight = register_parameter("in_proj_weight", empty({3 * embed_dim, embed_dim}));
  } else {
    q_proj_weight = register_parameter("q_proj_weight", empty({embed_dim, embed_dim}));
    k_proj_weight = register_parameter("k_proj_weight", empty({embed_dim, kdim}));
    v_proj_weight = register_parameter("v_proj_weight", empty({embed_dim, vdim}));
  }
  if (bias) in_proj_bias = register_parameter("in_proj_bias", empty({3 * embed_dim}));
  out_proj = register_module("out_proj", std::make_shared<Linear>(embed_dim, embed_dim, bias));
  reset_parameters();
}

void MultiheadAttention::reset_parameters() {
  if (qkv_same_embed_dim) {
    init::xavier_uniform_(in_proj_weight);
  } else {
    init::xavier_uniform_(q_proj_weight);
    init::xavier_uniform_(k_proj_weight);
    init::xavier_uniform_(v_proj_weight);
  }
  if (in_proj_bias.defined()) {
    init::zeros_(in_proj_bias);
    init::zeros_(out_proj->bias);
  }
}

std::string MultiheadAttention::extra_repr() const {
  return "embed_dim=" + std::to_string(embed_dim) + ", num_heads=" + std::to_string(num_heads) +
         ", dropout=" + py_float(dropout) + ", batch_first=" + (batch_first ? "True" : "False");
}

Tensor MultiheadAttention::forward(const Tensor& x) { return forward(x, x, x, Tensor(), false).first; }

std::pair<Tensor, Tensor> MultiheadAttention::forward(const Tensor& query_in, const Tensor& key_in,
                                                      const Tensor& value_in, const Tensor& key_padding_mask,
                                                      bool need_weights, const Tensor& attn_mask_in,
                                                      bool average_attn_weights) {
  constexpr const char* op = "MultiheadAttention";
  GALEN_CHECK(query_in.defined() && key_in.defined() && value_in.defined(), op,
              ": query, key and value must be defined");
  const bool batched = query_in.dim() == 3;
  GALEN_CHECK((query_in.dim() == 3 || query_in.dim() == 2) && key_in.dim() == query_in.dim() &&
                  value_in.dim() == query_in.dim(),
              op, ": query, key, value must all be 3-D (batched) or all 2-D (unbatched), got query ", query_in.sizes(),
              ", key ", key_in.sizes(), ", value ", value_in.sizes());
  GALEN_CHECK(
      is_floating(query_in.dtype()) && key_in.dtype() == query_in.dtype() && value_in.dtype() == query_in.dtype(), op,
      ": query, key, value must share one floating dtype");
  const bool self = query_in.is_same(key_in) && key_in.is_same(value_in);
  // To (L, B, E).
  auto canon = [&](const Tensor& t) {
    if (!batched) return t.unsqueeze(1);
    return batch_first ? t.transpose(0, 1) : t;
  };
  const Tensor query = canon(query_in), key = canon(key_in), value = canon(value_in);
  const int64_t L = query.size(0), B = query.size(1), S = key.size(0);
  const char* layout = !batched ? "(L, E)" : batch_first ? "(B, L, E)" : "(L, B, E)";
  GALEN_CHECK(query.size(2) == embed_dim, op, ": query ", layout, " must have E = embed_dim = ", embed_dim, ", got ",
              query_in.sizes());
  GALEN_CHECK(
      key.size(1) == B && value.size(1) == B && value.size(0) == S && key.size(2) == kdim && value.size(2) == vdim, op,
      ": expected key with ", S, " steps, batch ", B, ", ", kdim, " features and value the same with ", vdim,
      " features; got query ", query_in.sizes(), ", key ", key_in.sizes(), ", value ", value_in.sizes(),
      (batch_first && batched ? " (batch_first)" : ""));
  const DType dt = query.dtype();
  const Device dev = query.device();
  const int64_t E = embed_dim, H = num_heads, BH = B * H;

  // ---- masks -> one additive (1 or BH, L, S') float mask
  Tensor attn_mask;
  if (attn_mask_in.defined()) {
    if (attn_mask_in.dim() == 2) {
      GALEN_CHECK(attn_mask_in.size(0) == L && attn_mask_in.size(1) == S, op, ": 2-D attn_mask must be (L, S) = (", L,
                  ", ", S, "), got ", attn_mask_in.sizes());
    } else {
      GALEN_CHECK(attn_mask_in.dim() == 3 && attn_mask_in.size(0) == BH && attn_mask_in.size(1) == L &&
                      attn_mask_in.size(2) == S,
                  op, ": attn_mask must be (L, S) = (", L, ", ", S, ") or (B*num_heads, L, S) = (", BH, ", ", L, ", ",
                  S, "), got ", attn_mask_in.sizes());
    }
    attn_mask = to_additive(op, "attn_mask", attn_mask_in, dt, dev, true);
    if (attn_mask.dim() == 2) attn_mask = attn_mask.unsqueeze(0);
  }
  Tensor kpm;
  if (key_padding_mask.defined()) {
    const Shape want = batched ? Shape{B, S} : Shape{S};
    GALEN_CHECK(key_padding_mask.sizes() == want, op, ": key_padding_mask must be ", (batched ? "(B, S) = " : "(S) = "),
                want, ", got ", key_padding_mask.sizes());
    kpm = to_additive(op, "key_padding_mask", key_padding_mask, dt, dev, true)
              .reshape({B, 1, 1, S})
              .expand({B, H, 1, S})
              .reshape({BH, 1, S});
  }

  // ---- projections
  Tensor q, k, v;
  auto bias_part = [&](int64_t i) { return in_proj_bias.defined() ? in_proj_bias.narrow(0, i * E, E) : Tensor(); };
  if (qkv_same_embed_dim && self) {
    auto qkv = chunk(linear(query, in_proj_weight, in_proj_bias), 3, -1);
    q = qkv[0], k = qkv[1], v = qkv[2];
  } else if (qkv_same_embed_dim) {
    q = linear(query, in_proj_weight.narrow(0, 0, E), bias_part(0));
    k = linear(key, in_proj_weight.narrow(0, E, E), bias_part(1));
    v = linear(value, in_proj_weight.narrow(0, 2 * E, E), bias_part(2));
  } else {
    q = linear(query, q_proj_weight, bias_part(0));
    k = linear(key, k_proj_weight, bias_part(1));
    v = linear(value, v_proj_weight, bias_part(2));
  }
  // (n, B, E) -> (B*H, n, head_dim): head h of batch b is row b*H + h, as in PyTorch.
  auto heads = [&](const Tensor& t, int64_t n) { return t.reshape({n, BH, head_dim}).transpose(0, 1); };
  q = heads(q, L);
  k = heads(k, S);
  v = heads(v, S);
  int64_t S2 = S;
  if (add_zero_attn) {
    const Tensor z = zeros({BH, 1, head_dim}, TensorOptions(dt, dev));
    k = cat({k, z}, 1);
    v = cat({v, z}, 1);
    ++S2;
    auto pad = [&](const Tensor& m) {
      Shape s = m.sizes();
      s.back() = 1;
      return cat({m, zeros(s, TensorOptions(dt, dev))}, -1);
    };
    if (attn_mask.defined()) attn_mask = pad(attn_mask);
    if (kpm.defined()) kpm = pad(kpm);
  }
  Tensor mask = attn_mask.defined() && kpm.defined() ? add(attn_mask, kpm) : attn_mask.defined() ? attn_mask : kpm;

  auto [out, w] = attend(q, k, v, mask, is_training() ? dropout : 0.0, 1.0 / std::sqrt(static_cast<double>(head_dim)));
  // (B*H, L, hd) -> (L, B*H, hd) -> (L, B, E)
  out = out.transpose(0, 1).reshape({L, B, E});
  out = out_proj->forward(out);
  if (!batched) {
    out = out.squeeze(1);
  } else if (batch_first) {
    out = out.transpose(0, 1);
  }
  Tensor weights;
  if (need_weights) {
    weights = w.reshape({B, H, L, S2});
    if (average_attn_weights) weights = div(sum(weights, {1}), static_cast<double>(H));
    if (!batched) weights = weights.squeeze(0);
  }
  return {out, weights};
}

// ---- TransformerEncoderLayer ----------------------------------------------------------------------------------

TransformerEncoderLayer::TransformerEncoderLayer(int64_t d_model, int64_t nhead, int64_t dim_feedforward,
                                                 double dropout_p, const std::string& activation_,
                                                 double layer_norm_eps, bool batch_first, bool norm_first_)
    : activation(activation_), norm_first(norm_first_) {
  GALEN_CHECK(activation == "relu" || activation == "gelu",
              "TransformerEncoderLayer: activation must be \"relu\" or \"gelu\", got \"", activation, "\"");
  GALEN_CHECK(dim_feedforward > 0, "TransformerEncoderLayer: dim_feedforward must be > 0, got ", dim_feedforward);
  self_attn = register_module(
      "self_attn", std::make_shared<MultiheadAttention>(d_model, nhead, dropout_p, true, false, -1, -1, batch_first));
  linear1 = register_module("linear1", std::make_shared<Linear>(d_model, dim_feedforward));
  dropout = register_module("dropout", std::make_shared<Dropout>(dropout_p));
  linear2 = register_module("linear2", std::make_shared<Linear>(dim_feedforward, d_model));
  norm1 = register_module("norm1", std::make_shared<LayerNorm>(d_model, layer_norm_eps));
  norm2 = register_module("norm2", std::make_shared<LayerNorm>(d_model, layer_norm_eps));
  dropout1 = register_module("dropout1", std::make_shared<Dropout>(dropout_p));
  dropout2 = register_module("dropout2", std::make_shared<Dropout>(dropout_p));
}

Tensor TransformerEncoderLayer::forward(const Tensor& src, const Tensor& src_mask, const Tensor& src_key_padding_mask) {
  auto sa_block = [&](const Tensor& x) {
    return dropout1->forward(self_attn->forward(x, x, x, src_key_padding_mask, false, src_mask).first);
  };
  auto ff_block = [&](const Tensor& x) {
    Tensor h = linear1->forward(x);
    h = activation == "relu" ? relu(h) : gelu(h);
    return dropout2->forward(linear2->forward(dropout->forward(h)));
  };
  Tensor x = src;
  if (norm_first) {
    x = add(x, sa_block(norm1->forward(x)));
    x = add(x, ff_block(norm2->forward(x)));
  } else {
    x = norm1->forward(add(x, sa_block(x)));
    x = norm2->forward(add(x, ff_block(x)));
  }
  return x;
}

// ---- TransformerEncoder -----------------------------------------------------------------------------------------

TransformerEncoder::TransformerEncoder(const LayerFactory& layer_factory, int64_t num_layers,
                                       std::shared_ptr<Module> norm_) {
  GALEN_CHECK(num_layers >= 0, "TransformerEncoder: num_layers must be >= 0, got ", num_layers);
  GALEN_CHECK(static_cast<bool>(layer_factory), "TransformerEncoder: the layer factory is empty");
  layers = register_module("layers", std::make_shared<ModuleList>());
  for (int64_t i = 0; i < num_layers; ++i) {
    auto layer = layer_factory();
    GALEN_CHECK(layer != nullptr, "TransformerEncoder: the layer factory returned null for layer ", i);
    layers->push_back(layer);
  }
  if (norm_) norm = register_module("norm", std::move(norm_));
}

Tensor TransformerEncoder::forward(const Tensor& src, const Tensor& mask, const Tensor& src_key_padding_mask) {
  Tensor x = src;
  for (const auto& m : *layers) {
    // A replace_module() may have put any module here; only encoder layers take masks.
    if (auto* layer = dynamic_cast<TransformerEncoderLayer*>(m.get())) {
      x = layer->forward(x, mask, src_key_padding_mask);
    } else {
      GALEN_CHECK(!mask.defined() && !src_key_padding_mask.defined(), "TransformerEncoder: layer '", m->name(),
                  "' is not a TransformerEncoderLayer and cannot take masks");
      x = m->forward(x);
    }
  }
  return norm ? norm->forward(x) : x;
}

// ---- AttentionPooling -------------------------------------------------------------------------------------------

AttentionPooling::AttentionPooling(int64_t hidden_, int64_t attn_hidden_) : hidden(hidden_), attn_hidden(attn_hidden_) {
  GALEN_CHECK(hidden > 0 && attn_hidden > 0, "AttentionPooling: hidden and attn_hidden must be > 0, got ", hidden,
              " and ", attn_hidden);
  proj = register_module("proj", std::make_shared<Linear>(hidden, attn_hidden));
  v = register_module("v", std::make_shared<Linear>(attn_hidden, 1, false));
}

std::string AttentionPooling::extra_repr() const {
  return "hidden=" + std::to_string(hidden) + ", attn_hidden=" + std::to_string(attn_hidden);
}

std::pair<Tensor, Tensor> AttentionPooling::forward(const Tensor& h, const Tensor& lengths) {
  GALEN_CHECK(h.defined() && h.dim() == 3 && h.size(2) == hidden, "AttentionPooling: h must be (B, T, ", hidden,
              "), got ", h.defined() ? h.sizes() : Shape{});
  if (!lengths.defined()) return forward_with_padding_mask(h, Tensor());
  const int64_t B = h.size(0), T = h.size(1);
  GALEN_CHECK(
      lengths.dim() == 1 && lengths.size(0) == B && !is_floating(lengths.dtype()) && lengths.dtype() != DType::boolean,
      "AttentionPooling: lengths must be a (B) = (", B, ") integer tensor, got ", lengths.sizes(), " ",
      dtype_name(lengths.dtype()));
  const auto len = lengths.to(DType::i64).cpu().contiguous().to_vector<int64_t>();
  for (int64_t b = 0; b < B; ++b)
    GALEN_CHECK(len[b] >= 1 && len[b] <= T, "AttentionPooling: lengths[", b, "] = ", len[b], " is outside [1, T = ", T,
                "]");
  const Tensor steps = arange(T, TensorOptions(DType::i64, h.device())).unsqueeze(0);
  const Tensor pad = ge(steps, lengths.to(h.device()).to(DType::i64).unsqueeze(1));
  return forward_with_padding_mask(h, pad);
}

std::pair<Tensor, Tensor> AttentionPooling::forward_with_padding_mask(const Tensor& h, const Tensor& padding_mask) {
  GALEN_CHECK(h.defined() && h.dim() == 3 && h.size(2) == hidden, "AttentionPooling: h must be (B, T, ", hidden,
              "), got ", h.defined() ? h.sizes() : Shape{});
  const int64_t B = h.size(0), T = h.size(1);
  GALEN_CHECK(T >= 1, "AttentionPooling: need at least one time step, got h ", h.sizes());
  Tensor scores = v->forward(galen::tanh(proj->forward(h))).squeeze(2);  // (B, T)
  if (padding_mask.defined()) {
    GALEN_CHECK(padding_mask.dtype() == DType::boolean && padding_mask.sizes() == Shape({B, T}),
                "AttentionPooling: padding_mask must be (B, T) = (", B, ", ", T, ") bool, got ", padding_mask.sizes(),
                " ", dtype_name(padding_mask.dtype()));
    const Tensor pm = padding_mask.to(h.device());
    const auto all_pad = amin(pm.to(DType::i64), {1}).cpu().to_vector<int64_t>();
    for (int64_t b = 0; b < B; ++b)
      GALEN_CHECK(all_pad[b] == 0, "AttentionPooling: sequence ", b, " is all padding (no valid time step)");
    scores = masked_fill(scores, pm, -std::numeric_limits<double>::infinity());
  }
  Tensor w = softmax(scores, 1);                     // (B, T)
  Tensor pooled = sum(mul(w.unsqueeze(2), h), {1});  // (B, hidden)
  return {pooled, w};
}

}  // namespace galen::nn
