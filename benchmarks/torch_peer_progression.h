// The LibTorch peer of bench_progression.cpp (torch_peer_progression.cpp), behind a torch-free interface like
// torch_peer.h: inline stubs when LibTorch is not built in.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

namespace galen_bench::torch_peer {

// One epoch's data for the progression model, as host arrays (copied by the peer).
struct ProgressionEpoch {
  int64_t B = 0, T = 0, F = 0;
  std::vector<float> x;                         // (B, T, F)
  std::vector<int64_t> lengths;                 // (B)
  std::vector<float> risk, next;                // (B, T) targets
  std::vector<uint8_t> risk_known, next_known;  // (B, T) 0/1
  std::vector<int64_t> order;                   // patient order of the epoch; batches of `batch` in this order
  int64_t batch = 32;
  int64_t hidden = 32, attn_hidden = 16, skip_feature = 7;
  bool lstm = true, attention = true;
  double lr = 1e-3, weight_decay = 1e-4, head_dropout = 0.2, clip_norm = 1.0;
};

#ifdef GALEN_BENCH_HAVE_TORCH
// One training epoch of zoo::ProgressionModel's twin in LibTorch (fresh model and AdamW per run): per batch of
// patients, rows selected and trimmed to the batch's longest sequence, torch::nn::LSTM / GRU over
// pack_padded_sequence (enforce_sorted = false), causal additive attention or last-state heads, the masked BCE + MSE
// loss, backward, clip_grad_norm_, AdamW step.
std::function<void()> progression_epoch(const ProgressionEpoch& data);
#else
inline std::function<void()> progression_epoch(const ProgressionEpoch&) { return {}; }
#endif

}  // namespace galen_bench::torch_peer
