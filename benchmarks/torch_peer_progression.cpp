// LibTorch twin of zoo::ProgressionModel's training epoch for bench_progression (see torch_peer_progression.h).
// Written to do the same arithmetic as galen's model: same layer sizes, masks, loss and optimiser.
#include "torch_peer_progression.h"

#include <torch/torch.h>

#include <limits>

namespace galen_bench::torch_peer {

namespace {

struct TwinImpl : torch::nn::Module {
  TwinImpl(const ProgressionEpoch& d) : lstm_mode(d.lstm), attention(d.attention), skip(d.skip_feature) {
    if (lstm_mode)
      lstm = register_module("rnn", torch::nn::LSTM(torch::nn::LSTMOptions(d.F, d.hidden).batch_first(true)));
    else
      gru = register_module("rnn", torch::nn::GRU(torch::nn::GRUOptions(d.F, d.hidden).batch_first(true)));
    int64_t in = d.hidden;
    if (attention) {
      proj = register_module("proj", torch::nn::Linear(d.hidden, d.attn_hidden));
      v = register_module("v", torch::nn::Linear(torch::nn::LinearOptions(d.attn_hidden, 1).bias(false)));
      in = 2 * d.hidden;
    }
    drop = register_module("drop", torch::nn::Dropout(d.head_dropout));
    risk = register_module("risk", torch::nn::Linear(in, 1));
    value = register_module("value", torch::nn::Linear(in, 1));
  }
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& x, const torch::Tensor& lengths) {
    const int64_t B = x.size(0), T = x.size(1);
    auto packed = torch::nn::utils::rnn::pack_padded_sequence(x, lengths, true, false);
    torch::nn::utils::rnn::PackedSequence po = lstm_mode ? std::get<0>(lstm->forward_with_packed_input(packed))
                                                         : std::get<0>(gru->forward_with_packed_input(packed));
    torch::Tensor h = std::get<0>(torch::nn::utils::rnn::pad_packed_sequence(po, true, 0.0, T));  // (B, T, H)
    torch::Tensor steps = torch::arange(T, torch::kInt64);
    torch::Tensor pad = steps.unsqueeze(0).ge(lengths.unsqueeze(1));  // (B, T)
    torch::Tensor feat = h;
    if (attention) {
      torch::Tensor scores = v->forward(torch::tanh(proj->forward(h))).squeeze(2);  // (B, T)
      torch::Tensor banned = steps.unsqueeze(0).gt(steps.unsqueeze(1)).unsqueeze(0).logical_or(pad.unsqueeze(1));
      torch::Tensor s =
          scores.unsqueeze(1).expand({B, T, T}).masked_fill(banned, -std::numeric_limits<float>::infinity());
      torch::Tensor w = torch::softmax(s, 2);
      feat = torch::cat({h, torch::bmm(w, h)}, 2);
    }
    feat = drop->forward(feat);
    torch::Tensor r = risk->forward(feat).squeeze(2);
    torch::Tensor val = value->forward(feat).squeeze(2) + x.select(2, skip);
    return {r.masked_fill(pad, 0.0), val.masked_fill(pad, 0.0)};
  }
  bool lstm_mode, attention;
  int64_t skip;
  torch::nn::LSTM lstm{nullptr};
  torch::nn::GRU gru{nullptr};
  torch::nn::Linear proj{nullptr}, v{nullptr}, risk{nullptr}, value{nullptr};
  torch::nn::Dropout drop{nullptr};
};

}  // namespace

std::function<void()> progression_epoch(const ProgressionEpoch& d) {
  const auto f32 = torch::kFloat32;
  torch::Tensor x = torch::from_blob(const_cast<float*>(d.x.data()), {d.B, d.T, d.F}, f32).clone();
  torch::Tensor len = torch::from_blob(const_cast<int64_t*>(d.lengths.data()), {d.B}, torch::kInt64).clone();
  torch::Tensor rt = torch::from_blob(const_cast<float*>(d.risk.data()), {d.B, d.T}, f32).clone();
  torch::Tensor nt = torch::from_blob(const_cast<float*>(d.next.data()), {d.B, d.T}, f32).clone();
  torch::Tensor rk =
      torch::from_blob(const_cast<uint8_t*>(d.risk_known.data()), {d.B, d.T}, torch::kUInt8).to(torch::kBool);
  torch::Tensor nk =
      torch::from_blob(const_cast<uint8_t*>(d.next_known.data()), {d.B, d.T}, torch::kUInt8).to(torch::kBool);
  return [d, x, len, rt, nt, rk, nk]() {
    auto model = std::make_shared<TwinImpl>(d);
    model->train();
    torch::optim::AdamW opt(model->parameters(), torch::optim::AdamWOptions(d.lr).weight_decay(d.weight_decay));
    for (int64_t s = 0; s < d.B; s += d.batch) {
      const int64_t n = std::min(d.batch, d.B - s);
      std::vector<int64_t> idx(d.order.begin() + s, d.order.begin() + s + n);
      int64_t tmax = 1;
      for (int64_t i : idx) tmax = std::max(tmax, d.lengths[static_cast<size_t>(i)]);
      torch::Tensor id = torch::tensor(idx, torch::kInt64);
      auto rows = [&](const torch::Tensor& t) { return t.index_select(0, id).narrow(1, 0, tmax); };
      auto [r, val] = model->forward(rows(x), len.index_select(0, id));
      torch::Tensor rkf = rows(rk).to(f32), nkf = rows(nk).to(f32);
      torch::Tensor bce = torch::binary_cross_entropy_with_logits(r, rows(rt), {}, {}, at::Reduction::None);
      torch::Tensor lr = (bce * rkf).sum() / rkf.sum().clamp_min(1.0);
      torch::Tensor err = val - rows(nt);
      torch::Tensor lv = (err * err * nkf).sum() / nkf.sum().clamp_min(1.0);
      torch::Tensor loss = lr + lv;
      opt.zero_grad();
      loss.backward();
      torch::nn::utils::clip_grad_norm_(model->parameters(), d.clip_norm);
      opt.step();
      (void)loss.item<float>();  // galen reads the loss too (progress)
    }
  };
}

}  // namespace galen_bench::torch_peer
