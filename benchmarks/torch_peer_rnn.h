// The LibTorch peer of bench_rnn.cpp (torch_peer_rnn.cpp), behind a torch-free
// interface like torch_peer.h: inline stubs when LibTorch is not built in.
#pragma once

#include <cstdint>
#include <functional>

namespace galen_bench::torch_peer {

#ifdef GALEN_BENCH_HAVE_TORCH
// torch::nn::LSTM (lstm = true) or GRU with `layers` layers over a (T, B, I) f32
// CPU input; forward only, or forward + backward of sum(output) (parameter
// gradients; the input needs none), the gradients dropped after each run.
std::function<void()> rnn_layer(bool lstm, int64_t T, int64_t B, int64_t I, int64_t H, int64_t layers,
                                bool backward);
#else
inline std::function<void()> rnn_layer(bool, int64_t, int64_t, int64_t, int64_t, int64_t, bool) { return {}; }
#endif

}  // namespace galen_bench::torch_peer
