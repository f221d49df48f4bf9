// Attention: scaled_dot_product_attention (PyTorch 2's functional form), MultiheadAttention,
// TransformerEncoderLayer / TransformerEncoder (PyTorch's parameter names and layout, so a PyTorch state_dict loads
// unchanged) and AttentionPooling over time steps (for recurrent encoders). All are compositions of core ops, so
// autograd, every dtype and every device come for free; no fused kernel until a benchmark asks for one.
//
// Two mask conventions, as in PyTorch (beware, they are opposite for bool masks):
//   * scaled_dot_product_attention (PyTorch 2): bool attn_mask True = "may attend"; a float mask is added to the
//     scores.
//   * MultiheadAttention / Transformer* (torch.nn): bool attn_mask / key_padding_mask True = "may NOT attend"
//     (padding); a float mask is added to the scores.
// A query row that may attend to no key at all gets softmax over nothing but -inf: its output (and weights) are
// NaN, exactly as in PyTorch 1.13 (and PyTorch 2's math path). Callers that pad must keep at least one real key
// per row (AttentionPooling checks this and throws instead).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "galen/layers/dropout.h"
#include "galen/layers/linear.h"
#include "galen/layers/module.h"
#include "galen/layers/normalization.h"

namespace galen {

// q (..., L, E), k (..., S, E), v (..., S, Ev) with equal leading (batch) dims -> (..., L, Ev):
// softmax(q kᵀ * scale + mask) v, scale = 1/sqrt(E) unless given. attn_mask broadcasts to (..., L, S): bool (True =
// may attend) or floating (added; cast to q's dtype). is_causal masks key j > query i (top-left aligned (L, S)
// lower triangle); it may not be combined with attn_mask. dropout_p (in [0, 1)) drops attention weights whenever it
// is > 0 (pass 0 in evaluation, as with PyTorch's functional form).
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const Tensor& attn_mask = Tensor(), double dropout_p = 0.0, bool is_causal = false,
                                    std::optional<double> scale = std::nullopt);
// The same, also returning the attention weights (..., L, S) (after dropout, as PyTorch's MultiheadAttention
// returns them).
std::pair<Tensor, Tensor> scaled_dot_product_attention_with_weights(const Tensor& q, const Tensor& k, const Tensor& v,
                                                                    const Tensor& attn_mask = Tensor(),
                                                                    double dropout_p = 0.0, bool is_causal = false,
                                                                    std::optional<double> scale = std::nullopt);

}  // namespace galen

namespace galen::nn {

// torch.nn.MultiheadAttention (no add_bias_kv). Parameters: in_proj_weight (3E, E) when kdim == vdim == E, else
// q_proj_weight (E, E), k_proj_weight (E, kdim), v_proj_weight (E, vdim); in_proj_bias (3E) and out_proj.{weight,
// bias} when bias. Init as PyTorch: xavier_uniform on the input projections, zero biases, out_proj.weight as Linear.
// Shapes (batch_first = false; with batch_first the first two dims swap; unbatched inputs drop the B dim):
//   query (L, B, E), key (S, B, kdim), value (S, B, vdim)
//   key_padding_mask (B, S): bool (True = padding, ignored) or floating (added)
//   attn_mask (L, S) or (B*num_heads, L, S): bool (True = not allowed) or floating (added)
//   -> output (L, B, E), weights (B, L, S) averaged over heads or (B, num_heads, L, S), undefined unless
//      need_weights. With add_zero_attn S grows by one (a zero key/value appended), as in PyTorch.
// Dropout on the attention weights in training mode only.
class MultiheadAttention : public Module {
 public:
  MultiheadAttention(int64_t embed_dim, int64_t num_heads, double dropout = 0.0, bool bias = true,
                     bool add_zero_attn = false, int64_t kdim = -1, int64_t vdim = -1, bool batch_first = false);
  std::string name() const override { return "MultiheadAttention"; }
  std::pair<Tensor, Tensor> forward(const Tensor& query, const Tensor& key, const Tensor& value,
                                    const Tensor& key_padding_mask = Tensor(), bool need_weights = true,
                                    const Tensor& attn_mask = Tensor(), bool average_attn_weights = true);
  // Self-attention of x, output only.
  Tensor forward(const Tensor& x) override;
  void reset_parameters();

  int64_t embed_dim, num_heads, head_dim, kdim, vdim;
  double dropout;
  bool add_zero_attn, batch_first;
  bool qkv_same_embed_dim;
  Tensor in_proj_weight;                               // packed form
  Tensor q_proj_weight, k_proj_weight, v_proj_weight;  // separate form (kdim or vdim != embed_dim)
  Tensor in_proj_bias;                                 // undefined without bias
  std::shared_ptr<Linear> out_proj;

 protected:
  std::string extra_repr() const override;
};

// torch.nn.TransformerEncoderLayer: self-attention and a feed-forward block (linear1 -> activation -> dropout ->
// linear2), each with a residual connection; post-norm (norm_first = false: x = norm(x + block(x))) or pre-norm
// (x = x + block(norm(x))). activation: "relu" or "gelu" (exact). Keys: self_attn.*, linear1.*, linear2.*,
// norm1.*, norm2.*. Masks as MultiheadAttention's (src_mask = attn_mask).
class TransformerEncoderLayer : public Module {
 public:
  TransformerEncoderLayer(int64_t d_model, int64_t nhead, int64_t dim_feedforward = 2048, double dropout = 0.1,
                          const std::string& activation = "relu", double layer_norm_eps = 1e-5,
                          bool batch_first = false, bool norm_first = false);
  std::string name() const override { return "TransformerEncoderLayer"; }
  Tensor forward(const Tensor& src, const Tensor& src_mask, const Tensor& src_key_padding_mask = Tensor());
  Tensor forward(const Tensor& src) override { return forward(src, Tensor(), Tensor()); }

  std::string activation;
  bool norm_first;
  std::shared_ptr<MultiheadAttention> self_attn;
  std::shared_ptr<Linear> linear1;
  std::shared_ptr<Dropout> dropout;
  std::shared_ptr<Linear> linear2;
  std::shared_ptr<LayerNorm> norm1, norm2;
  std::shared_ptr<Dropout> dropout1, dropout2;
};

// torch.nn.TransformerEncoder: num_layers layers ("layers.0", ...) applied in turn, then an optional final norm
// ("norm"). Each layer comes from `layer_factory` (so each is initialised independently; PyTorch deep-copies one
// layer, so its layers start equal — load a state_dict to reproduce that). No nested-tensor fast path: padded
// positions are computed like any other (PyTorch's fast path zeroes them in inference).
class TransformerEncoder : public Module {
 public:
  using LayerFactory = std::function<std::shared_ptr<TransformerEncoderLayer>()>;
  TransformerEncoder(const LayerFactory& layer_factory, int64_t num_layers, std::shared_ptr<Module> norm = nullptr);
  std::string name() const override { return "TransformerEncoder"; }
  Tensor forward(const Tensor& src, const Tensor& mask, const Tensor& src_key_padding_mask = Tensor());
  Tensor forward(const Tensor& src) override { return forward(src, Tensor(), Tensor()); }

  std::shared_ptr<ModuleList> layers;
  std::shared_ptr<Module> norm;  // null when absent
};

// Additive attention pooling over time (Bahdanau-style scores, as in attention-based RNN classifiers):
//   score_t = vᵀ tanh(W h_t + b),  weights = softmax over the valid steps,  pooled = Σ_t weights_t h_t.
// h (B, T, hidden) -> pooled (B, hidden), weights (B, T) (exactly 0 on padding). Keys: proj.weight (attn_hidden,
// hidden), proj.bias, v.weight (1, attn_hidden); Linear's default init. Every sequence needs at least one valid
// step (length in [1, T], or a padding-mask row not all true), else an Error.
class AttentionPooling : public Module {
 public:
  AttentionPooling(int64_t hidden, int64_t attn_hidden);
  std::string name() const override { return "AttentionPooling"; }
  // lengths: (B) integral, the valid steps are 0 .. length-1; undefined = all T steps valid.
  std::pair<Tensor, Tensor> forward(const Tensor& h, const Tensor& lengths);
  // padding_mask: (B, T) bool, true = padding (the torch.nn key_padding_mask convention).
  std::pair<Tensor, Tensor> forward_with_padding_mask(const Tensor& h, const Tensor& padding_mask);
  Tensor forward(const Tensor& h) override { return forward(h, Tensor()).first; }

  int64_t hidden, attn_hidden;
  std::shared_ptr<Linear> proj;
  std::shared_ptr<Linear> v;

 protected:
  std::string extra_repr() const override;
};

}  // namespace galen::nn
